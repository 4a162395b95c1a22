"""Thin Celery wrappers around fulfilment services."""

from celery import shared_task

from fulfilment import services


@shared_task(acks_late=True)
def backorders_sweep_task() -> int:
    """Beat safety net: fill backorders whose stock is available (e.g. if a process died after a receipt)."""
    return services.backorders_sweep()
