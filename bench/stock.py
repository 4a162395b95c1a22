"""Stock reads under gunicorn: the list, one product's grid and the cover of every SKU, against bare SELECTs.

Setup (not timed, printed): the bench database (created and migrated if missing), the demo's three
warehouses, 100 products x 20 EU sizes = 2,000 SKUs, a stock level for each SKU in each warehouse
(6,000), and 1,000,000 ledger rows over the last 90 days, written with COPY in time order (the id
orders the ledger by time). Reservations are 45% of the rows and releases 5%, so every level has
demand; the rest are receipts and shipments. Skipped when the database already holds exactly that
(``--reseed`` forces it; TRUNCATE passes the ledger's append-only trigger).

The service is served as ``bench/ingest.py`` serves it (gunicorn, ``gunicorn.conf.py``'s threaded worker,
``--workers`` processes, no access log) and read by one client over one keep-alive connection with an
operations token, one request at a time. Each request is followed by its bare query: the same rows and
columns as one SELECT through psycopg (autocommit, one connection, opened before timing), so both see the
machine in the same state. Variants:

* list: ``GET /api/stock/?page_size=100`` cycling over pages 1-60, ``warehouse=``, ``product=``,
  ``out_of_stock=true`` and a page past the first of a filtered list; bare: the page's SELECT with the
  same joins, filter, ORDER BY and LIMIT/OFFSET (without DRF's COUNT, which the API also runs).
* grid: ``GET /api/stock/grid/?product=CODE`` for one product (20 sizes x 3 warehouses); bare: its
  levels' on_hand and reserved with the demand of 7, 28 and 90 days and the first movement, one SELECT.
* cover: ``GET /api/stock/cover/?page_size=500``, every page read (12 for 6,000 levels) and their
  times summed, and all levels in one ``?page_size=10000`` (the cover endpoint's largest page); bare:
  the same demand SELECT for all 6,000 levels once (the window summed per level in one GROUP BY, as
  the selector does). The first page alone is printed too: the selector computes every level's cover
  for each page.

* alert check: in this process, one stock movement (``stock_adjust`` by +1 then -1, alternately, on
  a level with 1/6000 of the ledger's rows) three ways, interleaved: with the stock-changed hooks
  off, with the alert check run inline after commit (embedded mode), and in worker mode (the
  movement marks the level in Redis and queues one debounced check: ``inventory.dispatch``);
  printed: each, the extra time per movement (ms) and the ratio, and the check alone. The movements
  carry the reference ``bench-alert`` and are left out of the seed check.
* ``/ops/``: ``GET /ops/?product=CODE`` with an operations user's session cookie (the dashboard with
  every panel, after the alert sweep opened the bench data's alerts); bare: the grid's demand SELECT
  for that product, its heaviest query.

Printed: p50 and p95 in ms of each and the ratio to bare (p95 over p95, p50 over p50), with the targets
of issue 11.

Usage: .venv/bin/python bench/stock.py [--requests 300] [--cover-rounds 5] [--workers 2] [--reseed]
    [--database-url postgres://postgres@127.0.0.1:5432/insoles_bench_stock]
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import io
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.ingest import gunicorn  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/insoles_bench_stock"
PRODUCTS = tuple(f"P{n:03d}" for n in range(100))
SIZES = tuple(f"{n / 2:g}" for n in range(70, 90))  # EU 35 .. 44.5: 100 x 20 = 2,000 SKUs
WAREHOUSE_CODES = ("AU", "EU", "US")
LEDGER_ROWS, LEDGER_DAYS = 1_000_000, 90
# Ledger kinds and their share: demand (reservations net of releases) is half the ledger.
KIND_SHARE = (("reservation", 0.45), ("release", 0.05), ("shipment", 0.40), ("receipt", 0.10))
GRID_PRODUCT = "P042"
ALERT_REFERENCE = "bench-alert"  # the alert check's movements; the seed check leaves them out
PAGE_SIZE, COVER_PAGE_SIZE = 100, 500
ENV = {
    "DJANGO_SETTINGS_MODULE": "bench.settings",
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": "bench-stock-dummy-secret-key",
    "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
    "LOG_LEVEL": "WARNING",
    "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/8"),
    "CELERY_TASK_ALWAYS_EAGER": "1",
}

# The list's SELECT as the ORM writes it for StockList (selectors.stock_list, StockLevelOut's columns).
LIST_SQL = """
SELECT s.code, p.code, z.label, z.system, w.code, b.code,
       l.on_hand, l.reserved, l.on_hand - l.reserved, l.reorder_point, l.updated_at
