"""Webhook ingest under gunicorn: signed Shopify orders/paid against a bare one-INSERT endpoint, same server.

The webhook only verifies, parses and INSERTs the delivery as pending, then kicks a drain after commit
(``fulfilment.services.dispatch.drain_kick``: a Redis SET NX, and a ``fulfilment.tasks.inbox_drain_task``
only when no drain is queued); drains take the pending deliveries oldest first, upsert the orders and allocate stock.
``--tasks worker`` (default) is the deployment shape: Redis db 14 as the broker (flushed at start),
CELERY_TASK_ALWAYS_EAGER=0, and ``nice -n 10 celery worker --pool prefork --concurrency N``
(``--worker-nice``, ``--worker-concurrency``, default 2) next to gunicorn, same environment, as make run starts it.
``--tasks eager`` processes inside the request after commit (CELERY_TASK_ALWAYS_EAGER=1, no broker).

Run 1 (throughput): distinct 1-3 line orders over 200 SKUs to AU/DE/US, posted for --seconds from
--connections client threads to /webhooks/shopify, then the same bodies to /bench/bare.
Run 2 (hot SKU): 1500 one-pair orders for one size with 500 units in one warehouse, from
--hot-connections threads, to both endpoints; then the oversell checks and ``manage.py verify_stock``.

For each webhook run: (1) the accept rate, webhooks answered 200 (status pending or processed) per second,
against bare's: "ingest / bare"; (2) then the bench polls the database until no delivery is pending (at most
--drain-timeout s) and reports the processing rate: orders processed per second from the first post until
the last delivery left pending (its ``processed_at``); then the correctness checks; only then (workers drained
and the broker queue empty, so the workers are idle) the bare run.
CPU columns: milliseconds of CPU per 200 response in the gunicorn workers, in their PostgreSQL backends, in
the Celery worker processes, in their backends (told apart by PGAPPNAME) and in this client (all share the
machine's cores); "other cores": what everything else on the machine used meanwhile. Well above 0.1 means a
shared, busy machine and noisy rates; the ratio "by CPU per order" (bare's CPU per order over the webhook's,
both counting every column, so including what the workers processed during the accept window) is less
sensitive to that.

Usage: .venv/bin/python bench/ingest.py [--seconds 10] [--connections 16] [--hot-connections 64] [--workers 4]
    [--tasks worker|eager] [--worker-concurrency 2] [--worker-nice 10] [--drain-timeout 180]
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.fulfilment.payloads import shopify_address, shopify_body, shopify_headers, shopify_line, shopify_order  # noqa: E402

DB_NAME = "insoles_bench_ingest"
BROKER = "redis://127.0.0.1:6379/14"
SECRET, SHOP = "bench-ingest-shopify-secret", "insoles-bench.myshopify.com"
WEBHOOK, BARE = "/webhooks/shopify", "/bench/bare"
APP_WEB, APP_TASKS = "bench-ingest-web", "bench-ingest-tasks"  # PGAPPNAME of gunicorn's and Celery's backends
PRODUCTS = ("ARCH", "RUN", "WORK", "THERMO")
SIZES = tuple(f"{n / 2:g}" for n in range(60, 110))  # EU 30 .. 54.5 in half sizes: 4 x 50 = 200 SKUs
PLENTY = 10**6
HOT_SKU, HOT_WAREHOUSE, HOT_UNITS, HOT_ORDERS = "HOT-EU42", "EU", 500, 1500
ADDRESSES = {  # one destination per demo warehouse's first zone
    "AU": shopify_address(),
    "DE": shopify_address(city="Berlin", province_code="BE", zip="10961", country="Germany", country_code="DE"),
    "US": shopify_address(city="Portland", province_code="OR", zip="97201", country="United States", country_code="US"),
}
ENV = {
    "DJANGO_SETTINGS_MODULE": "bench.settings",
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": "bench-ingest-dummy-secret-key",
    "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
    "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB_NAME}",
    "LOG_LEVEL": "WARNING",
    "SHOPIFY_WEBHOOK_SECRET": SECRET,
    "SHOPIFY_SHOP_DOMAIN": SHOP,
}
TASKS_ENV = {
    "worker": {"REDIS_URL": BROKER, "CELERY_TASK_ALWAYS_EAGER": "0"},
    "eager": {"REDIS_URL": "", "CELERY_TASK_ALWAYS_EAGER": "1"},
}
ACCEPTED = ("200 pending", "200 processed", "200 bare")  # a webhook is accepted once stored, processed or not
CPU_KINDS = ("web", "db", "tasks", "task db")
Post = tuple[bytes, dict[str, str]]


@dataclass
class Run:
    outcomes: Counter[str]  # "200 pending -", "200 processed reserved", "200 bare", "500 server_error -", ...
    seconds: float
    cpu: dict[str, float]  # CPU seconds: CPU_KINDS, "client", "machine" (all)
    started: float = 0.0  # time.time() of the first post
    before: dict[str, dict[int, float]] = field(default_factory=dict, repr=False)  # server CPU at the start

    @property
    def ok(self) -> int:
        return sum(n for key, n in self.outcomes.items() if key.startswith(ACCEPTED))

    @property
    def rate(self) -> float:
        return self.ok / self.seconds


@dataclass
class Drain:
    processed: int  # deliveries processed
    seconds: float  # from the first post until the last delivery left pending
    after: float  # ... of which after the last response
    cpu: dict[str, float]  # CPU seconds of CPU_KINDS from the first post until drained

    @property
    def rate(self) -> float:
        return self.processed / self.seconds


@dataclass
class Servers:
    web: int  # gunicorn master pid
    tasks: subprocess.Popen | None  # the Celery worker (main process), None with --tasks eager
    tasks_log: Path | None

    def check_tasks(self) -> None:
        if self.tasks is not None and self.tasks.poll() is not None:
            tail = self.tasks_log.read_text()[-3000:] if self.tasks_log else ""
            raise SystemExit(f"the Celery worker exited with {self.tasks.returncode}:\n{tail}")


def setup_django(tasks: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DB_NAME)))
    os.environ.update(ENV | TASKS_ENV[tasks])
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def seed() -> tuple[list[str], dict[tuple[str, str], int]]:
    """Demo warehouses and zones, 200 SKUs plus the hot one; returns the 200 codes and level ids by (sku, wh)."""
    from inventory.demo import WAREHOUSES
    from inventory.models import Product, Size, Sku, StockLevel, Warehouse, WarehouseZone

    for spec in WAREHOUSES:
        fields = {k: v for k, v in spec.items() if k not in ("code", "zones")}
        wh, _ = Warehouse.objects.update_or_create(code=spec["code"], defaults=fields)
        for zone, priority in spec["zones"].items():
            WarehouseZone.objects.update_or_create(warehouse=wh, zone=zone, defaults={"priority": priority})
    Product.objects.bulk_create([Product(code=p, name=p) for p in (*PRODUCTS, "HOT")], ignore_conflicts=True)
    new_sizes = [Size(system="EU", label=s, sort_order=int(float(s) * 10)) for s in SIZES]
    Size.objects.bulk_create(new_sizes, ignore_conflicts=True)
    products, sizes = Product.objects.in_bulk(field_name="code"), {s.label: s for s in Size.objects.filter(system="EU")}
    wanted = [(p, s) for p in PRODUCTS for s in SIZES] + [("HOT", "42")]
    new_skus = [Sku(code=f"{p}-EU{s}", product=products[p], size=sizes[s], weight_g=120) for p, s in wanted]
    Sku.objects.bulk_create(new_skus, ignore_conflicts=True)
    skus, warehouses = Sku.objects.in_bulk(field_name="code"), Warehouse.objects.in_bulk(field_name="code")
    codes = [f"{p}-EU{s}" for p, s in wanted[:-1]]
    pairs = [(c, w) for c in codes for w in ("AU", "EU", "US")] + [(HOT_SKU, HOT_WAREHOUSE)]
    new_levels = [StockLevel(sku=skus[c], warehouse=warehouses[w]) for c, w in pairs]
    StockLevel.objects.bulk_create(new_levels, ignore_conflicts=True)
    levels = StockLevel.objects.filter(sku__code__in=[*codes, HOT_SKU])
    return codes, {(c, w): pk for c, w, pk in levels.values_list("sku__code", "warehouse__code", "pk")}


def reset(stock: dict[int, int]) -> None:
    """Empty orders, inbox, reservations, ledger and the bare table; restock exactly ``stock`` (level id -> units)."""
    from django.db import connection

    from inventory.models import MovementKind, StockLevel, StockMovement

    tables = [t for t in connection.introspection.table_names() if t.startswith("fulfilment_")]
    tables += ["inventory_reservation", "inventory_stockmovement", "bareapp_baredelivery"]
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)} CASCADE")  # TRUNCATE passes the ledger's append-only trigger
        cursor.execute("UPDATE inventory_stocklevel SET on_hand = 0, reserved = 0")
        cursor.execute(
            "UPDATE inventory_stocklevel s SET on_hand = v.units"
            " FROM unnest(%s::bigint[], %s::int[]) AS v(id, units) WHERE s.id = v.id",
            [list(stock), list(stock.values())],
        )
    levels = StockLevel.objects.filter(pk__in=list(stock)).values_list("pk", "sku_id", "warehouse_id")
    StockMovement.objects.bulk_create(
        StockMovement(kind=MovementKind.RECEIPT, quantity=stock[pk], sku_id=sku, warehouse_id=wh, reference="bench")
        for pk, sku, wh in levels
    )
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {', '.join([*tables, 'inventory_stocklevel'])}")


def order_post(order_id: int, lines: list[tuple[str, int]], country: str) -> Post:
    items = [
        shopify_line(id=order_id * 10 + i, sku=sku, quantity=q, current_quantity=q, fulfillable_quantity=q)
        for i, (sku, q) in enumerate(lines)
    ]
    address = ADDRESSES[country]
    order = {"id": order_id, "name": f"#{order_id}", "order_number": order_id, "line_items": items}
    body = shopify_body(shopify_order(**order, shipping_address=address, billing_address=address))
    return body, shopify_headers(body, SECRET, shop=SHOP)


def outcome(path: str, status: int, data: bytes) -> str:
    try:
        doc = json.loads(data)
    except ValueError:
        return f"{status} unparseable"
    if path == BARE:
        return f"{status} bare" if status == 200 and "id" in doc else f"{status} {doc}"[:200]
    order = doc.get("order") or {}
    return f"{status} {doc.get('status', doc.get('code'))} {order.get('status', '-')}"


def proc_stat(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (index 1 is the parent, 11-14 utime stime cutime cstime)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def cpu_seconds(pids: Iterable[int], reaped: bool = False) -> dict[int, float]:
    """utime + stime of each process still alive (``reaped``: cutime + cstime, of its waited-for children)."""
    times: dict[int, float] = {}
    first = 13 if reaped else 11
    for pid in pids:
        if (fields := proc_stat(pid)) is not None:
            times[pid] = (int(fields[first]) + int(fields[first + 1])) / os.sysconf("SC_CLK_TCK")
    return times


def machine_busy() -> float:
    """CPU seconds all cores spent not idle since boot (/proc/stat)."""
    user, nice, system, _idle, _iowait, irq, softirq = map(int, Path("/proc/stat").read_text().split()[1:8])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def server_pids(servers: Servers) -> dict[str, list[int]]:
    """Process ids by CPU kind: gunicorn workers, Celery worker processes and the backends of each."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT application_name, pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [DB_NAME],
        )
        backends = cursor.fetchall()
        cursor.execute("SELECT pg_backend_pid()")
        (own,) = cursor.fetchone()
    tasks = [servers.tasks.pid, *children(servers.tasks.pid)] if servers.tasks is not None else []
    return {
        "web": children(servers.web),
        "db": [pid for app, pid in backends if app == APP_WEB],
        "tasks": tasks,
        "task db": [pid for app, pid in backends if app == APP_TASKS],
        "postmaster": [int(fields[1])] if (fields := proc_stat(own)) else [],
    }


