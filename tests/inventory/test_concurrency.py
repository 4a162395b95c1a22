"""Concurrency claims, proven on PostgreSQL with real threads and one connection per thread."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.management import call_command
from django.db import OperationalError, connection, transaction
from django.db.models import F

from inventory import services
from inventory.errors import BelowReserved, InsufficientStock
from inventory.models import Reservation, StockLevel, StockMovement
from tests.factories import SkuFactory, WarehouseFactory

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def run_concurrently(n: int, work) -> list[str]:
    """Run ``work(i)`` in n threads released together; each returns an outcome string."""
    barrier = threading.Barrier(n)

    def one(i: int) -> str:
        try:
            barrier.wait(timeout=30)
            return work(i)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(one, range(n)))


def test_fifty_single_unit_reservations_against_twenty_units_never_oversell():
    sku, wh = SkuFactory(), WarehouseFactory()
    services.stock_receive(sku=sku, warehouse=wh, quantity=20)

    def reserve(i: int) -> str:
        try:
            services.reservation_create(warehouse=wh, items=[(sku.pk, 1)], reference=f"order:{i}")
        except InsufficientStock:
            return "short"
        return "reserved"

    outcomes = Counter(run_concurrently(50, reserve))

    assert outcomes == {"reserved": 20, "short": 30}
    level = StockLevel.objects.get(sku=sku, warehouse=wh)
    assert (level.on_hand, level.reserved) == (20, 20)
    assert Reservation.objects.filter(status="active").count() == 20
    assert StockMovement.objects.filter(kind="reservation").count() == 20
    call_command("verify_stock")


def test_multi_sku_reservations_in_opposite_orders_do_not_deadlock():
    wh = WarehouseFactory()
    skus = [SkuFactory() for _ in range(4)]
    for sku in skus:
        services.stock_receive(sku=sku, warehouse=wh, quantity=1000)
    ids = [sku.pk for sku in skus]

    def reserve(i: int) -> str:
        # Half the threads list the SKUs forwards, half backwards; plus releases and commits in between.
        items = [(sku_id, 1 + i % 3) for sku_id in (ids if i % 2 else list(reversed(ids)))]
        for round_ in range(5):
            reference = f"order:{i}:{round_}"
            try:
                services.reservation_create(warehouse=wh, items=items, reference=reference)
                if round_ % 2:
                    services.reservation_release(reference=reference)
                elif i % 3 == 0:
                    services.reservation_commit(reference=reference)
            except OperationalError as exc:  # a deadlock surfaces as OperationalError
                return f"error: {exc}"
        return "ok"

    outcomes = run_concurrently(24, reserve)

    assert outcomes == ["ok"] * 24
    call_command("verify_stock")


def test_receive_release_and_reserve_racing_keep_ledger_and_levels_in_agreement():
    wh = WarehouseFactory()
    skus = [SkuFactory() for _ in range(3)]
    for sku in skus:
        services.stock_receive(sku=sku, warehouse=wh, quantity=5)

    def churn(i: int) -> str:
        rng = random.Random(i)
        for step in range(15):
            sku = rng.choice(skus)
            action = rng.choice(["reserve", "reserve", "release", "receive", "commit", "count"])
            reference = f"t{i}:{step % 4}"
            try:
                if action == "reserve":
                    services.reservation_create(warehouse=wh, items=[(sku.pk, rng.randint(1, 3))], reference=reference)
                elif action == "release":
                    services.reservation_release(reference=reference)
                elif action == "commit":
                    services.reservation_commit(reference=reference)
                elif action == "receive":
                    services.stock_receive(sku=sku, warehouse=wh, quantity=rng.randint(1, 4))
                else:
                    level = StockLevel.objects.get(sku=sku, warehouse=wh)
                    services.stock_count(sku=sku, warehouse=wh, counted=level.on_hand)
            except (InsufficientStock, BelowReserved):
                pass  # refusals are expected here (a count read before a reservation landed)
            except Exception as exc:
                return f"{action}: {exc!r}"
        return "ok"

    assert run_concurrently(16, churn) == ["ok"] * 16
    assert services.stock_verify() == []
    for level in StockLevel.objects.all():
        assert 0 <= level.reserved <= level.on_hand


def test_reservation_inserts_its_rows_before_it_waits_for_the_stock_row_lock():
    """DESIGN.md's order: the stock row is locked by the last statements only, after the inserts."""
    sku, wh = SkuFactory(), WarehouseFactory()
    services.stock_receive(sku=sku, warehouse=wh, quantity=5)
    stock_id = StockLevel.objects.get(sku=sku, warehouse=wh).pk
    locked, release = threading.Event(), threading.Event()

    def hold_the_row() -> str:  # another transaction holds the stock row's lock, as a reservation would
        try:
            with transaction.atomic():
                StockLevel.objects.filter(pk=stock_id).update(reserved=F("reserved"))
                locked.set()
                release.wait(timeout=30)
            return "held"
        finally:
            connection.close()

    def reserve() -> str:
        try:
            assert locked.wait(timeout=30)
            services.reservation_create(warehouse=wh, items=[(sku.pk, 2)], reference="order:1")
            return "reserved"
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        holder, reserver = pool.submit(hold_the_row), pool.submit(reserve)
        try:
            tables = tables_written_while_waiting_for_a_lock(pattern="%inventory_reserve(%")
        finally:
            release.set()
        outcomes = (holder.result(timeout=30), reserver.result(timeout=30))

    # While it waited for the row lock it had already written the reservation and the ledger rows.
    assert {"inventory_reservation", "inventory_stockmovement"} <= tables
    assert outcomes == ("held", "reserved")
    level = StockLevel.objects.get(pk=stock_id)
    assert (level.on_hand, level.reserved) == (5, 2)
    call_command("verify_stock")


def tables_written_while_waiting_for_a_lock(*, pattern: str, timeout: float = 10) -> set[str]:
    """The tables a backend running a query like ``pattern`` has written to, once it waits for a lock."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                """
                SELECT c.relname
                  FROM pg_stat_activity AS a
                  JOIN pg_locks AS l ON l.pid = a.pid AND l.granted AND l.mode = 'RowExclusiveLock'
                  JOIN pg_class AS c ON c.oid = l.relation
                 WHERE a.datname = current_database() AND a.wait_event_type = 'Lock' AND a.query LIKE %s
                """,
                [pattern],
            )
            tables = {name for (name,) in cursor.fetchall()}
            if tables:
                return tables
            time.sleep(0.02)
    raise AssertionError(f"no backend running {pattern!r} waited for a lock within {timeout} s")
