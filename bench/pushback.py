"""Shopify push-back drained by Celery: 1,000 status changes -> 1,000 fulfillmentEventCreate, against a bare loop.

Setup (not timed): the bench database (created and migrated if missing; its shipping, order and
outbox rows are emptied), 250 booked Shopify shipments, each with its Shopify fulfillment id
already kept (``StorefrontFulfillment``), as after ``fulfillmentCreate``; Redis db 11 as the broker
(flushed); a fake Shopify in its own process (a threaded ``http.server`` on 127.0.0.1, HTTP/1.1
keep-alive, answering ``fulfillmentEventCreate`` as the Admin API does and recording every event);
``celery -A config worker --pool prefork --concurrency 2`` (two worker processes) with
CELERY_TASK_ALWAYS_EAGER=0, as production runs.

Timed rounds (``--rounds``, after a warm-up of 40 changes): tracking's hook
``pushback_status_changed`` for 4 statuses of each of the 250 shipments, as four polls that each
move every shipment one status on (picked up, in transit, out for delivery, delivered), each
change committed on its own; each commit queues its message; the two workers claim, send and
record them, in order per shipment (a shipment's next event waits for its previous one).
"drain" (the target's figure): the changes are written while the workers are stopped (SIGSTOP),
then the workers are let go (SIGCONT) and the timer runs until the last ``sent_at``. "live": the
workers send while the changes are written, sharing the cores with the writer. After each round
the fake's record is checked: every event once (no duplicates, none lost) and, per fulfillment,
in the order the statuses happened. CPU per push is counted per process kind (the worker and its
pool, their database backends, this process, its backend, the fake); "other processes" is what
the rest of the machine used meanwhile.

Bare baseline, same run: one ``requests.Session`` posting the same 1,000 GraphQL bodies (query,
variables, access token) to the same fake in a loop, one after the other.

Usage: .venv/bin/python bench/pushback.py [--shipments 250] [--rounds 3] [--concurrency 2]
    [--broker redis://127.0.0.1:6379/11]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DB_NAME = "insoles_bench_pushback"
APP_TASKS = "bench-pushback-tasks"  # PGAPPNAME of the workers' database backends
TOKEN = "shpat_bench_pushback"  # noqa: S105 - the fake's token
STATUSES = ("picked_up", "in_transit", "out_for_delivery", "delivered")
TARGET = 100.0  # pushes per second
ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings",
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": "bench-pushback-dummy-secret-key",
    "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
    "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB_NAME}",
    "CELERY_TASK_ALWAYS_EAGER": "0",
    "LOG_LEVEL": "WARNING",
    "SHOPIFY_ACCESS_TOKEN": TOKEN,
    "SHOPIFY_SHOP_DOMAIN": "insoles-bench.myshopify.com",
}


# --- The fake Shopify (its own process) --------------------------------------------------------
def serve_fake(port_out, stop) -> None:
    events: dict[str, list[tuple[str, str]]] = {}
    lock = threading.Lock()
    counter = [0]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            # Headers and body go out in two writes: without NODELAY, Nagle holds the body for the client's delayed ACK.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, *args) -> None:
            pass

        def _answer(self, doc: dict, status: int = 200) -> None:
            data = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            with lock:
                self._answer({"events": events, "calls": counter[0]})

        def do_DELETE(self) -> None:
            with lock:
                events.clear()
                counter[0] = 0
                self._answer({})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if self.headers.get("X-Shopify-Access-Token") != TOKEN:
                self._answer({"errors": "[API] Invalid API key or access token"}, 401)
                return
            given = body["variables"]["fulfillmentEvent"]
            with lock:
                counter[0] += 1
                events.setdefault(given["fulfillmentId"], []).append((given["status"], given["happenedAt"]))
                number = counter[0]
            event = {"id": f"gid://shopify/FulfillmentEvent/{number}", "status": given["status"]}
            self._answer(
                {
                    "data": {"fulfillmentEventCreate": {"fulfillmentEvent": event, "userErrors": []}},
                    "extensions": {"cost": {"requestedQueryCost": 10, "actualQueryCost": 10}},
                }
            )

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port_out.put(server.server_address[1])
    threading.Thread(target=server.serve_forever, daemon=True).start()
    stop.wait()
    server.shutdown()


@contextmanager
def fake_shopify():
    context = multiprocessing.get_context("fork")
    port_out, stop = context.Queue(), context.Event()
    process = context.Process(target=serve_fake, args=(port_out, stop), daemon=True)
    process.start()
    try:
        yield f"http://127.0.0.1:{port_out.get(timeout=10)}", process.pid
    finally:
        stop.set()
        process.join(timeout=5)
        if process.is_alive():
            process.kill()


# --- The service side ---------------------------------------------------------------------------
def setup_django(broker: str, admin_url: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DB_NAME)))
    os.environ.update(ENV | {"REDIS_URL": broker, "SHOPIFY_ADMIN_URL": admin_url})
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def seed(count: int, round_: int) -> list:
    """``count`` booked Shopify shipments with their fulfillment ids; every earlier row emptied."""
    import datetime as dt

    from django.db import connection

    from fulfilment.models import Order, OrderStatus
    from inventory.demo import WAREHOUSES
    from inventory.models import Warehouse
    from shipping.models import PushbackOutcome, Shipment, ShipmentStatus, StorefrontFulfillment

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE outbox_message, shipping_storefrontfulfillment, shipping_shipment, fulfilment_order CASCADE"
        )
    spec = WAREHOUSES[0]
    fields = {k: v for k, v in spec.items() if k not in ("code", "zones")}
    warehouse, _ = Warehouse.objects.update_or_create(code=spec["code"], defaults=fields)
    base = 10**6 * (round_ + 1)
    orders = Order.objects.bulk_create(
        Order(
            channel="shopify",
            shop="insoles-bench.myshopify.com",
            external_id=str(base + n),
            number=f"#{base + n}",
            status=OrderStatus.SHIPPED,
            warehouse=warehouse,
        )
        for n in range(count)
    )
    now = dt.datetime.now(dt.UTC)
    shipments = Shipment.objects.bulk_create(
        Shipment(
            order=order,
            warehouse=warehouse,
            courier="dhl_express",
            service="express",
            status=ShipmentStatus.LABEL_CREATED,
            tracking_number=str(base + n),
            booked_at=now,
        )
        for n, order in enumerate(orders)
    )
    StorefrontFulfillment.objects.bulk_create(
        StorefrontFulfillment(
            shipment=s,
            channel="shopify",
            outcome=PushbackOutcome.CREATED,
            external_fulfillment_id=f"gid://shopify/Fulfillment/{base + n}",
        )
        for n, s in enumerate(shipments)
    )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE outbox_message, shipping_shipment, shipping_storefrontfulfillment")
    return list(Shipment.objects.select_related("order").filter(pk__in=[s.pk for s in shipments]).order_by("pk"))


def write_changes(shipments) -> float:
    """Tracking's hook for every status change, each committed on its own; returns time.time() of the first."""
    import datetime as dt

    from django.db import transaction

    from shipping.services.pushback import pushback_status_changed

    happened = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)
    started = time.time()
    for k, status in enumerate(STATUSES):  # four polls, each moving every shipment one status on
        for shipment in shipments:
            with transaction.atomic():
                pushback_status_changed(shipment=shipment, status=status, happened_at=happened + dt.timedelta(hours=k))
    return started


