"""Fixtures shared by the API test modules: the demo catalogue, built once per module.

Import the fixture into a test module (``from tests.inventory.fixtures import demo``).
"""

from __future__ import annotations

import pytest
from django.db import transaction

from inventory.demo import demo_seed


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
