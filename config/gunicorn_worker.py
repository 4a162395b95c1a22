"""The gunicorn worker: gthread that reads each request in its event loop, and answers its own errors in JSON.

Why not plain gthread (gunicorn 27.0.1)? Its main loop accepts a connection and hands it to a
thread at once. The thread waits up to 5 s for a first byte (then parks the socket in the
poller), but once any byte has arrived it reads the rest with a blocking socket and no
timeout: a client that sends half its headers, or announces a body it never sends, holds a
thread until it goes away. ``threads`` such clients stop the worker, which is what happens
to sync workers with ``workers`` of them.

``ThreadWorker`` here does what a buffering proxy does in front of an application server:
the main loop reads the request (head and body, non-blocking) into memory, and a thread gets
the connection only when the whole request is there. A slow client costs a socket and its
bytes, no thread. It has ``request_timeout`` seconds to send the whole request, else it gets
a 408 and the connection is closed. Bodies larger than ``max_buffered_body`` (larger than
Django accepts anyway, DATA_UPLOAD_MAX_MEMORY_SIZE) are passed on after that many bytes and
read by the thread, within the same ``request_timeout`` from the first byte (a read past it is
answered 408 by ``config.middleware.UnreadableBodyMiddleware``).

Not covered: TLS terminated by gunicorn itself and HTTP/2 prior knowledge (the handshake
needs the thread); those connections are served as gthread serves them. We terminate TLS at
the load balancer.

gunicorn's own refusals (a request line or headers over the limits, a malformed request)
are answered in the service's error shape ``{"detail", "code", "extra"}``, not HTML.
"""

from __future__ import annotations

import contextlib
import errno
import json
import selectors
import socket
import time
from functools import partial

from gunicorn import util
from gunicorn.http2 import negotiation
from gunicorn.workers import gthread

# How much of a request head the loop buffers before letting gunicorn's parser judge it. Above
# gunicorn's default request line limit (4094), so a too-long line is answered with its 414.
MAX_HEAD_BYTES = 64 * 1024
# Django's default DATA_UPLOAD_MAX_MEMORY_SIZE: a larger non-file body is refused with a 413.
DEFAULT_MAX_BUFFERED_BODY = 2_621_440
DEFAULT_REQUEST_TIMEOUT = 20.0
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"

ERROR_CODES = {
    400: "bad_request",
    403: "forbidden",
    408: "request_timeout",
    414: "request_line_too_long",
    417: "expectation_failed",
    431: "request_headers_too_large",
    500: "server_error",
    501: "not_implemented",
}


def json_error(status: int, reason: str, detail: str) -> bytes:
    """A complete HTTP/1.1 answer with the service's error body; the connection closes after it."""
    body = json.dumps(
        {"detail": detail, "code": ERROR_CODES.get(status, "bad_request"), "extra": {}}, ensure_ascii=True
    ).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


_HEX = frozenset(b"0123456789abcdefABCDEF")