def wait_sent(started: float, check_worker) -> tuple[int, float]:
    """Waits until every push is sent: (pushed, seconds from ``started`` to the last ``sent_at``)."""
    from django.db.models import Max

    from outbox.models import Message
    from shipping.services.pushback import SHOPIFY_EVENT

    messages = Message.objects.filter(kind=SHOPIFY_EVENT)
    deadline = time.monotonic() + 300
    while messages.exclude(status="sent").exists():
        check_worker()
        if messages.filter(status="dead").exists() or time.monotonic() > deadline:
            left = list(messages.exclude(status="sent").values_list("status", "last_error")[:5])
            raise SystemExit(f"not all pushed: {left}")
        time.sleep(0.02)
    last = messages.aggregate(last=Max("sent_at"))["last"].timestamp()
    return messages.count(), last - started


def check_fake(admin_url: str, shipments) -> list[str]:
    import requests

    record = requests.get(admin_url + "/_stats", timeout=10).json()
    problems = []
    expected = len(shipments) * len(STATUSES)
    if record["calls"] != expected:
        problems.append(f"the fake saw {record['calls']} fulfillmentEventCreate, expected {expected}")
    for fulfillment, pairs in record["events"].items():
        events = [tuple(pair) for pair in pairs]
        statuses = [status for status, _ in events]
        if len(set(events)) != len(events):
            problems.append(f"{fulfillment}: duplicate events {events}")
        if [at for _, at in events] != sorted(at for _, at in events):
            problems.append(f"{fulfillment}: out of order {statuses}")
    requests.delete(admin_url + "/_stats", timeout=10)
    return problems