def server_cpu(servers: Servers) -> dict[str, dict[int, float]]:
    pids = server_pids(servers)
    return {kind: cpu_seconds(ids, reaped=kind == "postmaster") for kind, ids in pids.items()}


def server_cpu_since(servers: Servers, before: dict[str, dict[int, float]]) -> dict[str, float]:
    """CPU seconds by kind since ``before`` (processes started since then count in full).

    Backends that exit meanwhile (Celery's Django fixup closes the connection around every task, so each
    task has its own short-lived backend) are counted through the postmaster's reaped-children CPU, minus
    what the backends we knew had used before; it goes to "task db" (to "db" without a Celery worker).
    Backends of other databases that exit meanwhile count there too.
    """
    now = server_cpu(servers)
    cpu = {kind: sum(t - before[kind].get(pid, 0.0) for pid, t in now[kind].items()) for kind in CPU_KINDS}
    exited = sum(now["postmaster"].values()) - sum(before["postmaster"].values())
    for kind in ("db", "task db"):
        exited -= sum(t for pid, t in before[kind].items() if pid not in now[kind])
    cpu["task db" if servers.tasks is not None else "db"] += max(exited, 0.0)
    return cpu


def blast(port: int, servers: Servers, path: str, posts: list[Post], connections: int, seconds: float | None) -> Run:
    """POST ``posts`` in order from ``connections`` threads until they run out (or ``seconds`` pass)."""
    counter, tallies = itertools.count(), [Counter[str]() for _ in range(connections)]
    finished, clock = [0.0] * connections, dict[str, float]()

    def start() -> None:
        clock["start"], clock["wall"] = time.perf_counter(), time.time()
        clock["deadline"] = clock["start"] + seconds if seconds else float("inf")

    barrier = threading.Barrier(connections, action=start)

    def worker(n: int) -> None:
        # Keep-alive: one connection per client thread (http.client reconnects if the server closes it).
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        barrier.wait()
        while time.perf_counter() < clock["deadline"] and (i := next(counter)) < len(posts):
            try:
                conn.request("POST", path, body=posts[i][0], headers=posts[i][1])
                response = conn.getresponse()
                tallies[n][outcome(path, response.status, response.read())] += 1
            except (OSError, http.client.HTTPException) as exc:
                tallies[n][f"error {type(exc).__name__}"] += 1
                conn.close()
        finished[n] = time.perf_counter()
        conn.close()

    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(connections)]
    before = server_cpu(servers)
    client, machine = time.process_time(), machine_busy()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    cpu = {"client": time.process_time() - client, "machine": machine_busy() - machine}
    cpu |= server_cpu_since(servers, before)
    return Run(sum(tallies, Counter()), max(finished) - clock["start"], cpu, clock["wall"], before)


