"""Fixtures shared by the API test modules: the demo catalogue, built once per module.

Import the fixture into a test module (``from tests.inventory.fixtures import demo``); ``ledger_row``
books a ledger row at a given time.
"""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from django.db import transaction

from inventory.demo import demo_seed
from inventory.models import StockMovement


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    """The demo catalogue (4 products x 14 sizes x 3 warehouses), seeded once for the whole module.

    The seed runs inside an outer transaction that stays open for the module; each
    test's own transaction is a savepoint inside it, so what a test writes is rolled
    back after the test, and the catalogue itself after the module. That rules out
    ``transaction=True`` tests in a module that uses this fixture.
    """
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            demo_seed()
            yield
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


def ledger_row(*, kind: str, quantity: int, sku, warehouse, at: dt.datetime, reference: str = "") -> StockMovement:
    """Append one ledger row booked at ``at``: a history with known dates for the demand forecast.

    ``created_at`` is ``auto_now_add`` and the ledger refuses UPDATE on PostgreSQL, so the row is
    inserted while Django's clock reads ``at``. Only the ledger is written (no level moves): the
    forecast reads ledger aggregates, and levels are set by the test.
    """
    with mock.patch("django.utils.timezone.now", return_value=at):
        return StockMovement.objects.create(
            kind=kind, quantity=quantity, sku=sku, warehouse=warehouse, reference=reference, reason=""
        )