def bare_loop(admin_url: str, shipments) -> float:
    """Posts per second: the same GraphQL bodies, one Session, one after the other."""
    import requests

    from shipping.services.pushback import shopify_event_status
    from shipping.storefronts.shopify import FULFILLMENT_EVENT_CREATE

    session = requests.Session()
    endpoint = admin_url + "/admin/api/2025-10/graphql.json"
    bodies = [
        json.dumps(
            {
                "query": FULFILLMENT_EVENT_CREATE,
                "variables": {
                    "fulfillmentEvent": {
                        "fulfillmentId": s.storefront_fulfillment.external_fulfillment_id,
                        "status": shopify_event_status(status),
                        "happenedAt": f"2026-12-01T{8 + k:02d}:00:00Z",
                    }
                },
            }
        )
        for s in shipments
        for k, status in enumerate(STATUSES)
    ]
    headers = {"Content-Type": "application/json", "Accept": "application/json", "X-Shopify-Access-Token": TOKEN}
    started = time.perf_counter()
    for body in bodies:
        response = session.post(endpoint, data=body, headers=headers, timeout=(3.05, 15))
        response.raise_for_status()
        response.json()
    return len(bodies) / (time.perf_counter() - started)


@contextmanager
def celery_worker(concurrency: int, log: Path):
    command = [str(ROOT / ".venv/bin/celery"), "-A", "config", "worker", "--concurrency", str(concurrency)]
    options = ["--pool", "prefork", "--loglevel", "WARNING", "--without-gossip", "--without-mingle"]
    with log.open("w") as out:
        worker = subprocess.Popen(  # noqa: S603
            [*command, *options],
            cwd=ROOT,
            env={**os.environ, "PGAPPNAME": APP_TASKS},
            stdout=out,
            stderr=subprocess.STDOUT,
            process_group=0,
        )
    try:
        yield worker
    finally:
        worker.terminate()  # warm shutdown
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)  # its own process group: the worker and its pool
            worker.wait()


CPU_KINDS = ("workers", "worker db", "client", "client db", "fake")


def cpu_snapshot(worker_pid: int, fake_pid: int) -> dict[str, dict[int, float]]:
    """CPU seconds so far per process, by kind (the Celery worker and its pool, database backends, ...)."""
    from django.db import connection

    from bench.ingest import children, cpu_seconds, machine_busy

    with connection.cursor() as cursor:
        cursor.execute("SELECT application_name, pid FROM pg_stat_activity WHERE datname = %s", [DB_NAME])
        backends = cursor.fetchall()
    return {
        "workers": cpu_seconds([worker_pid, *children(worker_pid)]),
        "worker db": cpu_seconds([pid for app, pid in backends if app == APP_TASKS]),
        "client": {0: time.process_time()},
        "client db": cpu_seconds([pid for app, pid in backends if app != APP_TASKS]),
        "fake": cpu_seconds([fake_pid]),
        "machine": {0: machine_busy()},
    }


def cpu_used(before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]) -> dict[str, float]:
    return {kind: sum(t - before[kind].get(pid, 0.0) for pid, t in after[kind].items()) for kind in after}