def wait_drained(servers: Servers, run: Run, timeout: float) -> Drain:
    """Poll until no delivery is pending (at most ``timeout`` s after the last response)."""
    from django.db.models import Max

    from fulfilment.models import InboxDelivery

    pending = InboxDelivery.objects.filter(status=InboxDelivery.Status.PENDING)
    deadline = time.monotonic() + timeout
    while pending.exists():
        servers.check_tasks()
        if time.monotonic() > deadline:
            statuses = Counter(InboxDelivery.objects.values_list("status", flat=True))
            raise SystemExit(f"deliveries still pending {timeout:g} s after the last response: {dict(statuses)}")
        time.sleep(0.1)
    polled = time.time()
    cpu = server_cpu_since(servers, run.before)
    last = InboxDelivery.objects.aggregate(last=Max("processed_at"))["last"]
    end = last.timestamp() if last is not None else polled
    processed = InboxDelivery.objects.filter(status=InboxDelivery.Status.PROCESSED).count()
    seconds = max(end - run.started, run.seconds)
    return Drain(processed, seconds, seconds - run.seconds, cpu)


def wait_broker_idle(timeout: float = 30.0) -> str:
    """Wait until the broker holds no message, queued or unacknowledged; '' or a note if it did not happen."""
    import redis

    client = redis.Redis.from_url(BROKER)
    deadline = time.monotonic() + timeout
    try:
        while (queued := client.llen("celery")) + (unacked := client.hlen("unacked")):
            if time.monotonic() > deadline:
                return f"  note: broker not idle before bare: {queued} queued, {unacked} unacknowledged tasks"
            time.sleep(0.1)
    finally:
        client.close()
    return ""


