"""Bench-only baseline: one model and one endpoint that store a JSON body and nothing else."""