def flush_broker(broker: str) -> None:
    import redis

    client = redis.Redis.from_url(broker)
    try:
        client.flushdb()
    finally:
        client.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Shopify push-back through the outbox and Celery vs a bare loop.")
    parser.add_argument("--shipments", type=int, default=250, help="x 4 statuses = the status changes per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=2, help="Celery worker processes (prefork)")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/11", help="flushed at start")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    load = os.getloadavg()[0]
    log = Path(tempfile.gettempdir()) / f"bench-pushback-celery-{os.getpid()}.log"
    with fake_shopify() as (admin_url, fake_pid):
        setup_django(args.broker, admin_url)
        flush_broker(args.broker)
        print(f"{os.cpu_count()} CPUs shared by the fake Shopify, the workers, PostgreSQL and this client")
        print(f"Celery prefork pool of {args.concurrency}, broker {args.broker}; 1-min load before the run {load:.2f}")
        with celery_worker(args.concurrency, log) as worker:

            def check_worker() -> None:
                if worker.poll() is not None:
                    raise SystemExit(f"the Celery worker exited with {worker.returncode}:\n{log.read_text()[-3000:]}")

            warm = seed(10, 0)
            wait_sent(write_changes(warm), check_worker)
            check_fake(admin_url, warm)
            rates: dict[str, list[float]] = {"drain": [], "live": []}
            problems = []
            for round_ in range(1, args.rounds + 1):
                for mode in ("drain", "live"):
                    shipments = seed(args.shipments, round_)
                    before = cpu_snapshot(worker.pid, fake_pid)
                    if mode == "drain":  # the backlog is written while the workers are stopped, then let go
                        os.killpg(worker.pid, signal.SIGSTOP)
                        try:
                            write_changes(shipments)
                        finally:
                            os.killpg(worker.pid, signal.SIGCONT)
                        started = time.time()
                    else:  # the workers send while tracking writes
                        started = write_changes(shipments)
                    pushed, seconds = wait_sent(started, check_worker)
                    used = cpu_used(before, cpu_snapshot(worker.pid, fake_pid))
                    problems += check_fake(admin_url, shipments)
                    rates[mode].append(pushed / seconds)
                    per = ", ".join(f"{kind} {used[kind] / pushed * 1000:.1f}" for kind in CPU_KINDS)
                    other = used["machine"] - sum(used[kind] for kind in CPU_KINDS)
                    print(
                        f"  round {round_} {mode}: {pushed} pushed in {seconds:.2f} s = {pushed / seconds:.0f}/s; "
                        f"CPU ms per push: {per}; other processes {other / max(seconds, 0.1):.2f} cores"
                    )
        bare = bare_loop(admin_url, shipments)
        requests_bodies = len(shipments) * len(STATUSES)
        check_fake(admin_url, [])  # the bare loop's record, emptied
    median = statistics.median(rates["drain"])
    live = statistics.median(rates["live"])
    print(f"bare loop (requests, one Session, {requests_bodies} posts, one after the other): {bare:.0f}/s")
    print(
        f"push-back drained by {args.concurrency} Celery workers (backlog of {requests_bodies}): median {median:.0f}/s "
        f"= {median / bare:.2f}x the bare loop"
    )
    print(f"push-back while tracking writes the changes (same machine): median {live:.0f}/s = {live / bare:.2f}x")
    verdict = "met" if median >= TARGET else "NOT met"
    print(f"target: drained at >= {TARGET:.0f}/s: {verdict}")
    errors = [line for line in log.read_text().splitlines() if "ERROR" in line or "Traceback" in line]
    print(f"celery log: {len(errors)} error lines" + "".join(f"\n  {line[:200]}" for line in errors[:5]))
    if not errors:
        log.unlink()
    if problems:
        print("FAILED:\n  " + "\n  ".join(problems[:20]), file=sys.stderr)
        return 1
    print("duplicates: 0, lost: 0, out of order: 0")
    return 0 if median >= TARGET else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit("interrupted; the Celery worker stopped")