class RequestScan:
    """How much of the first request in a growing buffer has arrived (a tolerant pre-parse, not a validator).

    Incremental: ``feed(buffer)`` with the same, longer buffer after each read looks only at the
    new bytes (the head is parsed once; a chunked body is walked chunk by chunk from where the
    last call stopped), so a client trickling a body in small pieces costs linear time, not
    quadratic. Anything odd (a bad length, a malformed chunk line) counts as complete: gunicorn's
    parser then refuses it properly, so there is one place that decides what is valid.
    """

    def __init__(self, data: bytes | bytearray | None = None, max_body: int = DEFAULT_MAX_BUFFERED_BODY) -> None:
        self.max_body = max_body
        self.complete = False
        self.expects_continue = False
        self._searched = 0  # head: bytes already searched for its end
        self._body_start: int | None = None
        self._length: int | None = None
        self._chunked = False
        self._chunk_pos = 0  # chunked body: where the next chunk-size line starts
        if data is not None:
            self.feed(data)

    def feed(self, data: bytes | bytearray) -> bool:
        if self.complete:
            return True
        if self._body_start is None and not self._read_head(data):
            return self.complete
        received = len(data) - self._body_start
        if received >= self.max_body:
            self.complete = True
        elif self._chunked:
            self.complete = self._walk_chunks(data)
        else:
            self.complete = received >= (self._length or 0)
        if self.complete:
            self.expects_continue = False  # the body is here: nothing to invite
        return self.complete

    def _read_head(self, data: bytes | bytearray) -> bool:
        end = data.find(b"\r\n\r\n", max(self._searched - 3, 0))
        if end < 0:
            self._searched = len(data)
            self.complete = len(data) > MAX_HEAD_BYTES
            return False
        lines = bytes(data[:end]).split(b"\r\n")
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == b"content-length":
                if not value.isdigit():
                    self.complete = True
                    return False
                self._length = int(value)
            elif name == b"transfer-encoding":
                self._chunked = value.rsplit(b",", 1)[-1].strip() == b"chunked"
            elif name == b"expect":
                self.expects_continue = value == b"100-continue" and lines[0].endswith(b"HTTP/1.1")
        self._body_start = self._chunk_pos = end + 4
        return True

    def _walk_chunks(self, data: bytes | bytearray) -> bool:
        pos = self._chunk_pos
        while True:
            eol = data.find(b"\r\n", pos)
            if eol < 0:
                return len(data) - pos > 1024  # an endless chunk-size line: let the parser refuse it
            size_field = bytes(data[pos:eol]).split(b";", 1)[0].strip()
            if not size_field or not _HEX.issuperset(size_field):
                return True  # a sign, a space, nothing: malformed; gunicorn's parser answers it
            size = int(size_field, 16)
            if size == 0:
                # Trailers, if any, end with an empty line.
                after = eol + 2
                return data[after : after + 2] == b"\r\n" or data.find(b"\r\n\r\n", after - 2) >= 0
            following = eol + 2 + size + 2
            if following > len(data):
                return False
            pos = self._chunk_pos = following


class _ReadTimeout:
    """The socket as gunicorn's parser sees it once a thread has the connection: reads are bounded.

    Only reached for bodies over the buffer limit. The whole request has one deadline (the
    same ``request_timeout`` from its first byte), not one per read: a client sending a byte
    every few seconds would otherwise hold the thread for ever. ``settimeout`` also bounds the
    answer's writes, which is what a client that stopped reading deserves.
    """

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock = sock
        self._deadline = deadline

    def recv(self, size: int) -> bytes:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the request was not received in time")
        self._sock.settimeout(left)
        return self._sock.recv(size)

    def __getattr__(self, name):
        return getattr(self._sock, name)


