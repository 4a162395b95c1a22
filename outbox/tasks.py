"""Thin Celery wrappers around outbox services."""

from celery import shared_task

from outbox import services


@shared_task(acks_late=True)
def outbox_deliver_task(message_id: int) -> str | None:
    """Send one outbox message (idempotent: a sent, dead or locked message is left alone)."""
    return services.message_deliver(message_id=message_id)


@shared_task(acks_late=True)
def outbox_sweep_task() -> int:
    """Beat: re-enqueue due messages whose task was lost (broker down at commit, worker killed)."""
    return services.outbox_sweep()