def flush_broker() -> None:
    import redis

    client = redis.Redis.from_url(BROKER)
    try:
        client.flushdb()
    finally:
        client.close()


@contextmanager
def gunicorn(workers: int, log: Path) -> Iterator[tuple[int, int]]:
    """Serve config.wsgi (bench settings) on a free 127.0.0.1 port; yields (port, master pid); always stops it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    gunicorn = [str(ROOT / ".venv/bin/gunicorn"), "config.wsgi:application", "--bind", f"127.0.0.1:{port}"]
    # The production server settings (gunicorn.conf.py in ROOT: the slow-client-proof threaded worker),
    # without the access log, which the bare endpoint would pay for too but is not what is measured.
    options = ["--workers", str(workers), "--log-level", "warning"]
    env = {**os.environ, "PGAPPNAME": APP_WEB, "WEB_ACCESS_LOG": ""}
    with log.open("w") as out:
        server = subprocess.Popen([*gunicorn, *options], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603
    try:
        for _ in range(300):
            if server.poll() is not None:
                raise SystemExit(f"gunicorn exited with {server.returncode}:\n{log.read_text()[-3000:]}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        else:
            raise SystemExit(f"gunicorn did not answer /healthz within 30 s:\n{log.read_text()[-3000:]}")
        yield port, server.pid
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@contextmanager
def celery_worker(concurrency: int, nice: int, log: Path) -> Iterator[subprocess.Popen]:
    """Start ``celery -A config worker`` (prefork, ``concurrency`` children, at ``nice``); always stops it all."""
    command = [str(ROOT / ".venv/bin/celery"), "-A", "config", "worker", "--concurrency", str(concurrency)]
    if nice:
        command = ["nice", "-n", str(nice), *command]
    options = ["--pool", "prefork", "--loglevel", "WARNING"]
    env = {**os.environ, "PGAPPNAME": APP_TASKS}
    with log.open("w") as out:
        # Its own process group: Ctrl-C reaches only this script, which then stops the worker with a warm
        # shutdown. Not its own session: with the kernel's autogroup scheduling a new session is a new CPU
        # group, and ``nice`` only ranks processes within a group (make run keeps them in one session too).
        worker = subprocess.Popen(  # noqa: S603
            [*command, *options], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, process_group=0
        )
    try:
        yield worker
    finally:
        pool = children(worker.pid)
        worker.terminate()  # SIGTERM: warm shutdown, the pool finishes its tasks
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)  # the worker and its pool (still alive, so the group is ours)
            worker.wait()
        for pid in pool:  # a pool child the main process left behind
            try:
                if os.getpgid(pid) == worker.pid:
                    os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def table(title: str, runs: dict[str, Run], target: float, drain: Drain) -> None:
    print(title)
    row = "  {:<18} {:>6} {:>6} {:>7} {:>8} {:>18} {:>5} {:>6} {:>7} {:>6} {:>12}"
    head = ("endpoint", "posted", "200", "seconds", "200/s", "CPU ms/order: web", "db", "tasks", "task db", "client")
    print(row.format(*head, "other cores"))
    own: dict[str, float] = {}  # CPU seconds per order of server + database + workers + client
    for path, run in runs.items():
        per = {kind: run.cpu[kind] / max(run.ok, 1) for kind in (*CPU_KINDS, "client")}
        own[path] = sum(per.values())
        other = (run.cpu["machine"] - own[path] * run.ok) / run.seconds
        cells = [f"{run.seconds:.2f}", f"{run.rate:.1f}", *(f"{cpu * 1e3:.1f}" for cpu in per.values())]
        print(row.format(path, sum(run.outcomes.values()), run.ok, *cells, f"{other:.2f}"))
    ratio, by_cpu = runs[WEBHOOK].rate / runs[BARE].rate, own[BARE] / own[WEBHOOK]
    print(f"  ingest / bare = {ratio:.2f} (target >= {target}); by CPU per order {by_cpu:.2f} (same if not shared)")
    cpu = ", ".join(f"{kind} {drain.cpu[kind] / max(drain.processed, 1) * 1e3:.1f}" for kind in CPU_KINDS)
    print(
        f"  processing: {drain.processed} orders processed in {drain.seconds:.2f} s from the first post"
        f" ({drain.after:.2f} s after the last response) = {drain.rate:.1f} orders/s; CPU ms/order: {cpu}"
    )


def check_throughput(run: Run) -> list[str]:
    from fulfilment.models import InboxDelivery, Order

    deliveries = Counter(InboxDelivery.objects.values_list("status", flat=True))
    statuses = Counter(Order.objects.values_list("status", flat=True))
    problems = [] if run.ok == sum(run.outcomes.values()) else [f"run 1 responses: {dict(run.outcomes)}"]
    if deliveries != Counter({"processed": run.ok}):
        problems.append(f"run 1: {run.ok} accepted, deliveries in the database: {dict(deliveries)}")
    if not (run.ok == sum(statuses.values()) and set(statuses) == {"reserved"}):
        problems.append(f"run 1: {run.ok} accepted, orders in the database: {dict(statuses)}")
    return problems


def check_hot(hot_id: int, run: Run) -> tuple[str, list[str]]:
    """Oversell checks after the hot-SKU webhook run has drained: (summary line, problems)."""
    from django.db.models import Sum

    from fulfilment.models import InboxDelivery, Order, OrderLine
    from inventory.models import StockLevel

    level = StockLevel.objects.get(pk=hot_id)
    lines = OrderLine.objects.filter(sku__code=HOT_SKU).aggregate(units=Sum("quantity_reserved"))["units"]
    deliveries = Counter(InboxDelivery.objects.values_list("status", flat=True))
    statuses = Counter(Order.objects.values_list("status", flat=True))
    done = statuses["reserved"] + statuses["backordered"]
    verify = subprocess.run([sys.executable, "manage.py", "verify_stock"], cwd=ROOT, capture_output=True, check=False)
    summary = (
        f"  {HOT_SKU}@{HOT_WAREHOUSE}: on_hand {level.on_hand}, reserved {level.reserved}, on order lines {lines}; "
        f"orders reserved {statuses['reserved']} + backordered {statuses['backordered']} = {done} "
        f"(posted {HOT_ORDERS}); verify_stock exit {verify.returncode}"
    )
    checks = {
        f"run 2 responses: {dict(run.outcomes)}": run.ok == HOT_ORDERS,
        f"run 2: deliveries {dict(deliveries)}": deliveries == Counter({"processed": HOT_ORDERS}),
        f"run 2: reserved {level.reserved} > on_hand {level.on_hand}": level.reserved <= level.on_hand,
        f"run 2: reserved {level.reserved} but {lines} on order lines": level.reserved == lines,
        f"run 2: order statuses {dict(statuses)}": done == HOT_ORDERS == sum(statuses.values()),
        f"run 2: verify_stock: {verify.stderr.decode()[-2000:]}": verify.returncode == 0,
    }
    return summary, [problem for problem, ok in checks.items() if not ok]


def log_errors(log: Path, name: str) -> None:
    errors = [line for line in log.read_text().splitlines() if "ERROR" in line or "Traceback" in line]
    if errors:
        print(f"{name} log {log}: {len(errors)} error lines" + "".join(f"\n  {line[:200]}" for line in errors[:5]))
    else:
        print(f"{name} log: no errors")
        log.unlink()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Webhook ingest vs a bare one-INSERT endpoint under gunicorn.")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--hot-connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes (threaded)")
    parser.add_argument("--orders", type=int, default=0, help="bodies pre-built for run 1 (default: 1500 per second)")
    parser.add_argument(
        "--tasks",
        choices=("worker", "eager"),
        default="worker",
        help="worker: Celery workers on Redis db 14 process the deliveries; eager: inside the request",
    )
    parser.add_argument("--worker-concurrency", type=int, default=2, help="Celery prefork pool size")
    parser.add_argument(
        "--worker-nice", type=int, default=10, help="CPU niceness of the Celery worker, as make run starts it (0: none)"
    )
    parser.add_argument(
        "--drain-timeout", type=float, default=180.0, help="seconds to wait for no pending delivery after a run"
    )
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # like Ctrl-C: unwind, so the servers are stopped

    load = os.getloadavg()[0]  # a busy machine means noisy numbers
    setup_django(args.tasks)
    if args.tasks == "worker":
        flush_broker()
    codes, levels = seed()
    plenty = {pk: PLENTY for (code, _), pk in levels.items() if code != HOT_SKU}
    hot_id = levels[(HOT_SKU, HOT_WAREHOUSE)]
    rng = random.Random(42)
    posts = [
        order_post(10**9 + n, [(sku, rng.randint(1, 2)) for sku in rng.sample(codes, rng.randint(1, 3))], country)
        for n, country in enumerate(rng.choices(list(ADDRESSES), k=args.orders or int(args.seconds * 1500)))
    ]
    hot_posts = [order_post(2 * 10**9 + n, [(HOT_SKU, 1)], "DE") for n in range(HOT_ORDERS)]
    log, tasks_log = (
        Path(tempfile.gettempdir()) / f"bench-ingest-{name}-{os.getpid()}.log" for name in ("gunicorn", "celery")
    )
    if args.tasks == "worker":
        tasks = f"Celery worker (nice {args.worker_nice}), prefork pool of {args.worker_concurrency}, broker {BROKER}"
    else:
        tasks = "tasks eager (inside the request, after commit)"
    print(f"gunicorn: {args.workers} sync workers; {tasks}")
    print(f"{os.cpu_count()} CPUs shared by the server, the workers, PostgreSQL and this client")
    print(f"1-min load before the run {load:.2f}")
    with ExitStack() as stack:
        port, master = stack.enter_context(gunicorn(args.workers, log))
        worker = None
        if args.tasks == "worker":
            worker = stack.enter_context(celery_worker(args.worker_concurrency, args.worker_nice, tasks_log))
        servers = Servers(master, worker, tasks_log if worker else None)
        notes: list[str] = []

        def measure(
            path: str, stock: dict[int, int], bodies: list[Post], connections: int, seconds: float | None
        ) -> tuple[Run, Drain | None]:
            """Reset, post; for the webhook also wait until every delivery has left pending: (run, drain)."""
            if path == BARE and worker is not None:  # the workers idle: nothing queued or running
                notes.append(wait_broker_idle())
            reset(stock)
            run = blast(port, servers, path, bodies, connections, seconds)
            return run, wait_drained(servers, run, args.drain_timeout) if path == WEBHOOK else None

        for path in (WEBHOOK, BARE):  # warm up every worker (imports, URL resolver, DB connection, task pool)
            measure(path, plenty, posts[: 20 * args.workers], args.connections, None)
        notes.clear()
        runs, drain = {}, {}
        runs[WEBHOOK], drain[1] = measure(WEBHOOK, plenty, posts, args.connections, args.seconds)
        problems = check_throughput(runs[WEBHOOK])
        runs[BARE], _ = measure(BARE, plenty, posts, args.connections, args.seconds)

        hot_stock = {**plenty, hot_id: HOT_UNITS}
        hot = {}
        hot[WEBHOOK], drain[2] = measure(WEBHOOK, hot_stock, hot_posts, args.hot_connections, None)
        summary, hot_problems = check_hot(hot_id, hot[WEBHOOK])
        hot[BARE], _ = measure(BARE, hot_stock, hot_posts, args.hot_connections, None)
    run1 = f"{args.connections} connections, {args.seconds:g} s, distinct orders of 1-3 lines over {len(codes)} SKUs"
    table(f"run 1: throughput, {run1}, 3 warehouses, to AU/DE/US", runs, 0.6, drain[1])
    for path, run in runs.items():
        if sum(run.outcomes.values()) >= len(posts):
            print(f"  note: {path} posted all {len(posts)} pre-built bodies before {args.seconds:g} s; raise --orders")
    run2 = f"{args.hot_connections} connections, {HOT_ORDERS} one-pair orders for {HOT_SKU}"
    table(f"run 2: hot SKU, {run2} with {HOT_UNITS} units in {HOT_WAREHOUSE}", hot, 0.5, drain[2])
    print(summary)
    for note in filter(None, notes):
        print(note)
    log_errors(log, "server")
    if worker is not None:
        log_errors(tasks_log, "celery")
    if problems + hot_problems:
        print("FAILED:\n  " + "\n  ".join(problems + hot_problems), file=sys.stderr)
        return 1
    print("oversold: 0")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit("interrupted; gunicorn and the Celery worker stopped")
