"""Webhook ingest under gunicorn: signed Shopify orders/paid against a bare one-INSERT endpoint, same server.

Run 1 (throughput): distinct 1-3 line orders over 200 SKUs to AU/DE/US, posted for --seconds from
--connections client threads to /webhooks/shopify, then the same bodies to /bench/bare.
Run 2 (hot SKU): 1500 one-pair orders for one size with 500 units in one warehouse, from
--hot-connections threads, to both endpoints; then the oversell checks and ``manage.py verify_stock``.
CPU columns: milliseconds of CPU per 200 response in the gunicorn workers, in their PostgreSQL
backends and in this client (all share the machine's cores); "other cores": what everything else on
the machine used meanwhile. Well above 0.1 means a shared, busy machine and noisy rates; the ratio
"by CPU per order" (bare's CPU per order over the webhook's) is less sensitive to that.

Usage: .venv/bin/python bench/ingest.py [--seconds 10] [--connections 16] [--hot-connections 64] [--workers 4]
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
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.fulfilment.payloads import shopify_address, shopify_body, shopify_headers, shopify_line, shopify_order  # noqa: E402

DB_NAME = "insoles_bench_ingest"
SECRET, SHOP = "bench-ingest-shopify-secret", "insoles-bench.myshopify.com"
WEBHOOK, BARE = "/webhooks/shopify", "/bench/bare"
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
    "REDIS_URL": "",
    "CELERY_TASK_ALWAYS_EAGER": "1",
    "LOG_LEVEL": "WARNING",
    "SHOPIFY_WEBHOOK_SECRET": SECRET,
    "SHOPIFY_SHOP_DOMAIN": SHOP,
}
Post = tuple[bytes, dict[str, str]]


@dataclass
class Run:
    outcomes: Counter[str]  # "200 processed reserved", "200 bare", "500 server_error -", "error ConnectionResetError"
    seconds: float
    cpu: dict[str, float]  # CPU seconds: "web" (gunicorn workers), "db" (their backends), "client", "machine" (all)

    @property
    def ok(self) -> int:
        return sum(n for key, n in self.outcomes.items() if key.startswith(("200 processed", "200 bare")))

    @property
    def rate(self) -> float:
        return self.ok / self.seconds


def setup_django() -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DB_NAME)))
    os.environ.update(ENV)
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


def cpu_seconds(pids: Iterable[int]) -> dict[int, float]:
    """utime + stime of each process still alive, from /proc/PID/stat."""
    times: dict[int, float] = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        times[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return times


def machine_busy() -> float:
    """CPU seconds all cores spent not idle since boot (/proc/stat)."""
    user, nice, system, _idle, _iowait, irq, softirq = map(int, Path("/proc/stat").read_text().split()[1:8])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def server_pids(master: int) -> dict[str, list[int]]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [DB_NAME])
        backends = [pid for (pid,) in cursor.fetchall()]
    workers = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return {"web": [int(pid) for pid in workers], "db": backends}


def blast(port: int, master: int, path: str, posts: list[Post], connections: int, seconds: float | None) -> Run:
    """POST ``posts`` in order from ``connections`` threads until they run out (or ``seconds`` pass)."""
    counter, tallies = itertools.count(), [Counter[str]() for _ in range(connections)]
    finished, clock = [0.0] * connections, dict[str, float]()

    def start() -> None:
        clock["start"] = time.perf_counter()
        clock["deadline"] = clock["start"] + seconds if seconds else float("inf")

    barrier = threading.Barrier(connections, action=start)

    def worker(n: int) -> None:
        # gunicorn's sync workers close every connection, so http.client reconnects for each request.
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
    before = {kind: cpu_seconds(pids) for kind, pids in server_pids(master).items()}
    client, machine = time.process_time(), machine_busy()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    cpu = {"client": time.process_time() - client, "machine": machine_busy() - machine}
    for kind, pids in server_pids(master).items():
        cpu[kind] = sum(t - before[kind].get(pid, 0.0) for pid, t in cpu_seconds(pids).items())
    return Run(sum(tallies, Counter()), max(finished) - clock["start"], cpu)


@contextmanager
def gunicorn(workers: int, log: Path) -> Iterator[tuple[int, int]]:
    """Serve config.wsgi (bench settings) on a free 127.0.0.1 port; yields (port, master pid); always stops it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    gunicorn = [str(ROOT / ".venv/bin/gunicorn"), "config.wsgi:application", "--bind", f"127.0.0.1:{port}"]
    options = ["--workers", str(workers), "--worker-class", "sync", "--log-level", "warning"]
    with log.open("w") as out:
        server = subprocess.Popen([*gunicorn, *options], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603
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


def table(title: str, runs: dict[str, Run], target: float) -> None:
    print(title)
    row = "  {:<18} {:>6} {:>6} {:>7} {:>8} {:>18} {:>5} {:>6} {:>12}"
    print(
        row.format(
            "endpoint", "posted", "200", "seconds", "orders/s", "CPU ms/order: web", "db", "client", "other cores"
        )
    )
    own: dict[str, float] = {}  # CPU seconds per order of server + database + client
    for path, run in runs.items():
        web, db, client = (run.cpu[kind] / max(run.ok, 1) for kind in ("web", "db", "client"))
        own[path] = web + db + client
        other = (run.cpu["machine"] - own[path] * run.ok) / run.seconds
        cells = (f"{run.seconds:.2f}", f"{run.rate:.1f}", f"{web * 1e3:.1f}", f"{db * 1e3:.1f}", f"{client * 1e3:.1f}")
        print(row.format(path, sum(run.outcomes.values()), run.ok, *cells, f"{other:.2f}"))
    ratio, by_cpu = runs[WEBHOOK].rate / runs[BARE].rate, own[BARE] / own[WEBHOOK]
    print(f"  ingest / bare = {ratio:.2f} (target >= {target}); by CPU per order {by_cpu:.2f} (same if not shared)")


def check_throughput(run: Run) -> list[str]:
    from fulfilment.models import InboxDelivery, Order

    statuses = Counter(Order.objects.values_list("status", flat=True))
    problems = [] if run.ok == sum(run.outcomes.values()) else [f"run 1 responses: {dict(run.outcomes)}"]
    if not (run.ok == sum(statuses.values()) == InboxDelivery.objects.count() and set(statuses) == {"reserved"}):
        problems.append(f"run 1: {run.ok} processed, orders in the database: {dict(statuses)}")
    return problems


def check_hot(hot_id: int, run: Run) -> tuple[str, list[str]]:
    """Oversell checks after the hot-SKU webhook run: (summary line, problems)."""
    from django.db.models import Sum

    from fulfilment.models import Order, OrderLine
    from inventory.models import StockLevel

    level = StockLevel.objects.get(pk=hot_id)
    lines = OrderLine.objects.filter(sku__code=HOT_SKU).aggregate(units=Sum("quantity_reserved"))["units"]
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
        f"run 2: reserved {level.reserved} > on_hand {level.on_hand}": level.reserved <= level.on_hand,
        f"run 2: reserved {level.reserved} but {lines} on order lines": level.reserved == lines,
        f"run 2: order statuses {dict(statuses)}": done == HOT_ORDERS == sum(statuses.values()),
        f"run 2: verify_stock: {verify.stderr.decode()[-2000:]}": verify.returncode == 0,
    }
    return summary, [problem for problem, ok in checks.items() if not ok]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Webhook ingest vs a bare one-INSERT endpoint under gunicorn.")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--hot-connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--orders", type=int, default=0, help="bodies pre-built for run 1 (default: 1500 per second)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # like Ctrl-C: unwind, so gunicorn is stopped

    load = os.getloadavg()[0]  # a busy machine means noisy numbers
    setup_django()
    codes, levels = seed()
    plenty = {pk: PLENTY for (code, _), pk in levels.items() if code != HOT_SKU}
    hot_id = levels[(HOT_SKU, HOT_WAREHOUSE)]
    rng = random.Random(42)
    posts = [
        order_post(10**9 + n, [(sku, rng.randint(1, 2)) for sku in rng.sample(codes, rng.randint(1, 3))], country)
        for n, country in enumerate(rng.choices(list(ADDRESSES), k=args.orders or int(args.seconds * 1500)))
    ]
    hot_posts = [order_post(2 * 10**9 + n, [(HOT_SKU, 1)], "DE") for n in range(HOT_ORDERS)]
    log = Path(tempfile.gettempdir()) / f"bench-ingest-gunicorn-{os.getpid()}.log"
    print(
        f"gunicorn: {args.workers} sync workers; {os.cpu_count()} CPUs shared by the server, PostgreSQL and this client"
    )
    print(f"1-min load before the run {load:.2f}")
    with gunicorn(args.workers, log) as (port, master):

        def measure(
            path: str, stock: dict[int, int], bodies: list[Post], connections: int, seconds: float | None
        ) -> Run:
            reset(stock)
            return blast(port, master, path, bodies, connections, seconds)

        for path in (WEBHOOK, BARE):  # warm up every worker (imports, URL resolver, DB connection)
            measure(path, plenty, posts[: 20 * args.workers], args.connections, None)
        runs = {WEBHOOK: measure(WEBHOOK, plenty, posts, args.connections, args.seconds)}
        problems = check_throughput(runs[WEBHOOK])
        runs[BARE] = measure(BARE, plenty, posts, args.connections, args.seconds)
        run1 = (
            f"{args.connections} connections, {args.seconds:g} s, distinct orders of 1-3 lines over {len(codes)} SKUs"
        )
        table(f"run 1: throughput, {run1}, 3 warehouses, to AU/DE/US", runs, 0.6)
        if sum(runs[BARE].outcomes.values()) >= len(posts):
            print(f"  note: all {len(posts)} pre-built bodies were posted before {args.seconds:g} s; raise --orders")

        hot_stock = {**plenty, hot_id: HOT_UNITS}
        hot = {WEBHOOK: measure(WEBHOOK, hot_stock, hot_posts, args.hot_connections, None)}
        summary, hot_problems = check_hot(hot_id, hot[WEBHOOK])
        hot[BARE] = measure(BARE, hot_stock, hot_posts, args.hot_connections, None)
    run2 = f"{args.hot_connections} connections, {HOT_ORDERS} one-pair orders for {HOT_SKU}"
    table(f"run 2: hot SKU, {run2} with {HOT_UNITS} units in {HOT_WAREHOUSE}", hot, 0.5)
    print(summary)
    errors = [line for line in log.read_text().splitlines() if "ERROR" in line or "Traceback" in line]
    if errors:
        print(f"server log {log}: {len(errors)} error lines" + "".join(f"\n  {line[:200]}" for line in errors[:5]))
    else:
        print("server log: no errors")
        log.unlink()
    if problems + hot_problems:
        print("FAILED:\n  " + "\n  ".join(problems + hot_problems), file=sys.stderr)
        return 1
    print("oversold: 0")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit("interrupted; gunicorn stopped")
