"""Thin Celery wrappers around inventory services."""

import logging

from celery import shared_task

from inventory import alerts, services

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def stock_verify_task() -> int:
    """Nightly: recompute levels from the ledger and log every mismatch loudly."""
    mismatches = services.stock_verify()
    for mismatch in mismatches:
        logger.error("stock mismatch: %s", mismatch)
    return len(mismatches)


@shared_task(acks_late=True)
def stock_alerts_sweep_task() -> int:
    """Beat: re-evaluate every level's alerts (what a failed after-commit check missed); returns the changes."""
    changes = alerts.stock_alerts_sweep()
    return len(changes.opened) + len(changes.closed)


@shared_task(acks_late=True)
def stock_alerts_flush_task() -> int:
    """Queued after movements (inventory.dispatch): check every level marked since the last run."""
    from inventory import dispatch

    return dispatch.alerts_flush()
