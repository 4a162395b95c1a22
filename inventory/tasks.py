"""Thin Celery wrappers around inventory services."""

import logging

from celery import shared_task

from inventory import services

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def stock_verify_task() -> int:
    """Nightly: recompute levels from the ledger and log every mismatch loudly."""
    mismatches = services.stock_verify()
    for mismatch in mismatches:
        logger.error("stock mismatch: %s", mismatch)
    return len(mismatches)