FROM inventory_stocklevel l
JOIN inventory_sku s ON s.id = l.sku_id
JOIN inventory_product p ON p.id = s.product_id
JOIN inventory_size z ON z.id = s.size_id
JOIN inventory_warehouse w ON w.id = l.warehouse_id
LEFT JOIN inventory_bin b ON b.id = l.bin_id
WHERE {where}
ORDER BY w.code, p.code, z.sort_order, s.code
LIMIT %(limit)s OFFSET %(offset)s
"""
# Levels with their demand: what the grid and cover read (selectors.with_demand), written by hand.
DEMAND_SQL = """
SELECT l.sku_id, l.warehouse_id, l.on_hand, l.reserved, s.lead_time_days, w.code, p.code, z.sort_order, s.code,
       d.units_7d, d.units_28d, d.units_90d, f.first_at
FROM inventory_stocklevel l
JOIN inventory_sku s ON s.id = l.sku_id
JOIN inventory_product p ON p.id = s.product_id
JOIN inventory_size z ON z.id = s.size_id
JOIN inventory_warehouse w ON w.id = l.warehouse_id
CROSS JOIN LATERAL (
    SELECT coalesce(sum(m.quantity) FILTER (WHERE m.created_at >= %(now)s - interval '7 days'), 0) AS units_7d,
           coalesce(sum(m.quantity) FILTER (WHERE m.created_at >= %(now)s - interval '28 days'), 0) AS units_28d,
           coalesce(sum(m.quantity), 0) AS units_90d
    FROM inventory_stockmovement m
    WHERE m.sku_id = l.sku_id AND m.warehouse_id = l.warehouse_id AND m.kind IN ('reservation', 'release')
      AND m.created_at >= %(now)s - interval '90 days' AND m.created_at <= %(now)s
) d
CROSS JOIN LATERAL (
    SELECT min(m.created_at) AS first_at FROM inventory_stockmovement m
    WHERE m.sku_id = l.sku_id AND m.warehouse_id = l.warehouse_id AND m.created_at <= %(now)s
) f
WHERE {where}
"""


# Every level with its demand summed over the window in one pass: what cover reads (selectors._COVER_SQL).
COVER_BARE_SQL = """
SELECT l.sku_id, l.warehouse_id, l.on_hand, l.reserved, s.lead_time_days, w.code, p.code, z.sort_order, s.code,
       d.units_7d, d.units_28d, d.units_90d,
       (SELECT min(f.created_at) FROM inventory_stockmovement f
         WHERE f.sku_id = l.sku_id AND f.warehouse_id = l.warehouse_id AND f.created_at <= %(now)s)
