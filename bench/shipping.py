"""Booking shipments: POST /api/orders/{id}/ship under gunicorn, booked by real Celery workers through the
courier sandbox, against a bare loop of ``requests`` posting the same booking bodies to the same sandbox
plus bare reportlab (``labels.shipping.render_label_pdf``) rendering the same labels, in one run.

* service  N packed orders (made through the services, not timed), then ``POST /api/orders/{id}/ship``
           ``{"courier": C}`` over HTTP (gunicorn, ``gunicorn.conf.py``'s threaded worker, --web-workers,
           --clients keep-alive connections) with a warehouse token; ``celery -A config worker --pool prefork
           --concurrency W`` (default 2) books each through the outbox (lease, token from Redis, rate limit in
           Redis, the courier's HTTP call, the booking recorded, the order shipped, the stock committed).
           Timed from the first POST to the last shipment booked (its ``booked_at``). The labels are then
           fetched (``GET /api/shipments/{id}/label.pdf``, rendered from the booking) and timed apart.
* bare     W processes, each a ``requests.Session``: the same booking bodies (the adapter's body builder on
           the same BookingRequest, built outside the timing; one OAuth token fetched beforehand) posted to
           the same sandbox, each answer parsed for its tracking number, then ``render_label_pdf`` of the same
           LabelData. The sandbox is reset (shipments and calls forgotten) between the two.

The sandbox runs as its own process (``manage.py courier_sandbox``). PostgreSQL database
``insoles_bench_shipping`` (created and migrated if missing; its fulfilment, shipping, outbox and inventory
tables are emptied at the start), Redis db 13 as broker and for tokens and buckets (flushed at the start).
The couriers' shared rate limit defaults to 10 calls/s (``COURIER_<NAME>_RATE_PER_SECOND``); this bench
raises it (``--rate``, default 1000/s, burst 200) for the servers, since the bare loop has no limit. At the
end it checks exactly one live shipment (and label) per order at the sandbox and in the database, every
booking message sent and ``verify_stock`` clean.

Usage: .venv/bin/python bench/shipping.py [--orders 300] [--courier fedex|ups|dhl_express] [--workers 2]
    [--web-workers 2] [--clients 4] [--rate 1000]
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.fulfilment.payloads import (  # noqa: E402
    SHOPIFY_SECRET,
    SHOPIFY_SHOP,
    shopify_address,
    shopify_line,
    shopify_order,
    shopify_webhook,
)

DB_NAME = "insoles_bench_shipping"
BROKER = "redis://127.0.0.1:6379/13"
KEY, SECRET, ACCOUNT = "sandbox", "sandbox-secret", "ACC123456"
NAMES = {"dhl_express": "DHL_EXPRESS", "auspost": "AUSPOST", "fedex": "FEDEX", "ups": "UPS"}
# Where each courier ships from and to under the demo rules (warehouse, Shopify address fields).
ROUTES = {
    "fedex": ("US", {"country_code": "CA", "country": "Canada", "city": "Toronto", "zip": "M5V 2T6"}),
    "ups": ("US", {"country_code": "US", "country": "United States", "city": "Austin", "zip": "78701"}),
    "dhl_express": ("AU", {"country_code": "NZ", "country": "New Zealand", "city": "Auckland", "zip": "1010"}),
}
SKU_CODE = "ARCH-EU42"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_env(sandbox_port: int, rate: float) -> dict[str, str]:
    """What gunicorn and the workers run with (the bench process itself runs its setup in-process)."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "bench-shipping-dummy-secret-key",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB_NAME}",
        "REDIS_URL": BROKER,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "LOG_LEVEL": "WARNING",
        "WEB_ACCESS_LOG": "",
    }
    for code, name in NAMES.items():
        env[f"COURIER_{name}_BASE_URL"] = f"http://127.0.0.1:{sandbox_port}/{code}"
        env[f"COURIER_{name}_KEY"], env[f"COURIER_{name}_SECRET"], env[f"COURIER_{name}_ACCOUNT"] = KEY, SECRET, ACCOUNT
        env[f"COURIER_{name}_RATE_PER_SECOND"] = str(rate)
        env[f"COURIER_{name}_BURST"] = str(max(20, min(200, int(rate))))
    return env


