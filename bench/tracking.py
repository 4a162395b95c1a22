"""Tracking polls: active shipments over the four couriers in the courier sandbox, polled by Celery worker processes
until every shipment has its latest event, against a bare loop of ``requests`` fetching the same tracking answers in
the same batch sizes, in the same run.

Setup (not timed): the courier sandbox in this process (real sockets, clock stopped); per courier one shipment booked
through its API and copied under new numbers (``tests.shipping.tracking_helpers.sandbox_numbers``), each moved 1 to 4
steps along (picked up .. delivered: 2 to 5 scans, DHL one fewer); the matching orders (shipped) and shipments
(label created) written with ``bulk_create`` in ``--database-url`` (emptied first). Redis db 12 is the broker and the
shared rate limit and lock store (flushed at start); courier rate limits are set far above what the sandbox serves,
so neither side waits on them (the service still asks the shared bucket in Redis, once per lease of tokens).

* bare     one loop, one ``requests.Session`` per courier: the OAuth tokens, then every tracking call in the
           courier's batch size (UPS 1, Australia Post 10, FedEx 30, DHL 50), each answer's JSON decoded and its
           events counted (the number of events the service must end with)
* service  ``celery -A config worker --concurrency N`` (``--workers``, default 2) already started and warmed up;
           the clock runs from ``shipping.services.dispatch.tracking_poll_fanout()`` (what beat calls: one task per
           courier) until the last event is stored (its ``received_at``); every shipment locked, its events inserted
           ON CONFLICT DO NOTHING, its status, order and outbox changes written, as in production. There are no
           webhook subscriptions and no storefront push-back in this run (bench/shipping.py measures that).

Checks: as many events as the bare loop counted, none twice, each shipment with exactly its courier's scans and the
status of its last one (no lost update), delivered orders moved, and a second poll stores nothing.

Usage: .venv/bin/python bench/tracking.py [--shipments 10000] [--workers 2] [--timeout 600]
    [--database-url postgres://postgres@127.0.0.1:5432/insoles_bench_tracking] [--redis-url redis://127.0.0.1:6379/12]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shipping.sandbox import SandboxServer  # noqa: E402

COURIERS = ("dhl_express", "auspost", "fedex", "ups")
NAMES = {"dhl_express": "DHL_EXPRESS", "auspost": "AUSPOST", "fedex": "FEDEX", "ups": "UPS"}
BATCH = {"dhl_express": 50, "auspost": 10, "fedex": 30, "ups": 1}
KEY, SECRET, ACCOUNT = "bench", "bench-secret", "ACC123456"
STEPS = ("label_created", "picked_up", "in_transit", "out_for_delivery", "delivered")
TARGET = 0.6


def environment(args, sandbox: SandboxServer) -> dict[str, str]:
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "bench-tracking-dummy-secret-key",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "LOG_LEVEL": "WARNING",
        "HTTP_READ_TIMEOUT": "30",
        "TRACKING_QUEUE_PREFIX": "",
    }
    for code, name in NAMES.items():
        env |= {
            f"COURIER_{name}_BASE_URL": sandbox.base_url(code),
            f"COURIER_{name}_KEY": KEY,
            f"COURIER_{name}_SECRET": SECRET,
            f"COURIER_{name}_ACCOUNT": ACCOUNT,
            f"COURIER_{name}_RATE_PER_SECOND": "100000",
            f"COURIER_{name}_BURST": "100000",
        }
    return env


def setup_django(args) -> None:
    import psycopg
    from psycopg import sql

    name = urlparse(args.database_url).path.lstrip("/")
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def reset() -> None:
    from django.db import connection

    from fulfilment.models import Order
    from outbox.models import Message
    from shipping.models import Shipment, TrackingEvent

    tables = [m._meta.db_table for m in (TrackingEvent, Shipment, Order, Message)]
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
    from config.redis import redis_client

    redis_client().flushdb()


def seed(sandbox: SandboxServer, count: int) -> dict[str, list[str]]:
    """Sandbox shipments moved 1-4 steps along, and our shipped orders with booked shipments; numbers per courier."""
    import datetime as dt

    from django.utils import timezone

    from fulfilment.models import Order, OrderStatus
    from inventory.models import Warehouse
    from shipping.models import Shipment
    from tests.shipping.tracking_helpers import sandbox_numbers

    warehouse, _ = Warehouse.objects.get_or_create(
        code="AU", defaults={"name": "Sydney", "country": "AU", "express_cutoff": dt.time(14, 0)}
    )
    numbers = {}
    start = time.time() - 3 * 86400
    for index, courier in enumerate(COURIERS):
        share = count // len(COURIERS) + (1 if index < count % len(COURIERS) else 0)
        made = sandbox_numbers(sandbox, courier, share + 1, prefix=f"B{courier[:2].upper()}")[1:]
        for i, number in enumerate(made):
            shipment = sandbox.state.find(courier, number)
            steps = 1 + i % 4
            base = start + i * 0.5
            shipment.events = [(step, base + step * 3600.0) for step in range(steps + 1)]
        numbers[courier] = made
    booked_at = timezone.now() - dt.timedelta(days=3, hours=1)
    orders = Order.objects.bulk_create(
        [
            Order(
                channel="shopify",
                shop="bench.myshopify.com",
                external_id=f"bench-{courier}-{i}",
                number=f"#{courier[:2]}{i}",
                status=OrderStatus.SHIPPED,
                warehouse=warehouse,
            )
            for courier in COURIERS
            for i in range(len(numbers[courier]))
        ],
        batch_size=2000,
    )
    rows, k = [], 0
    for courier in COURIERS:
        for i, number in enumerate(numbers[courier]):
            rows.append(
                Shipment(
                    order=orders[k],
                    warehouse=warehouse,
                    courier=courier,
                    service="express" if i % 3 == 0 else "standard",
                    status="label_created",
                    tracking_number=number,
                    booked_at=booked_at,
                    last_event_at=booked_at,
                )
            )
            k += 1
    Shipment.objects.bulk_create(rows, batch_size=2000)
    return numbers


# --- bare: a loop of requests -------------------------------------------------------------
def bare(sandbox: SandboxServer, numbers: dict[str, list[str]]) -> tuple[float, dict[tuple[str, str], int]]:
    """Fetch every tracking answer in the couriers' batch sizes; seconds, and events per (courier, number)."""
    import uuid

    import requests

    counts: dict[tuple[str, str], int] = {}
    started = time.perf_counter()
    for courier in COURIERS:
        session, base = requests.Session(), sandbox.base_url(courier)
        wanted, size = numbers[courier], BATCH[courier]
        if courier == "fedex":
            token = session.post(
                f"{base}/oauth/token",
                data={"grant_type": "client_credentials", "client_id": KEY, "client_secret": SECRET},
                timeout=30,
            ).json()["access_token"]
            session.headers["Authorization"] = f"Bearer {token}"
        elif courier == "ups":
            token = session.post(
                f"{base}/security/v1/oauth/token",
                auth=(KEY, SECRET),
                data={"grant_type": "client_credentials"},
                timeout=30,
            ).json()["access_token"]
            session.headers["Authorization"] = f"Bearer {token}"
        else:
            session.auth = (KEY, SECRET)
            session.headers["Account-Number"] = ACCOUNT
        for start in range(0, len(wanted), size):
            batch = wanted[start : start + size]
            if courier == "fedex":
                body = {
                    "includeDetailedScans": True,
                    "trackingInfo": [{"trackingNumberInfo": {"trackingNumber": n}} for n in batch],
                }
                answer = session.post(f"{base}/track/v1/trackingnumbers", json=body, timeout=30).json()
                for result in answer["output"]["completeTrackResults"]:
                    counts[(courier, result["trackingNumber"])] = len(result["trackResults"][0]["scanEvents"])
            elif courier == "ups":
                headers = {"transId": uuid.uuid4().hex, "transactionSrc": "bench"}
                answer = session.get(f"{base}/api/track/v1/details/{batch[0]}", headers=headers, timeout=30).json()
                package = answer["trackResponse"]["shipment"][0]["package"][0]
                counts[(courier, batch[0])] = len(package["activity"])
            elif courier == "auspost":
                answer = session.get(
                    f"{base}/shipping/v1/track", params={"tracking_ids": ",".join(batch)}, timeout=30
                ).json()
                for result in answer["tracking_results"]:
                    counts[(courier, result["tracking_id"])] = len(result["trackable_items"][0]["events"])
            else:
                answer = session.get(f"{base}/tracking", params={"shipmentTrackingNumber": batch}, timeout=30).json()
                for shipment in answer["shipments"]:
                    counts[(courier, shipment["shipmentTrackingNumber"])] = len(shipment["events"])
    return time.perf_counter() - started, counts