FROM inventory_stocklevel l
JOIN inventory_sku s ON s.id = l.sku_id
JOIN inventory_product p ON p.id = s.product_id
JOIN inventory_size z ON z.id = s.size_id
JOIN inventory_warehouse w ON w.id = l.warehouse_id
LEFT JOIN (
    SELECT m.sku_id, m.warehouse_id,
           sum(m.quantity) FILTER (WHERE m.created_at >= %(now)s - interval '7 days') AS units_7d,
           sum(m.quantity) FILTER (WHERE m.created_at >= %(now)s - interval '28 days') AS units_28d,
           sum(m.quantity) AS units_90d
    FROM inventory_stockmovement m
    WHERE m.kind IN ('reservation', 'release') AND m.created_at >= %(now)s - interval '90 days'
      AND m.created_at <= %(now)s
    GROUP BY m.sku_id, m.warehouse_id
) d ON d.sku_id = l.sku_id AND d.warehouse_id = l.warehouse_id
"""
ALL_PAGE_SIZE = 10_000  # the cover endpoint's largest page: every level in one answer


@dataclass(frozen=True)
class Case:
    path: str  # the API request
    sql: str  # the bare query
    params: dict


def check_url(url: str) -> str:
    if urlsplit(url).scheme not in ("postgres", "postgresql"):
        sys.exit(f"bench/stock.py measures PostgreSQL; it refuses {url!r}")
    return url


def psycopg_url(url: str) -> str:
    return urlsplit(url)._replace(scheme="postgresql").geturl()


def setup_django(url: str) -> None:
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = unquote(parts.path.lstrip("/"))
    with psycopg.connect(parts._replace(scheme="postgresql", path="/postgres").geturl(), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    os.environ.update(ENV | {"DATABASE_URL": url})
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def seeded() -> bool:
    from inventory.models import Sku, StockLevel, StockMovement

    return (
        Sku.objects.filter(product__code__in=PRODUCTS).count() == len(PRODUCTS) * len(SIZES)
        and StockLevel.objects.count() == len(PRODUCTS) * len(SIZES) * len(WAREHOUSE_CODES)
        and StockMovement.objects.exclude(reference=ALERT_REFERENCE).count() == LEDGER_ROWS
    )


def seed(url: str, rng: random.Random) -> None:
    """Catalogue, levels and the ledger; empties the inventory and fulfilment tables first."""
    import psycopg
    from django.db import connection

    from inventory.demo import WAREHOUSES
    from inventory.models import Product, Size, Sku, StockLevel, Warehouse

    tables = [t for t in connection.introspection.table_names() if t.startswith("fulfilment_")]
    tables += ["inventory_reservation", "inventory_stockmovement", "inventory_stocklevel"]
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)} CASCADE")
    for spec in WAREHOUSES:
        fields = {k: v for k, v in spec.items() if k not in ("code", "zones")}
        Warehouse.objects.update_or_create(code=spec["code"], defaults=fields)
    Product.objects.bulk_create([Product(code=p, name=f"Insole {p}") for p in PRODUCTS], ignore_conflicts=True)
    sizes = [Size(system="EU", label=s, sort_order=int(float(s) * 10)) for s in SIZES]
    Size.objects.bulk_create(sizes, ignore_conflicts=True)
    products = Product.objects.in_bulk(field_name="code")
    size_by_label = {s.label: s for s in Size.objects.filter(system="EU", label__in=SIZES)}
    skus = [
        Sku(code=f"{p}-EU{s}", product=products[p], size=size_by_label[s], weight_g=120)
        for p in PRODUCTS
        for s in SIZES
    ]
    Sku.objects.bulk_create(skus, ignore_conflicts=True)
    sku_ids = list(Sku.objects.filter(product__code__in=PRODUCTS).values_list("pk", flat=True))
    warehouse_ids = list(Warehouse.objects.filter(code__in=WAREHOUSE_CODES).values_list("pk", flat=True))
    levels = []
    for sku in sku_ids:
        for wh in warehouse_ids:
            on_hand = rng.choice((0, 0, 3, 8, *range(20, 400, 7)))
            levels.append(
                StockLevel(
                    sku_id=sku,
                    warehouse_id=wh,
                    on_hand=on_hand,
                    reserved=rng.randint(0, on_hand // 4),
                    reorder_point=rng.choice((0, 10, 25)),
                )
            )
    StockLevel.objects.bulk_create(levels, batch_size=2000)
    pairs = [(sku, wh) for sku in sku_ids for wh in warehouse_ids]
    kinds, weights = zip(*KIND_SHARE, strict=True)
    now = dt.datetime.now(dt.UTC)
    start = now - dt.timedelta(days=LEDGER_DAYS)
    span = LEDGER_DAYS * 86400.0
    times = sorted(rng.random() * span for _ in range(LEDGER_ROWS))
    buffer = io.StringIO()
    for offset, kind in zip(times, rng.choices(kinds, weights, k=LEDGER_ROWS), strict=True):
        sku, wh = rng.choice(pairs)
        quantity = rng.randint(1, 3)
        if kind in ("release", "shipment"):
            quantity = -quantity
        elif kind == "receipt":
            quantity *= 20
        created = (start + dt.timedelta(seconds=offset)).isoformat()
        buffer.write(f"{kind}\t{quantity}\t{sku}\t{wh}\tbench-{kind[:3]}\t\t\t\\N\t{created}\n")
    columns = "kind, quantity, sku_id, warehouse_id, reference, reason, note, actor_id, created_at"
    with psycopg.connect(psycopg_url(url)) as conn:
        with conn.cursor() as cursor, cursor.copy(f"COPY inventory_stockmovement ({columns}) FROM STDIN") as copy:
            copy.write(buffer.getvalue())
        conn.commit()
    with psycopg.connect(psycopg_url(url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE inventory_stockmovement")
        conn.execute("VACUUM ANALYZE inventory_stocklevel")
        conn.execute("VACUUM ANALYZE inventory_sku")


def operations_token() -> str:
    from config.auth import token_issue

    return token_issue(username="bench-stock-ops", role="operations")


def list_cases() -> list[Case]:
    """Varied pages and filters of the stock list, each with its bare SELECT."""
    cases = []
    for page in range(1, 61):  # 6,000 levels: pages 1-60
        cases.append(Case(f"page={page}", "TRUE", {"offset": (page - 1) * PAGE_SIZE}))
    for wh in WAREHOUSE_CODES:
        for page in (1, 7, 20):
            cases.append(Case(f"warehouse={wh}&page={page}", "w.code = %(f)s", {"f": wh, "offset": (page - 1) * 100}))
    for product in PRODUCTS[::10]:
        cases.append(Case(f"product={product}", "p.code = %(f)s", {"f": product, "offset": 0}))
    cases.append(Case("out_of_stock=true", "l.on_hand <= l.reserved", {"offset": 0}))
    cases.append(
        Case("warehouse=EU&out_of_stock=false&page=3", "w.code = 'EU' AND NOT l.on_hand <= l.reserved", {"offset": 200})
    )
    return [
        Case(
            f"/api/stock/?page_size={PAGE_SIZE}&{c.path}", LIST_SQL.format(where=c.sql), c.params | {"limit": PAGE_SIZE}
        )
        for c in cases
    ]


class Client:
    """One keep-alive HTTP connection with the token; ``get`` returns the parsed JSON and the seconds it took."""

    def __init__(self, port: int, token: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"Authorization": f"Token {token}", "Accept": "application/json"}

    def get(self, path: str, *, headers: dict | None = None, raw: bool = False) -> tuple[dict | bytes, float]:
        started = time.perf_counter()
        self.conn.request("GET", path, headers=headers or self.headers)
        response = self.conn.getresponse()
        body = response.read()
        seconds = time.perf_counter() - started
        if response.status != 200:
            raise SystemExit(f"GET {path}: {response.status} {body[:500]!r}")
        return (body if raw else json.loads(body)), seconds


def bare(cursor) -> Callable[[str, dict], tuple[int, float]]:
    def run(query: str, params: dict) -> tuple[int, float]:
        started = time.perf_counter()
        cursor.execute(query, params)
        rows = cursor.fetchall()
        return len(rows), time.perf_counter() - started

    return run


def quantiles(seconds: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(seconds, n=20, method="inclusive")
    return statistics.median(seconds) * 1000, cuts[18] * 1000


def report(name: str, api: list[float], baseline: list[float], target: str) -> None:
    p50, p95 = quantiles(api)
    b50, b95 = quantiles(baseline)
    print(
        f"{name:<34} p50 {p50:8.1f} ms  p95 {p95:8.1f} ms | bare p50 {b50:7.1f} ms  p95 {b95:7.1f} ms"
        f" | ratio p50 {p50 / b50:5.1f}x  p95 {p95 / b95:5.1f}x | target {target}"
    )


def alert_check_bench(movements: int) -> None:
    """One movement three ways, interleaved: without the stock-changed hook, with the check run inline
    (embedded mode; what the worker's check costs per level), and in worker mode (the movement marks
    the level in Redis and queues one debounced check, here recorded rather than sent)."""
    from django.conf import settings
    from django.db.models import F

    from config.redis import redis_client
    from inventory import alerts, dispatch, services
    from inventory.models import StockLevel
    from inventory.tasks import stock_alerts_flush_task

    # A level whose alerts a +-1 does not change (plenty available, far above its reorder point), and
    # whose ledger holds only the seed's rows: an earlier run's movements would make its check dearer.
    level = (
        StockLevel.objects.select_related("sku", "warehouse")
        .filter(on_hand__gte=F("reserved") + 200)
        .exclude(sku__movements__reference=ALERT_REFERENCE)
        .order_by("pk")
        .first()
    )
    if level is None:
        raise SystemExit("alert check: no level with 200 available in the bench data")
    if redis_client() is None:
        raise SystemExit("alert check: worker mode needs REDIS_URL")
    hooks = list(settings.INVENTORY_STOCK_CHANGED_HOOKS)
    queued: list[float] = []
    send = stock_alerts_flush_task.apply_async
    stock_alerts_flush_task.apply_async = lambda *args, **kwargs: queued.append(kwargs.get("countdown", 0))
    modes = ("off", "inline", "worker")
    times: dict[str, list[float]] = {mode: [] for mode in modes}
    delta = 1
    try:
        for i in range(movements + 20):
            for mode in modes[i % 3 :] + modes[: i % 3]:
                settings.INVENTORY_STOCK_CHANGED_HOOKS = [] if mode == "off" else hooks
                settings.CELERY_TASK_ALWAYS_EAGER = mode != "worker"
                if mode == "worker" and i % 50 == 0:
                    redis_client().delete(dispatch.ALERTS_KICK_KEY)  # a check ran meanwhile: queue the next
                started = time.perf_counter()
                services.stock_adjust(
                    sku=level.sku,
                    warehouse=level.warehouse,
                    delta=delta,
                    reason="found" if delta > 0 else "lost",
                    reference=ALERT_REFERENCE,
                )
                seconds = time.perf_counter() - started
                delta = -delta
                if i >= 20:
                    times[mode].append(seconds)
    finally:
        settings.INVENTORY_STOCK_CHANGED_HOOKS = hooks
        settings.CELERY_TASK_ALWAYS_EAGER = True
        stock_alerts_flush_task.apply_async = send
    marked = dispatch.alerts_flush()
    check_alone = []
    for _ in range(movements):
        started = time.perf_counter()
        alerts.stock_alerts_check(stock_ids=[level.pk])
        check_alone.append(time.perf_counter() - started)
    o50, o95 = quantiles(times["off"])
    for mode, label in (("inline", "movement + check inline"), ("worker", "movement + mark (worker mode)")):
        w50, w95 = quantiles(times[mode])
        print(
            f"{label:<34} p50 {w50:8.2f} ms  p95 {w95:8.2f} ms | without p50 {o50:6.2f} ms  p95 {o95:6.2f} ms"
            f" | extra p50 {w50 - o50:5.2f} ms  p95 {w95 - o95:5.2f} ms, ratio p50 {w50 / o50:4.2f}x"
            f" | target extra < 2 ms"
        )
    c50, c95 = quantiles(check_alone)
    print(f"{'  the check alone':<34} p50 {c50:8.2f} ms  p95 {c95:8.2f} ms ({movements} calls, one level)")
    print(
        f"{'  worker mode':<34} {len(queued)} checks queued for {movements + 20} movements; the flush checked {marked}"
    )


def ops_session_cookie() -> str:
    """A logged-in operations user's session cookie (the session is in the database: gunicorn reads it)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.test import Client as DjangoClient

    user, _ = get_user_model().objects.get_or_create(username="bench-stock-dashboard")
    user.groups.add(Group.objects.get_or_create(name="operations")[0])
    django_client = DjangoClient()
    django_client.force_login(user)
    return f"sessionid={django_client.cookies['sessionid'].value}"


