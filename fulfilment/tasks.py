"""Thin Celery wrappers around fulfilment services."""

from celery import shared_task

from fulfilment import services


@shared_task(acks_late=True)
def inbox_process_task(delivery_id: int) -> str | None:
    """Upsert and allocate the order of one accepted webhook delivery (idempotent: done deliveries are skipped).

    Also queued with a countdown to try a delivery again after a transient failure.
    """
    result = services.inbox_process(delivery_id=delivery_id)
    return result.delivery.status if result else None


@shared_task(acks_late=True)
def inbox_drain_task() -> int:
    """Process pending deliveries, oldest first, until none is left (kicked by webhooks; see services.dispatch)."""
    return services.inbox_drain()


@shared_task(acks_late=True)
def inbox_sweep_task() -> int:
    """Beat: drain deliveries still pending after a minute (broker outage at acceptance, worker lost mid-task)."""
    return services.inbox_sweep()


@shared_task(acks_late=True)
def backorders_sweep_task() -> int:
    """Beat safety net: fill backorders whose stock is available (e.g. if a process died after a receipt)."""
    return services.backorders_sweep()


@shared_task(acks_late=True)
def woocommerce_reconcile_task() -> dict:
    """Beat: read WooCommerce orders changed since the last run (it never retries a webhook); no-op if unset."""
    result = services.woocommerce_reconcile()
    return {"read": result.read, "accepted": result.accepted, "duplicates": result.duplicates}
