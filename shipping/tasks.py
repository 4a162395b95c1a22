"""Thin Celery wrappers around shipping services (queued by shipping.services.dispatch)."""

from celery import shared_task

from shipping import services
from shipping.services import dispatch


@shared_task(acks_late=True)
def tracking_poll_task(courier: str) -> dict:
    """Poll one courier's active shipments (skipped if another run holds the courier's lock)."""
    return services.tracking_poll(courier=courier).as_dict()


@shared_task(acks_late=True)
def tracking_poll_all_task() -> list[str]:
    """Beat, every TRACKING_POLL_EVERY_SECONDS: one poll task per configured courier."""
    return dispatch.tracking_poll_fanout()