def setup_django(env: dict[str, str]) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DB_NAME)))
    # The bench process makes the orders in-process (eager, no broker); the servers get ``env``.
    own = {k: v for k, v in env.items() if k.startswith(("COURIER_", "DJANGO_", "DATABASE_URL"))}
    os.environ.update(own | {"REDIS_URL": "", "CELERY_TASK_ALWAYS_EAGER": "1", "LOG_LEVEL": "WARNING"})
    os.environ.update({"SHOPIFY_WEBHOOK_SECRET": SHOPIFY_SECRET, "SHOPIFY_SHOP_DOMAIN": SHOPIFY_SHOP})
    env.update({"SHOPIFY_WEBHOOK_SECRET": SHOPIFY_SECRET, "SHOPIFY_SHOP_DOMAIN": SHOPIFY_SHOP})
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def seed(orders: int, courier: str) -> tuple[list[int], str]:
    """Empty the tables, then the demo warehouses, one SKU with stock, the courier rules and N packed orders."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection

    from config.auth import token_issue
    from fulfilment import services as fulfilment
    from fulfilment.models import Order
    from fulfilment.services.packing import Scan
    from tests.fulfilment.helpers import make_world

    prefixes = ("fulfilment_", "shipping_", "outbox_", "inventory_")
    tables = [t for t in connection.introspection.table_names() if t.startswith(prefixes)]
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
    warehouse, address = ROUTES[courier]
    make_world({SKU_CODE: 2 * orders + 10}, warehouses=(warehouse,))
    call_command("seed_courier_rules", verbosity=0)
    token = token_issue(username="bench-shipping-packer", role="warehouse")
    packer = get_user_model().objects.get(username="bench-shipping-packer")
    for n in range(1, orders + 1):
        line = shopify_line(id=10_000 + n, sku=SKU_CODE, quantity=2, current_quantity=2, fulfillable_quantity=2)
        payload = shopify_order(
            id=900_000 + n, name=f"#B{n}", line_items=[line], shipping_address=shopify_address(**address)
        )
        body, headers = shopify_webhook(payload, event_id=f"bench-ship-{n}")
        fulfilment.webhook_receive(channel="shopify", headers=headers, body=body)
    ids = list(Order.objects.filter(status="reserved").order_by("pk").values_list("pk", flat=True))
    if len(ids) != orders:
        raise SystemExit(f"{len(ids)} of {orders} orders reserved")
    fulfilment.wave_create(warehouse_code=warehouse, actor=packer, max_orders=orders)
    for order_id in ids:
        fulfilment.order_pack(
            order_id=order_id,
            scans=[Scan(sku=SKU_CODE, quantity=2)],
            actor=packer,
            weight_g=420,
            dimensions_cm=(30, 12, 4),
        )
    return ids, token


@contextmanager
def process(command: list[str], env: dict[str, str], log: Path, *, group: bool = False) -> Iterator[subprocess.Popen]:
    """A server subprocess, stopped (SIGTERM, then SIGKILL of its process group) however the bench ends."""
    with log.open("w") as out:
        proc = subprocess.Popen(  # noqa: S603
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, process_group=0 if group else None
        )
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL) if group else proc.kill()
            proc.wait()


def wait_http(port: int, path: str, proc: subprocess.Popen, log: Path, what: str) -> None:
    for _ in range(300):
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{what} did not answer {path} within 30 s:\n{log.read_text()[-3000:]}")


def wait_worker(log: Path, proc: subprocess.Popen) -> None:
    for _ in range(300):
        if proc.poll() is not None:
            raise SystemExit(f"the Celery worker exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        if " ready." in log.read_text(errors="replace"):
            return
        time.sleep(0.1)
    raise SystemExit(f"the Celery worker was not ready within 30 s:\n{log.read_text()[-3000:]}")


def sandbox_get(port: int, path: str) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path)
    return json.loads(conn.getresponse().read())


def sandbox_reset(port: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("POST", "/_sandbox/reset", body=b"{}", headers={"Content-Type": "application/json"})
    conn.getresponse().read()


def ship_all(port: int, token: str, ids: list[int], courier: str, clients: int) -> Counter[int]:
    """POST /ship for every order from ``clients`` keep-alive connections; the answers' status codes."""
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    body = json.dumps({"courier": courier}).encode()
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json", "Accept": "application/json"}

    def client(part: list[int]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for order_id in part:
            conn.request("POST", f"/api/orders/{order_id}/ship", body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            with lock:
                statuses[response.status] += 1
        conn.close()

    threads = [threading.Thread(target=client, args=(ids[i::clients],)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return statuses


def wait_booked(expected: int, timeout: float, worker: subprocess.Popen, log: Path) -> None:
    from django.db import connection

    from shipping.models import Shipment

    deadline = time.monotonic() + timeout
    while Shipment.objects.filter(status="booking").exists() or Shipment.objects.count() < expected:
        if worker.poll() is not None:
            raise SystemExit(f"the Celery worker exited:\n{log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            left = Shipment.objects.filter(status="booking").count()
            raise SystemExit(f"{left} shipments still booking after {timeout} s:\n{log.read_text()[-3000:]}")
        time.sleep(0.05)
    connection.close()


def fetch_labels(port: int, token: str, shipment_ids: list[int], clients: int) -> list[bytes]:
    pdfs: dict[int, bytes] = {}
    headers = {"Authorization": f"Token {token}"}

    def client(part: list[int]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for shipment_id in part:
            conn.request("GET", f"/api/shipments/{shipment_id}/label.pdf", headers=headers)
            response = conn.getresponse()
            data = response.read()
            if response.status != 200:
                raise SystemExit(f"label of shipment {shipment_id}: {response.status} {data[:300]!r}")
            pdfs[shipment_id] = data
        conn.close()

    threads = [threading.Thread(target=client, args=(shipment_ids[i::clients],)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [pdfs[i] for i in shipment_ids]


def cpu(servers: dict[str, subprocess.Popen]) -> dict[str, float]:
    """CPU seconds so far of each server (main process and children), this process and the whole machine."""
    from bench.ingest import children, cpu_seconds, machine_busy

    used = {name: sum(cpu_seconds([p.pid, *children(p.pid)]).values()) for name, p in servers.items()}
    used["bench client"] = sum(os.times()[:2])
    used["machine"] = machine_busy()
    return used


# --- the bare baseline -------------------------------------------------------------------------------
# (url, headers, body, auth) per booking and the LabelData lists: built before forking, read by the children.
_BARE: list[tuple[str, dict, dict, tuple | None, list]] = []


def bare_jobs(courier: str, shipment_ids: list[int]) -> None:
    """The booking bodies the adapter sends for these shipments and the labels they print, built once."""
    from shipping import couriers
    from shipping.couriers import dhl_express
    from shipping.models import Shipment
    from shipping.services import build

    adapter = couriers.get_courier(courier)
    shipments = build.shipments_for_documents().filter(pk__in=shipment_ids).order_by("pk")
    if courier == "dhl_express":
        url, headers, auth = adapter.url("/shipments"), {"Accept": "application/json"}, (KEY, SECRET)
    else:
        token, _ = adapter.fetch_token()  # one token for the whole bare run, fetched outside the timing
        path = "/ship/v1/shipments" if courier == "fedex" else f"/api/shipments/{adapter.version}/ship"
        url, headers, auth = adapter.url(path), {**adapter.call_headers(), "Authorization": f"Bearer {token}"}, None
    _BARE.clear()
    for shipment in shipments:
        request = build.booking_request(shipment)
        if courier == "dhl_express":
            body = dhl_express.booking_body(request, shipment.reference, account=ACCOUNT)
        else:
            body = adapter.shipment_body(request, shipment.reference)
        _BARE.append((url, headers, body, auth, build.label_data(shipment)))
    assert len(_BARE) == len(shipment_ids) == Shipment.objects.count()


def _tracking(courier: str, answer: dict) -> str:
    if courier == "dhl_express":
        return answer["shipmentTrackingNumber"]
    if courier == "fedex":
        return answer["output"]["transactionShipments"][0]["masterTrackingNumber"]
    return answer["ShipmentResponse"]["ShipmentResults"]["ShipmentIdentificationNumber"]


def _bare_part(args: tuple[str, int, int]) -> tuple[int, int]:
    import requests

    from labels.shipping import render_label_pdf

    courier, start, step = args
    session = requests.Session()
    booked = pages = 0
    for url, headers, body, auth, labels in _BARE[start::step]:
        response = session.post(url, json=body, headers=headers, auth=auth, timeout=(3.05, 15))
        if response.status_code not in (200, 201) or not _tracking(courier, response.json()):
            raise SystemExit(f"bare booking: {response.status_code} {response.text[:300]}")
        pdf = render_label_pdf(labels)
        booked += 1
        pages += pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages")
    return booked, pages


def bare_run(courier: str, processes: int) -> tuple[float, int]:
    from labels.shipping import render_label_pdf

    render_label_pdf(_BARE[0][4])  # fonts registered and caches warm before the fork, as in the workers
    context = multiprocessing.get_context("fork")
    with context.Pool(processes) as pool:
        started = time.perf_counter()
        results = pool.map(_bare_part, [(courier, i, processes) for i in range(processes)])
        seconds = time.perf_counter() - started
    return seconds, sum(b for b, _ in results)


# --- checks -----------------------------------------------------------------------------------------
def check_once(sandbox_port: int, courier: str, ids: list[int]) -> list[str]:
    """Exactly one live shipment per order at the sandbox and in the database, its number ours, all sent."""
    from django.core.management import call_command

    from fulfilment.models import Order
    from outbox.models import Message
    from shipping.models import Shipment

    problems = []
    at_sandbox = sandbox_get(sandbox_port, f"/_sandbox/shipments?courier={courier}")["shipments"]
    live = [s for s in at_sandbox if not s.get("voided")]
    ours = {s.reference: s for s in Shipment.objects.exclude(status="cancelled")}
    per_order = Counter(Shipment.objects.exclude(status="cancelled").values_list("order_id", flat=True))
    if sorted(per_order) != sorted(ids) or set(per_order.values()) != {1}:
        problems.append(f"live shipments per order in the database: {Counter(per_order.values())}")
    refs = Counter(ref for s in live for ref in s["references"] if ref.startswith("SHP-"))
    if len(live) != len(ids) or set(refs.values()) != {1} or set(refs) != set(ours):
        problems.append(
            f"{len(live)} live shipments at the sandbox for {len(ids)} orders; references {refs.most_common(3)}"
        )
    numbers = {s["tracking_number"] for s in live}
    if {s.tracking_number for s in ours.values()} != numbers:
        problems.append("tracking numbers in the database differ from the sandbox's")
    if Shipment.objects.exclude(status="label_created").exists():
        problems.append(f"not label_created: {Counter(Shipment.objects.values_list('status', flat=True))}")
    if Order.objects.exclude(status="shipped").exists():
        problems.append(f"orders not shipped: {Counter(Order.objects.values_list('status', flat=True))}")
    messages = Counter(Message.objects.filter(kind="shipment_book").values_list("status", flat=True))
    if messages != {"sent": len(ids)}:
        problems.append(f"booking messages: {dict(messages)}")
    try:
        call_command("verify_stock", verbosity=0)
    except SystemExit as exc:
        problems.append(f"verify_stock exited {exc.code}")
    return problems


def check_labels(pdfs: list[bytes], shipment_ids: list[int], sample: int = 10) -> list[str]:
    """Every label one page; a sample scanned (zxing at 203 dpi) to its shipment's one tracking number."""
    import io

    import pypdf

    from shipping.models import Shipment
    from tests.labels.helpers import decode_pages

    numbers = dict(Shipment.objects.values_list("pk", "tracking_number"))
    problems = [
        f"label of {i}: {n} pages"
        for i, pdf in zip(shipment_ids, pdfs, strict=True)
        if (n := len(pypdf.PdfReader(io.BytesIO(pdf)).pages)) != 1
    ]
    step = max(1, len(pdfs) // sample)
    for shipment_id, pdf in list(zip(shipment_ids, pdfs, strict=True))[::step]:
        scanned = [text for _, text in decode_pages(pdf)[0]]
        if scanned != [numbers[shipment_id]]:
            problems.append(f"label of shipment {shipment_id} scans {scanned}, not {numbers[shipment_id]}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--courier", choices=sorted(ROUTES), default="fedex")
    parser.add_argument("--workers", type=int, default=2, help="Celery worker processes (and bare processes)")
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn worker processes (threaded)")
    parser.add_argument("--clients", type=int, default=4, help="client connections posting /ship")
    parser.add_argument("--rate", type=float, default=1000.0, help="COURIER_<NAME>_RATE_PER_SECOND for the servers")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the last booking")
    args = parser.parse_args(argv)

    sandbox_port, web_port = free_port(), free_port()
    env = server_env(sandbox_port, args.rate)
    started = time.perf_counter()
    setup_django(env)
    ids, token = seed(args.orders, args.courier)
    from labels import fonts

    fonts.chain(fonts.REGULAR)  # converted once if missing (deploy does it with prepare_label_fonts), then shared
    env["LABEL_FONT_DIR"] = str(fonts.font_dir())
    import redis

    redis.Redis.from_url(BROKER).flushdb()
    print(
        f"setup: {time.perf_counter() - started:.1f} s ({args.orders} packed orders for {args.courier});"
        f" courier rate limit {args.rate:g}/s for the servers (COURIER_{NAMES[args.courier]}_RATE_PER_SECOND;"
        " the service's default is 10)"
    )
    from django.db import connections

    connections.close_all()
    logs = {
        n: Path(tempfile.gettempdir()) / f"bench-shipping-{n}-{os.getpid()}.log" for n in ("sandbox", "web", "celery")
    }
    python = str(ROOT / ".venv/bin/python")
    with ExitStack() as stack:
        sandbox = stack.enter_context(
            process(
                [python, "manage.py", "courier_sandbox", "--port", str(sandbox_port), "--advance-every", "0"],
                env,
                logs["sandbox"],
            )
        )
        wait_http(sandbox_port, "/_sandbox/", sandbox, logs["sandbox"], "the courier sandbox")
        web_cmd = [str(ROOT / ".venv/bin/gunicorn"), "config.wsgi:application", "--bind", f"127.0.0.1:{web_port}"]
        web_cmd += ["--workers", str(args.web_workers), "--log-level", "warning"]
        web = stack.enter_context(process(web_cmd, env | {"PGAPPNAME": "bench-shipping-web"}, logs["web"]))
        wait_http(web_port, "/healthz", web, logs["web"], "gunicorn")
        worker_cmd = [str(ROOT / ".venv/bin/celery"), "-A", "config", "worker", "--pool", "prefork"]
        # INFO: its " ready." line says when it consumes (and a line per task, as in production).
        worker_cmd += ["--concurrency", str(args.workers), "-Q", "celery", "--loglevel", "INFO"]
        worker_cmd += ["--without-heartbeat", "--without-gossip", "--without-mingle"]
        worker_env = env | {"PGAPPNAME": "bench-shipping-tasks"}
        worker = stack.enter_context(process(worker_cmd, worker_env, logs["celery"], group=True))
        wait_worker(logs["celery"], worker)
        print(
            f"servers: sandbox (own process), gunicorn {args.web_workers} threaded workers,"
            f" celery prefork x{args.workers}; {args.clients} client connections"
        )

        from django.utils import timezone

        from shipping.models import Shipment

        servers = {"web": web, "celery": worker, "sandbox": sandbox}
        cpu_before = cpu(servers)
        t0 = timezone.now()
        t0_perf = time.perf_counter()
        statuses = ship_all(web_port, token, ids, args.courier, args.clients)
        posted = time.perf_counter() - t0_perf
        if statuses != {202: len(ids)}:
            raise SystemExit(f"POST /ship answers: {dict(statuses)}\n{logs['web'].read_text()[-3000:]}")
        wait_booked(len(ids), args.timeout, worker, logs["celery"])
        cpu_after = cpu(servers)
        last = max(Shipment.objects.values_list("booked_at", flat=True))
        service_s = (last - t0).total_seconds()
        shipment_ids = list(Shipment.objects.order_by("pk").values_list("pk", flat=True))
        labels_started = time.perf_counter()
        pdfs = fetch_labels(web_port, token, shipment_ids, args.clients)
        labels_s = time.perf_counter() - labels_started

        problems = check_once(sandbox_port, args.courier, ids)
        problems += check_labels(pdfs, shipment_ids)
        calls = Counter(
            (c["method"], c["path"].split("/")[1] if "/" in c["path"] else c["path"])
            for c in sandbox_get(sandbox_port, f"/_sandbox/calls?courier={args.courier}")["calls"]
        )

        sandbox_reset(sandbox_port)  # the bare bookings carry the same references: start from none
        bare_jobs(args.courier, shipment_ids)
        connections.close_all()
        bare_s, bare_n = bare_run(args.courier, args.workers)
        if bare_n != len(ids):
            problems.append(f"bare booked {bare_n} of {len(ids)}")

    n = len(ids)
    service_rate, bare_rate = n / service_s, n / bare_s
    print(f"courier calls by the service: {dict(calls)}")
    print(
        f"service: {n} shipments booked in {service_s:.2f} s = {service_rate:.1f}/s"
        f" (POSTs answered 202 in {posted:.2f} s; labels fetched in {labels_s:.2f} s afterwards,"
        f" {n / labels_s:.0f}/s; booked + labels {n / (service_s + labels_s):.1f}/s)"
    )
    spent = {k: (cpu_after[k] - cpu_before[k]) * 1000 / n for k in cpu_before}
    print("CPU ms per shipment in the service window: " + ", ".join(f"{k} {v:.1f}" for k, v in spent.items()))
    print(f"bare:    {n} bookings + labels in {bare_s:.2f} s = {bare_rate:.1f}/s ({args.workers} processes)")
    print(f"service / bare: {service_rate / bare_rate:.2f}x (target >= 0.6x)")
    print(f"booked + labels / bare: {n / (service_s + labels_s) / bare_rate:.2f}x")
    if problems:
        print("FAILED checks:\n  " + "\n  ".join(problems))
        return 1
    print(
        f"checks: exactly one live shipment per order at the sandbox and in the database ({n}),"
        " every booking message sent, verify_stock clean"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