def cover_pages(client: Client) -> Iterator[tuple[dict, float]]:
    page = 1
    while True:
        doc, seconds = client.get(f"/api/stock/cover/?page_size={COVER_PAGE_SIZE}&page={page}")
        yield doc, seconds
        if not doc.get("next"):
            return
        page += 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Stock list, grid and cover vs bare SELECTs under gunicorn.")
    parser.add_argument("--requests", type=int, default=300, help="measured requests of the list and of the grid")
    parser.add_argument("--cover-rounds", type=int, default=5, help="times all cover pages are read")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (threaded)")
    parser.add_argument("--reseed", action="store_true", help="rebuild the data even if it is there")
    parser.add_argument("--seed", type=int, default=11)
    # Not $DATABASE_URL, as in reserve.py: the setup empties the inventory tables of the database it is given.
    parser.add_argument("--database-url", default=DEFAULT_URL)
    args = parser.parse_args(argv)
    url = check_url(args.database_url)
    rng = random.Random(args.seed)

    started = time.perf_counter()
    setup_django(url)
    if args.reseed or not seeded():
        seed(url, rng)
        what = "seeded"
    else:
        what = "reused"
    token = operations_token()
    print(
        f"setup: {time.perf_counter() - started:.1f} s ({what}: {len(PRODUCTS) * len(SIZES)} SKUs x"
        f" {len(WAREHOUSE_CODES)} warehouses, {LEDGER_ROWS:,} ledger rows over {LEDGER_DAYS} days)"
    )
    from inventory import alerts
    from inventory.models import StockAlert

    swept = time.perf_counter()
    changes = alerts.stock_alerts_sweep()
    print(
        f"alert sweep (beat safety net) over every level: {time.perf_counter() - swept:.2f} s,"
        f" {len(changes.opened)} opened, {len(changes.closed)} closed,"
        f" {StockAlert.objects.filter(closed_at__isnull=True).count()} open"
    )
    alert_check_bench(args.requests)
    cookie = ops_session_cookie()

    import psycopg
    from django.db import connections
    from django.utils import timezone

    connections.close_all()
    log = Path(tempfile.gettempdir()) / f"bench-stock-gunicorn-{os.getpid()}.log"
    print(f"gunicorn: {args.workers} threaded workers; one client, one keep-alive connection, operations token")
    with ExitStack() as stack:
        port, _master = stack.enter_context(gunicorn(args.workers, log))
        client = Client(port, token)
        db = stack.enter_context(psycopg.connect(psycopg_url(url), autocommit=True))
        run_bare = bare(db.cursor())

        cases = list_cases()
        rng.shuffle(cases)
        api_s, bare_s = [], []
        for i in range(args.requests + 20):  # the first 20 warm both up
            case = cases[i % len(cases)]
            doc, seconds = client.get(case.path)
            count, baseline = run_bare(case.sql, case.params)
            if count != len(doc["results"]):
                raise SystemExit(f"{case.path}: the API gave {len(doc['results'])} rows, the bare SELECT {count}")
            if i >= 20:
                api_s.append(seconds)
                bare_s.append(baseline)
        report("GET /api/stock/?page_size=100", api_s, bare_s, "p95 < 50 ms and <= 3x bare")

        grid_sql = DEMAND_SQL.format(where="p.code = %(product)s")
        api_s, bare_s = [], []
        for i in range(args.requests + 20):
            doc, seconds = client.get(f"/api/stock/grid/?product={GRID_PRODUCT}")
            count, baseline = run_bare(grid_sql, {"product": GRID_PRODUCT, "now": timezone.now()})
            if count != len(doc["cells"]):
                raise SystemExit(f"grid: the API gave {len(doc['cells'])} cells, the bare SELECT {count}")
            if i >= 20:
                api_s.append(seconds)
                bare_s.append(baseline)
        report(f"GET /api/stock/grid/?product={GRID_PRODUCT}", api_s, bare_s, "p95 < 50 ms and <= 3x bare")

        api_s, bare_s = [], []
        for i in range(args.requests + 20):
            page, seconds = client.get(f"/ops/?product={GRID_PRODUCT}", headers={"Cookie": cookie}, raw=True)
            _, baseline = run_bare(grid_sql, {"product": GRID_PRODUCT, "now": timezone.now()})
            if b'id="heatmap"' not in page:
                raise SystemExit(f"/ops/: no heatmap in {page[:300]!r}")
            if i >= 20:
                api_s.append(seconds)
                bare_s.append(baseline)
        report(f"GET /ops/?product={GRID_PRODUCT}", api_s, bare_s, "< 300 ms")

        all_s, first_s, one_s, bare_s = [], [], [], []
        for i in range(args.cover_rounds + 1):
            pages = list(cover_pages(client))
            count, baseline = run_bare(COVER_BARE_SQL, {"now": timezone.now()})
            whole, whole_seconds = client.get(f"/api/stock/cover/?page_size={ALL_PAGE_SIZE}")
            rows = sum(len(doc["results"]) for doc, _ in pages)
            if not (rows == count == pages[0][0]["count"] == len(whole["results"])):
                raise SystemExit(
                    f"cover: {rows} rows over {len(pages)} pages, count {pages[0][0]['count']}, bare {count},"
                    f" one page {len(whole['results'])}"
                )
            if i >= 1:
                all_s.append(sum(seconds for _, seconds in pages))
                first_s.append(pages[0][1])
                one_s.append(whole_seconds)
                bare_s.append(baseline)
        print(f"cover: {count} levels in {len(pages)} pages of {COVER_PAGE_SIZE}; {args.cover_rounds} rounds")
        report("GET /api/stock/cover/, one page", first_s, bare_s, "")
        report(f"GET /api/stock/cover/, {len(pages)} pages", all_s, bare_s, "")
        report(f"GET /api/stock/cover/?page_size={ALL_PAGE_SIZE}", one_s, bare_s, "all SKUs < 2 s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