# --- the service: Celery workers ----------------------------------------------------------
@contextmanager
def celery_worker(concurrency: int, env: dict[str, str], log: Path):
    command = [str(ROOT / ".venv/bin/celery"), "-A", "config", "worker", "--concurrency", str(concurrency)]
    with log.open("w") as out:
        worker = subprocess.Popen(  # noqa: S603
            [*command, "--pool", "prefork", "--loglevel", "WARNING"],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            process_group=0,
        )
    try:
        yield worker
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()


def wait_ready(worker, concurrency: int, log: Path) -> None:
    """Until the worker answers a ping and each of its processes has run a poll (Django and connections warm)."""
    from config.celery import app
    from shipping.tasks import tracking_poll_task

    deadline = time.monotonic() + 60
    while not app.control.ping(timeout=0.5):
        if worker.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the Celery worker did not start:\n{log.read_text()[-3000:]}")
    results = [tracking_poll_task.apply_async(("ups",)) for _ in range(concurrency * 2)]
    del results  # no result backend: give them the time to run
    time.sleep(2.0)


def service(expected: int, timeout: float) -> tuple[float, int]:
    """Fan out the polls (what beat does) and wait until ``expected`` events are stored; seconds and events."""
    from django.db import connection
    from django.db.models import Max

    from shipping.models import TrackingEvent
    from shipping.services import dispatch

    started = time.time()
    dispatch.tracking_poll_fanout()
    deadline = time.monotonic() + timeout
    stored = 0
    while time.monotonic() < deadline:
        stored = TrackingEvent.objects.count()
        if stored >= expected:
            break
        time.sleep(0.1)
    connection.close()
    last = TrackingEvent.objects.aggregate(last=Max("received_at"))["last"]
    seconds = (last.timestamp() - started) if last else float("inf")
    return seconds, stored


