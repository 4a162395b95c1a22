"""The service under a real gunicorn, started with the project's gunicorn.conf.py, spoken to over raw sockets.

The Django test client cannot show these: slow and stalled clients, gunicorn's own
refusals (request line or headers too large), chunked request bodies.
"""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
REQUEST_TIMEOUT = 3  # seconds a client has to send its request, in this server
UPLOAD_LIMIT = 20_000  # DJANGO_DATA_UPLOAD_MAX_MEMORY_SIZE in this server
WEBHOOK_LIMIT = 40_000  # WEBHOOK_MAX_BODY_BYTES in this server
# Smaller than the upload limit, so bodies in between take the other path: a thread reads the rest.
BUFFERED_BODY = 10_000

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def http_get(port: int, path: str, timeout: float) -> tuple[int, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        return parse(read_until_closed(sock, timeout))


def read_until_closed(sock: socket.socket, timeout: float) -> bytes:
    """Everything the server sends until it closes; fails the test if it has not closed by ``timeout``."""
    deadline = time.monotonic() + timeout
    data = b""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"server did not close the connection within {timeout} s; got {data[:200]!r}")
        sock.settimeout(remaining)
        try:
            part = sock.recv(65536)
        except ConnectionResetError:
            return data
        except TimeoutError:
            continue
        if not part:
            return data
        data += part


def parse(answer: bytes) -> tuple[int, bytes]:
    """Status and body of the final answer (interim 1xx answers skipped); de-chunks a chunked body."""
    while answer.startswith(b"HTTP/1.1 1"):
        answer = answer.split(b"\r\n\r\n", 1)[1]
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    if b"transfer-encoding: chunked" in head.lower():
        out = b""
        while body:
            size_line, _, rest = body.partition(b"\r\n")
            size = int(size_line, 16)
            if size == 0:
                break
            out, body = out + rest[:size], rest[size + 2 :]
        body = out
    return status, body


