"""Reservation hot path on one hot SKU: the service against a bare UPDATE and a select_for_update design.

Three variants, each with N threads (one Django connection per thread) hammering one stock row:

* bare     one autocommit ``UPDATE ... SET reserved = reserved + 1 WHERE on_hand - reserved >= 1``
* sfu      select_for_update, check in Python, insert reservation + ledger rows, update (Saleor/oscar order)
* service  ``inventory.services.reservation_create`` (inserts first, conditional UPDATE last)

With ``--processes N`` each variant runs in N forked processes instead (one connection each, no shared
GIL), which is closer to N single-threaded gunicorn workers.

Usage: .venv/bin/python bench/reserve.py [--threads 8 | --processes N] [--seconds 5] [--rounds 2] [--database-url URL]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import time as clock
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

if TYPE_CHECKING:  # Django models import only after django.setup()
    from inventory.models import Warehouse

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/insoles_bench"
ON_HAND = 10**9  # never runs out: every attempt must succeed


@dataclass(frozen=True)
class Target:
    warehouse: Warehouse
    sku_id: int
    stock_id: int


Op = Callable[[Target, str], bool]


def ensure_database(url: str) -> None:
    """Create the bench database if missing, through the ``postgres`` maintenance database."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql", "pgsql"):
        sys.exit(f"bench/reserve.py measures PostgreSQL row locks; it refuses to run on {parts.scheme or url!r}.")
    name = unquote(parts.path.lstrip("/"))
    with psycopg.connect(parts._replace(scheme="postgresql", path="/postgres").geturl(), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def setup_django(url: str) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ.setdefault("DJANGO_DEBUG", "1")  # only spares a secret key ...
    os.environ["DATABASE_URL"] = url
    sys.path.insert(0, str(ROOT))
    import django
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    django.setup()
    settings.DEBUG = False  # ... production runs without the debug cursor that logs every query
    if connection.vendor != "postgresql":
        sys.exit(f"bench/reserve.py needs PostgreSQL, not {connection.vendor}.")
    call_command("migrate", verbosity=0)


def make_target() -> Target:
    from inventory.models import Product, Size, Sku, StockLevel, Warehouse

    product, _ = Product.objects.get_or_create(code="BENCH", defaults={"name": "Bench insole"})
    size, _ = Size.objects.get_or_create(system="EU", label="42", defaults={"sort_order": 42})
    sku, _ = Sku.objects.get_or_create(code="BENCH-EU42", defaults={"product": product, "size": size, "weight_g": 120})
    warehouse, _ = Warehouse.objects.get_or_create(
        code="BENCH", defaults={"name": "Bench", "country": "NL", "express_cutoff": clock(15)}
    )
    level, _ = StockLevel.objects.get_or_create(sku=sku, warehouse=warehouse)
    StockLevel.objects.filter(pk=level.pk).update(on_hand=ON_HAND, reserved=0)
    return Target(warehouse=warehouse, sku_id=sku.pk, stock_id=level.pk)


def reset(target: Target) -> None:
    """Empty the reservations and the ledger (TRUNCATE passes the append-only trigger), zero reserved, vacuum."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE inventory_reservation, inventory_stockmovement")
        cursor.execute("UPDATE inventory_stocklevel SET reserved = 0 WHERE id = %s", [target.stock_id])
        cursor.execute("VACUUM ANALYZE inventory_stocklevel, inventory_reservation, inventory_stockmovement")


def bare(target: Target, reference: str) -> bool:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE inventory_stocklevel SET reserved = reserved + 1 WHERE id = %s AND on_hand - reserved >= 1",
            [target.stock_id],
        )
        return cursor.rowcount == 1


def select_for_update(target: Target, reference: str) -> bool:
    from django.db import transaction
    from django.db.models import F

    from inventory.models import MovementKind, Reservation, StockLevel, StockMovement

    with transaction.atomic():
        level = StockLevel.objects.select_for_update().get(pk=target.stock_id)
        if level.available < 1:
            return False
        Reservation.objects.create(stock=level, reference=reference, quantity=1)
        StockMovement.objects.create(
            kind=MovementKind.RESERVATION,
            quantity=1,
            sku_id=target.sku_id,
            warehouse=target.warehouse,
            reference=reference,
        )
        StockLevel.objects.filter(pk=level.pk).update(reserved=F("reserved") + 1)
    return True


def service(target: Target, reference: str) -> bool:
    from inventory.errors import InsufficientStock
    from inventory.services import reservation_create

    try:
        reservation_create(warehouse=target.warehouse, items=[(target.sku_id, 1)], reference=reference)
    except InsufficientStock:
        return False
    return True


def hammer(op: Op, target: Target, threads: int, seconds: float, tag: str) -> tuple[int, float]:
    """Run ``op`` from ``threads`` threads for ``seconds``; returns (successes, wall seconds)."""
    from django.db import connection

    counts = [0] * threads
    finished = [0.0] * threads
    errors: list[BaseException] = []
    clock_: dict[str, float] = {}

    def start() -> None:  # barrier action: runs once, after every thread has connected
        clock_["start"] = time.perf_counter()
        clock_["deadline"] = clock_["start"] + seconds

    barrier = threading.Barrier(threads, action=start)

    def worker(n: int) -> None:
        try:
            connection.ensure_connection()
            barrier.wait()
            i, ok, deadline = 0, 0, clock_["deadline"]
            while time.perf_counter() < deadline:
                ok += op(target, f"bench-{tag}-{n}-{i}")
                i += 1
            counts[n] = ok
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()
        finally:
            finished[n] = time.perf_counter()
            connection.close()

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    if errors:
        raise SystemExit(f"error: {tag}: {errors[0]!r}")
    return sum(counts), max(finished) - clock_["start"]


def hammer_processes(op: Op, target: Target, processes: int, seconds: float, tag: str) -> tuple[int, float]:
    """Like ``hammer``, but from ``processes`` forked processes, each with its own connection and GIL."""
    from django.db import connections

    context = multiprocessing.get_context("fork")
    connections.close_all()  # a forked child must open its own connection, never share the parent's socket
    start = context.Value("d", 0.0)

    def begin() -> None:  # barrier action: runs once, after every process has connected
        start.value = time.perf_counter()  # CLOCK_MONOTONIC: the same clock in every process

    barrier = context.Barrier(processes, action=begin)
    results = context.Queue()

    def worker(n: int) -> None:
        from django.db import connection

        try:
            connection.ensure_connection()
            barrier.wait()
            i, ok, deadline = 0, 0, start.value + seconds
            while time.perf_counter() < deadline:
                ok += op(target, f"bench-{tag}-{n}-{i}")
                i += 1
            results.put((ok, time.perf_counter(), None))
        except BaseException as exc:
            barrier.abort()
            results.put((0, time.perf_counter(), repr(exc)))
        finally:
            connection.close()

    pool = [context.Process(target=worker, args=(n,)) for n in range(processes)]
    for process in pool:
        process.start()
    outcomes = [results.get(timeout=seconds + 60) for _ in pool]
    for process in pool:
        process.join()
    errors = [error for _, _, error in outcomes if error]
    if errors:
        raise SystemExit(f"error: {tag}: {errors[0]}")
    return sum(ok for ok, _, _ in outcomes), max(finished for _, finished, _ in outcomes) - start.value


def check(target: Target, name: str, done: int, ledger: bool) -> None:
    """Correctness: reserved (and the reservation and ledger rows) must equal the successful reservations."""
    from inventory.models import Reservation, StockLevel, StockMovement

    reserved = StockLevel.objects.get(pk=target.stock_id).reserved
    rows = (Reservation.objects.count(), StockMovement.objects.count()) if ledger else (done, done)
    if (reserved, *rows) != (done, done, done):
        detail = f", reservation and ledger rows={rows}" if ledger else ""
        print(f"error: {name}: {done} reservations but reserved={reserved}{detail}", file=sys.stderr)
        raise SystemExit(1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Reservation hot path: service vs bare UPDATE vs select_for_update.")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument(
        "--processes", type=int, default=0, help="run each variant in this many processes instead of threads"
    )
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=2, help="repeat bare, sfu, service this many times; best wins")
    parser.add_argument("--warmup", type=float, default=0.5, help="seconds of warm-up per variant and round")
    parser.add_argument("--database-url", default=DEFAULT_URL)
    args = parser.parse_args(argv)

    load = os.getloadavg()[0]  # before we start: on a shared machine a high load means noisy numbers
    ensure_database(args.database_url)
    setup_django(args.database_url)
    target = make_target()
    workers, unit = (args.processes, "processes") if args.processes else (args.threads, "threads")
    drive = hammer_processes if args.processes else hammer
    variants: dict[str, tuple[Op, bool]] = {
        "bare": (bare, False),
        "select_for_update": (select_for_update, True),
        "service": (service, True),
    }
    results: dict[str, list[tuple[int, float]]] = {name: [] for name in variants}
    for round_ in range(args.rounds):
        for name, (op, ledger) in variants.items():
            reset(target)
            drive(op, target, workers, args.warmup, f"w{round_}{name[:3]}")
            reset(target)
            done, elapsed = drive(op, target, workers, args.seconds, f"r{round_}{name[:3]}")
            check(target, name, done, ledger)
            results[name].append((done, elapsed))
    reset(target)

    best = {name: max(runs, key=lambda run: run[0] / run[1]) for name, runs in results.items()}
    rate = {name: done / elapsed for name, (done, elapsed) in best.items()}
    print(f"{workers} {unit}, {args.seconds:g} s, best of {args.rounds} rounds, one hot SKU", end=", ")
    print(f"1-min load before the run {load:.2f}")
    print(f"{'variant':<18} {'reservations':>12} {'seconds':>8} {'reservations/s':>15} {'median/s':>9}")
    for name, (done, elapsed) in best.items():
        median = statistics.median(d / e for d, e in results[name])
        print(f"{name:<18} {done:>12} {elapsed:>8.2f} {rate[name]:>15.0f} {median:>9.0f}")
    print(f"service / bare = {rate['service'] / rate['bare']:.2f} (target >= 0.6)")
    print(f"service / select_for_update = {rate['service'] / rate['select_for_update']:.2f} (target >= 3)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
