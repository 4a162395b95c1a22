"""The durable outbox: every outbound call is a row written with the change that causes it.

It imports no other app of this project; all of them may use it (DESIGN.md "Layout").
"""