def chunked(body: bytes, size: int) -> bytes:
    parts = [b"%x\r\n%s\r\n" % (len(body[i : i + size]), body[i : i + size]) for i in range(0, len(body), size)]
    return b"".join(parts) + b"0\r\n\r\n"


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker) -> Iterator[int]:
    """gunicorn on a free port: one worker with two threads, so a handful of bad clients would be enough."""
    port = free_port()
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.test_settings",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_DATA_UPLOAD_MAX_MEMORY_SIZE": str(UPLOAD_LIMIT),
        "WEBHOOK_MAX_BODY_BYTES": str(WEBHOOK_LIMIT),
        "WEB_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "1",
        "WEB_THREADS": "2",
        "WEB_REQUEST_TIMEOUT": str(REQUEST_TIMEOUT),
        "WEB_MAX_BUFFERED_BODY": str(BUFFERED_BODY),
        "WEB_ACCESS_LOG": "",
        "WEB_LOG_LEVEL": "warning",
    }
    if db["ENGINE"].endswith("postgresql"):
        # The test database, so what the server stores is what the test reads.
        user = db["USER"] or "postgres"
        password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
        env["DATABASE_URL"] = f"postgres://{user}{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
    log = ROOT / "var" / f"test-gunicorn-{port}.log"
    log.parent.mkdir(exist_ok=True)
    with log.open("w") as out:
        # No -c: gunicorn reads ./gunicorn.conf.py by itself, as `make run` and production do.
        process = subprocess.Popen(  # noqa: S603 - our own gunicorn, fixed arguments
            [str(ROOT / ".venv/bin/gunicorn")], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        for _ in range(200):
            assert process.poll() is None, log.read_text()[-3000:]
            try:
                # A busy machine may take longer than a second to answer the first request (the
                # workers are still importing): not ready yet, ask again.
                if http_get(port, "/healthz", timeout=5)[0] == 200:
                    break
            except (OSError, AssertionError):
                time.sleep(0.1)
        else:
            raise AssertionError("gunicorn did not answer /healthz:\n" + log.read_text()[-3000:])
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        log.unlink(missing_ok=True)


def test_stalled_clients_do_not_block_the_service(server):
    stalled = []
    try:
        for n in range(10):
            sock = socket.create_connection(("127.0.0.1", server), timeout=5)
            if n % 3 == 0:  # half the headers
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Ag")
            elif n % 3 == 1:  # headers announcing a body that never comes
                sock.sendall(
                    b"POST /webhooks/shopify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 1000\r\n\r\n" + b'{"id": 1'
                )
            # else: connected, nothing sent
            stalled.append(sock)
        time.sleep(0.5)  # the server has accepted them all and read what they sent

        for _ in range(5):
            started = time.monotonic()
            status, body = http_get(server, "/healthz", timeout=1)
            assert (status, json.loads(body)) == (200, {"status": "ok"})
            assert time.monotonic() - started < 1

        # The server closes every stalled socket: a 408 for those that began a request.
        for n, sock in enumerate(stalled):
            answer = read_until_closed(sock, timeout=REQUEST_TIMEOUT + 3)
            if n % 3 == 2:
                assert answer == b""
            else:
                status, body = parse(answer)
                assert status == 408 and json.loads(body)["code"] == "request_timeout"
    finally:
        for sock in stalled:
            sock.close()


def post_head(length: int) -> bytes:
    return (
        b"POST /webhooks/shopify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Connection: close\r\nContent-Length: %d\r\n\r\n" % length
    )


def test_a_body_larger_than_the_read_ahead_is_read_by_the_thread(server):
    with socket.create_connection(("127.0.0.1", server), timeout=5) as sock:
        sock.sendall(post_head(15_000) + b" " * 15_000)
        status, body = parse(read_until_closed(sock, timeout=3))
    # Read whole: the signature check ran (and failed: the test sent none).
    assert (status, json.loads(body)["code"]) == (401, "invalid_signature")


def test_a_body_that_stalls_past_the_read_ahead_is_a_json_408(server):
    with socket.create_connection(("127.0.0.1", server), timeout=5) as sock:
        started = time.monotonic()
        sock.sendall(post_head(15_000) + b" " * 12_000)
        status, body = parse(read_until_closed(sock, timeout=REQUEST_TIMEOUT + 3))
    assert (status, json.loads(body)["code"]) == (408, "request_timeout")
    assert REQUEST_TIMEOUT - 0.5 < time.monotonic() - started < REQUEST_TIMEOUT + 2


def test_a_body_trickled_past_the_read_ahead_has_one_deadline_not_one_per_read(server):
    """A byte every second never lets a single read time out; the request as a whole still does."""
    with socket.create_connection(("127.0.0.1", server), timeout=5) as sock:
        started = time.monotonic()
        sock.sendall(post_head(15_000) + b" " * 12_000)
        for _ in range(REQUEST_TIMEOUT * 3):
            if select.select([sock], [], [], 1)[0]:
                break  # the server answered: its deadline passed
            sock.sendall(b" ")
        status, body = parse(read_until_closed(sock, timeout=3))
    assert (status, json.loads(body)["code"]) == (408, "request_timeout")
    assert time.monotonic() - started < REQUEST_TIMEOUT + 3


def test_a_negative_chunk_size_is_refused_and_the_worker_keeps_serving(server):
    with socket.create_connection(("127.0.0.1", server), timeout=5) as sock:
        sock.sendall(b"POST /healthz HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n-6\r\n")
        status, _ = parse(read_until_closed(sock, timeout=3))
    assert status == 400
    started = time.monotonic()
    assert http_get(server, "/healthz", timeout=2)[0] == 200
    assert time.monotonic() - started < 1


def test_a_slow_client_that_completes_its_request_is_served(server):
    with socket.create_connection(("127.0.0.1", server), timeout=5) as sock:
        for piece in (b"GET /healthz HTTP/1.1\r\n", b"Host: 127.0.0.1\r\n", b"Connection: close\r\n", b"\r\n"):
            sock.sendall(piece)
            time.sleep(0.3)
        assert parse(read_until_closed(sock, timeout=2)) == (200, b'{"status":"ok"}')


def test_pipelined_requests_on_one_connection_are_both_answered(server):
    request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server), timeout=5) as sock:
        sock.sendall(request + request.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
        answer = read_until_closed(sock, timeout=3)
    assert answer.count(b"HTTP/1.1 200 OK") == 2


def test_a_body_is_invited_with_100_continue(server):
    with socket.create_connection(("127.0.0.1", server), timeout=2) as sock:
        sock.sendall(
            b"POST /webhooks/shopify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 2\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n"
        )
        assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue\r\n")
        sock.sendall(b"{}")
        status, body = parse(read_until_closed(sock, timeout=3))
    assert (status, json.loads(body)["code"]) == (401, "invalid_signature")


@pytest.mark.parametrize(
    ("request_bytes", "status", "code"),
    [
        (b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 414, "request_line_too_long"),
        (b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n", 431, "request_headers_too_large"),
        (
            b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"".join(b"X-%d: 1\r\n" % n for n in range(101)) + b"\r\n",
            431,
            "request_headers_too_large",
        ),
        (b"GET / HTTP/9.9\r\nHost: 127.0.0.1\r\n\r\n", 400, "bad_request"),
        (b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nNo colon here\r\n\r\n", 400, "bad_request"),
    ],
    ids=["request-line", "header-size", "header-count", "bad-version", "bad-header"],
)
def test_gunicorns_own_refusals_are_json(server, request_bytes, status, code):
    with socket.create_connection(("127.0.0.1", server), timeout=5) as sock:
        sock.sendall(request_bytes)
        answer = read_until_closed(sock, timeout=3)
    assert b"content-type: application/json" in answer.split(b"\r\n\r\n")[0].lower()
    got_status, body = parse(answer)
    error = json.loads(body)
    assert (got_status, error["code"]) == (status, code)
    assert set(error) == {"detail", "code", "extra"}


def test_djangos_own_refusals_are_json_on_the_wire(server):
    with socket.create_connection(("127.0.0.1", server), timeout=5) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n")
        status, body = parse(read_until_closed(sock, timeout=3))
    assert (status, json.loads(body)["code"]) == (400, "disallowed_host")
    with socket.create_connection(("127.0.0.1", server), timeout=5) as sock:
        sock.sendall(b"POST /api/orders HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        answer = read_until_closed(sock, timeout=3)
    assert b"\r\nLocation: /api/orders/\r\n" in answer
    assert parse(answer)[0] == 308 and json.loads(parse(answer)[1])["code"] == "trailing_slash"


def post_chunked(port: int, path: str, body: bytes, headers: dict[str, str], chunk_size: int) -> tuple[int, bytes]:
    headers = {"Content-Type": "application/json", **headers, "Transfer-Encoding": "chunked", "Connection": "close"}
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(head.encode() + chunked(body, chunk_size))
        return parse(read_until_closed(sock, timeout=10))


@pytest.mark.postgres  # the server is another process: it must share the test database
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["/webhooks/shopify", "/webhooks/shopify/"])
def test_a_signed_chunked_webhook_is_accepted(server, path):
    from fulfilment.models import Order
    from tests.fulfilment.helpers import make_world
    from tests.fulfilment.payloads import shopify_order, shopify_webhook

    make_world()
    body, headers = shopify_webhook(shopify_order(id=777001))
    assert len(body) > 1000  # several chunks

    status, answer = post_chunked(server, path, body, headers, chunk_size=300)

    assert status == 200, answer[:500]
    assert json.loads(answer)["order"]["status"] == "reserved"
    assert Order.objects.get(external_id="777001").status == "reserved"


@pytest.mark.parametrize(
    ("path", "limit"), [("/webhooks/shopify", WEBHOOK_LIMIT), ("/api/stock/receive", UPLOAD_LIMIT)]
)
def test_a_chunked_body_over_the_upload_limit_is_a_json_413(server, path, limit):
    body = b'{"id": 1, "pad": "' + b"x" * limit + b'"}'
    status, answer = post_chunked(server, path, body, {}, chunk_size=4096)
    assert status == 413
    assert json.loads(answer) == {
        "detail": "The request body is too large.",
        "code": "request_too_large",
        "extra": {"max_bytes": limit},
    }