def check(numbers: dict[str, list[str]], counts: dict[tuple[str, str], int], sandbox: SandboxServer) -> list[str]:
    from django.db import connection
    from django.db.models import Count, Max

    from fulfilment.models import Order
    from shipping.models import Shipment
    from shipping.services import tracking_poll

    problems = []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM (SELECT courier, tracking_number, code, occurred_at, count(*) FROM"
            " shipping_trackingevent GROUP BY 1, 2, 3, 4 HAVING count(*) > 1) AS twice"
        )
        if cursor.fetchone()[0]:
            problems.append("duplicate events")
    per = {
        (r["courier"], r["tracking_number"]): r
        for r in Shipment.objects.values("courier", "tracking_number", "status", "last_event_at").annotate(
            n=Count("events"), last=Max("events__occurred_at")
        )
    }
    wrong_count = wrong_status = wrong_time = 0
    for courier, wanted in numbers.items():
        for number in wanted:
            row = per[(courier, number)]
            step = sandbox.state.find(courier, number).step
            wrong_count += row["n"] != counts[(courier, number)]
            wrong_status += row["status"] != STEPS[step]
            wrong_time += row["last_event_at"] != row["last"]
    for label, n in (("event counts", wrong_count), ("statuses", wrong_status), ("last_event_at", wrong_time)):
        if n:
            problems.append(f"{n} shipments with wrong {label}")
    delivered = Shipment.objects.filter(status="delivered").count()
    if Order.objects.filter(status="delivered").count() != delivered:
        problems.append("delivered orders and delivered shipments differ")
    again = tracking_poll(courier="fedex")
    if again.events or again.changed:
        problems.append(f"a second poll stored {again.events} events")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shipments", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2, help="Celery worker processes (--concurrency)")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/insoles_bench_tracking")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12")
    args = parser.parse_args(argv)

    with SandboxServer(port=0, key=KEY, secret=SECRET, advance_every=0) as sandbox:
        env = environment(args, sandbox)
        os.environ.update(env)
        setup_django(args)
        reset()
        log = Path(tempfile.gettempdir()) / f"bench-tracking-celery-{os.getpid()}.log"
        with celery_worker(args.workers, env, log) as worker:
            wait_ready(worker, args.workers, log)  # before any shipment exists: the warm-up polls find none
            seeded = time.perf_counter()
            numbers = seed(sandbox, args.shipments)
            print(
                f"{args.shipments} shipments ({', '.join(f'{c} {len(n)}' for c, n in numbers.items())}) seeded in"
                f" {time.perf_counter() - seeded:.1f} s; {args.workers} worker processes; {os.cpu_count()} cores"
            )
            bare_seconds, counts = bare(sandbox, numbers)
            expected = sum(counts.values())
            service_seconds, stored = service(expected, args.timeout)
        calls = Counter(c["courier"] for c in sandbox.state.call_log() if "track" in c["path"])
        bare_rate, service_rate = expected / bare_seconds, stored / service_seconds
        print(f"  tracking calls at the sandbox (both runs): {dict(calls)}")
        print(f"  bare requests loop: {expected} events in {bare_seconds:.2f} s = {bare_rate:,.0f} events/s")
        print(f"  service (Celery):   {stored} events in {service_seconds:.2f} s = {service_rate:,.0f} events/s")
        ratio = service_rate / bare_rate
        print(f"  service / bare = {ratio:.2f} (target >= {TARGET})")
        problems = check(numbers, counts, sandbox) if stored == expected else [f"{expected - stored} events missing"]
        if problems:
            print("  PROBLEMS: " + "; ".join(problems))
            return 1
        print("  checks: no duplicate events, every shipment has all its scans and its last status, orders delivered")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