class ThreadWorker(gthread.ThreadWorker):
    """gthread whose threads only ever see complete requests (see the module docstring)."""

    # Set from gunicorn.conf.py (gunicorn passes unknown settings to nobody).
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT
    max_buffered_body: int = DEFAULT_MAX_BUFFERED_BODY

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Connections whose request is still arriving, oldest first (dicts keep insertion order).
        self.reading: dict[gthread.TConn, None] = {}

    def enqueue_req(self, conn) -> None:
        # Every path to a thread passes here: a new connection, a kept-alive one that became
        # readable, and one whose previous request left the next one's bytes in the parser.
        if getattr(conn, "request_read", False) or self._cannot_buffer(conn):
            conn.request_read = False
            super().enqueue_req(conn)
            return
        conn.buffer = bytearray(conn.parser.unreader.take_buffered() if conn.parser else b"")
        conn.continue_sent = False
        conn.scan = RequestScan(max_body=self.max_buffered_body)
        conn.read_deadline = time.monotonic() + self.request_timeout
        if self._arrived(conn):
            self._hand_over(conn)
            return
        conn.sock.setblocking(False)
        self.reading[conn] = None
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_readable, conn))

    def _cannot_buffer(self, conn) -> bool:
        return self.cfg.is_ssl or conn.is_http2 or negotiation.prior_knowledge_allowed(self.cfg, conn.client)

    def _on_readable(self, conn, _sock) -> None:
        try:
            data = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            # Gone before the request was complete: nobody to answer.
            self._stop_reading(conn)
            self._close(conn)
            return
        conn.buffer += data
        if self._arrived(conn):
            self._stop_reading(conn)
            self._hand_over(conn)

    def _arrived(self, conn) -> bool:
        """Has the whole request arrived (or as much as is buffered)? Invites the body if asked to."""
        scan = conn.scan
        scan.feed(conn.buffer)
        if scan.expects_continue and not conn.continue_sent:
            # The client waits for this before it sends the body. gunicorn sends its own
            # 100 when the thread starts; several 1xx answers are allowed (RFC 9110 15.2).
            conn.continue_sent = True
            with contextlib.suppress(OSError):
                conn.sock.send(_CONTINUE)
        return scan.complete

    def _hand_over(self, conn) -> None:
        """Give the connection, its request already read, to a thread."""
        if conn.parser is None:
            conn.init()
        conn.parser.unreader.unread(bytes(conn.buffer))
        conn.parser.unreader.sock = _ReadTimeout(conn.sock, conn.read_deadline)
        conn.buffer = conn.scan = None
        conn.data_ready = True  # no need for gthread's wait for a first byte
        conn.request_read = True
        self.enqueue_req(conn)

    def _stop_reading(self, conn) -> None:
        self.reading.pop(conn, None)
        with contextlib.suppress(KeyError, ValueError, OSError):
            self.poller.unregister(conn.sock)

    def _close(self, conn) -> None:
        self.nr_conns -= 1
        conn.close()

    def murder_pending(self) -> None:
        # Runs once a second in the main loop (and while stopping), next to gthread's own sweeps.
        super().murder_pending()
        now = time.monotonic()
        for conn in list(self.reading):
            if conn.read_deadline > now:
                break
            self._stop_reading(conn)
            if conn.buffer:
                self.log.info("Request from %s not complete within %s s: 408", conn.client, self.request_timeout)
                detail = f"The request was not received within {self.request_timeout:g} seconds."
                with contextlib.suppress(OSError):
                    conn.sock.send(json_error(408, "Request Timeout", detail))
            self._close(conn)

    def handle(self, conn):
        try:
            return super().handle(conn)
        finally:
            # The bounded reads were for this request; the main loop polls the socket next.
            if conn.parser is not None and isinstance(conn.parser.unreader.sock, _ReadTimeout):
                conn.parser.unreader.sock = conn.sock

    def handle_error(self, req, client, addr, exc) -> None:
        """gunicorn's status, reason and logging; the service's JSON instead of its HTML page."""
        capture = _CapturedAnswer()
        super().handle_error(req, capture, addr, exc)
        status, reason = capture.status()
        if status == 500:
            detail = "Internal server error."
        else:
            detail = f"{reason}: {exc}"[:300]
        try:
            util.write_nonblock(client, json_error(status, reason, detail))
        except OSError as error:
            if error.errno not in (errno.EPIPE, errno.ECONNRESET):
                self.log.debug("Failed to send error message.")


class _CapturedAnswer:
    """Stands in for the client socket while gunicorn writes its HTML error page, to learn the status."""

    def __init__(self) -> None:
        self.data = b""

    def gettimeout(self) -> float:
        return 0.0  # already non-blocking: write_nonblock leaves it alone

    def sendall(self, data: bytes) -> None:
        self.data += data

    def status(self) -> tuple[int, str]:
        line = self.data.split(b"\r\n", 1)[0].decode("latin-1")
        try:
            _, code, reason = line.split(" ", 2)
            return int(code), reason
        except ValueError:
            return 500, "Internal Server Error"
