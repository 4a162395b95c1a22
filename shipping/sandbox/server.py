"""The sandbox HTTP server: routing to the four courier shapes, fault injection, the
``/_sandbox/`` control API and the clock that moves tracking along.

Plain Python (stdlib ``http.server``), no Django: tests start it in-process with
``SandboxServer(...).start()``, ``manage.py courier_sandbox`` serves it until interrupted.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from . import auspost, dhl_express, fedex, ups
from .common import BadRequest, CourierApi, Request, Response, json_response
from .state import FAULT_MODES, SandboxState

logger = logging.getLogger("shipping.sandbox")

COURIER_APIS = {
    "dhl_express": dhl_express.DhlExpressApi,
    "auspost": auspost.AusPostApi,
    "fedex": fedex.FedExApi,
    "ups": ups.UpsApi,
}
MAX_BODY = 5 * 1024 * 1024


class SandboxServer:
    """The four couriers on one port: ``base_url("fedex")`` is what the FedEx adapter is given."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        key: str = "sandbox",
        secret: str = "sandbox-secret",  # noqa: S107 - the sandbox's own demo credential
        advance_every: float = 60.0,
        token_ttl: float = 3600.0,
        push_secret: str | None = None,
    ):
        self.host = host
        self.port = port
        self.key = key
        self.secret = secret
        self.advance_every = advance_every
        self.push_secret = secret if push_secret is None else push_secret  # what pushes are signed with
        self.state = SandboxState(token_ttl=token_ttl)
        self.apis: dict[str, CourierApi] = {
            code: cls(self.state, key=key, secret=secret) for code, cls in COURIER_APIS.items()
        }
        self.stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []

    # --- lifecycle ---------------------------------------------------------------------
    def start(self) -> SandboxServer:
        if self._httpd is not None:
            return self
        self.stopping.clear()
        handler = type("SandboxHandler", (_Handler,), {"sandbox": self})
        httpd = ThreadingHTTPServer((self.host, self.port), handler)
        httpd.daemon_threads = True
        httpd.block_on_close = False
        self._httpd = httpd
        self.port = httpd.server_address[1]
        serve = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        serve.name = f"courier-sandbox:{self.port}"
        serve.start()
        self._threads = [serve]
        if self.advance_every and self.advance_every > 0:
            clock = threading.Thread(target=self._clock, daemon=True, name=f"courier-sandbox-clock:{self.port}")
            clock.start()
            self._threads.append(clock)
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        self.stopping.set()  # wakes handlers sleeping in a fault
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads = []

    def serve_until(self, stop: threading.Event) -> None:
        """Serve until ``stop`` is set (the management command's signal handlers set it)."""
        self.start()
        try:
            while not stop.wait(0.5):
                pass
        finally:
            self.stop()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host  # noqa: S104
        return f"http://{host}:{self.port}"

    def base_url(self, code: str) -> str:
        if code not in self.apis:
            raise KeyError(code)
        return f"{self.url}/{code}"

    def _clock(self) -> None:
        tick = min(1.0, self.advance_every / 4)
        while not self.stopping.wait(tick):
            self.state.advance_due(self.advance_every)

    def sleep(self, seconds: float) -> bool:
        """Sleep unless the server stops first; True when the full time passed."""
        return not self.stopping.wait(max(0.0, seconds))

    # --- one call ----------------------------------------------------------------------
    def handle(self, request: Request, courier: str) -> tuple[Response | None, bool]:
        """The answer to one courier call, and whether to drop it (close without answering)."""
        api = self.apis[courier]
        call = self.state.record_call(
            courier=courier, method=request.method, path=request.path, query=request.raw_query
        )
        fault = self.state.take_fault(courier, request.path)
        if fault is not None:
            call["fault"] = fault.mode
            if fault.mode == "hang":
                self.sleep(fault.seconds)
                return None, True
            if fault.mode == "latency":
                self.sleep(fault.seconds)
            elif fault.mode == "rate_limit":
                response = api.rate_limited(request, fault.seconds)
                response.headers.setdefault("Retry-After", _seconds_header(fault.seconds))
                call["status"] = response.status
                return response, False
            elif fault.mode == "error":
                response = api.server_error(request, fault.status or 503)
                call["status"] = response.status
                return response, False
        response = self._answer(api, request)
        call["status"] = response.status
        if fault is not None and fault.mode == "drop":
            # The courier did the work; the answer never reaches the client.
            self.sleep(fault.seconds)
            return None, True
        return response, False

    def _answer(self, api: CourierApi, request: Request) -> Response:
        found = api.match(request)
        if not found:
            return (
                api.not_found(request)
                if found is None
                else api.bad_request(
                    request, BadRequest(f"method {request.method} not allowed on {request.path}", code="405")
                )
            )
        route, match = found
        if route.auth:
            refused = api.authenticate(request)
            if refused is not None:
                return refused
        try:
            return route.handler(request, match)
        except BadRequest as error:
            return api.bad_request(request, error)
        except Exception:
            logger.exception("courier sandbox: %s %s failed", request.method, request.path)
            return api.server_error(request, 500)

    # --- the control API ---------------------------------------------------------------
    def control(self, request: Request) -> Response:
        path = request.path.rstrip("/")
        courier = request.param("courier")
        if courier and courier not in self.apis:
            return json_response(400, {"error": f"unknown courier {courier!r}", "couriers": list(self.apis)})
        try:
            if (request.method, path) == ("GET", ""):
                return json_response(200, self._describe())
            if (request.method, path) == ("POST", "/faults"):
                return self._add_fault(request)
            if (request.method, path) == ("GET", "/faults"):
                with self.state.lock:
                    return json_response(200, {"faults": [f.as_dict() for f in self.state.faults]})
            if (request.method, path) == ("DELETE", "/faults"):
                return json_response(200, {"cleared": self.state.clear_faults(courier)})
            if (request.method, path) == ("POST", "/advance"):
                return self._advance(request)
            if (request.method, path) == ("POST", "/push"):
                return self._push(request)
            if (request.method, path) == ("GET", "/calls"):
                return json_response(200, {"calls": self.state.call_log(courier)})
            if (request.method, path) == ("GET", "/shipments"):
                shipments = [s.summary() for s in self.state.all(courier)]
                return json_response(200, {"shipments": shipments})
            if (request.method, path) == ("POST", "/tokens/expire"):
                return json_response(200, {"expired": self.state.expire_tokens(courier)})
            if (request.method, path) == ("POST", "/reset"):
                self.state.reset()
                return json_response(200, {"reset": True})
        except BadRequest as error:
            return json_response(400, {"error": error.message})
        return json_response(404, {"error": f"no control call {request.method} /_sandbox{request.path}"})

    def _body(self, request: Request) -> dict[str, Any]:
        if not request.body.strip():
            return {}
        data = request.json()
        if not isinstance(data, dict):
            raise BadRequest("the body must be a JSON object")
        return data

    def _add_fault(self, request: Request) -> Response:
        data = self._body(request)
        courier = str(data.get("courier") or "")
        if courier and courier not in self.apis:
            raise BadRequest(f"unknown courier {courier!r}")
        mode = str(data.get("mode") or "")
        if mode not in FAULT_MODES:
            raise BadRequest(f"mode must be one of {', '.join(FAULT_MODES)}")
        try:
            seconds = float(data.get("seconds", 0 if mode in ("error",) else 1))
            status = int(data.get("status", 503))
            count = int(data.get("count", 1))
        except (TypeError, ValueError) as exc:
            raise BadRequest(f"seconds, status and count must be numbers: {exc}") from exc
        if mode == "error" and not 500 <= status <= 599:
            raise BadRequest("an error fault's status must be a 5xx")
        if seconds < 0 or count < 0:
            raise BadRequest("seconds and count must not be negative")
        path = str(data.get("path") or "")
        if path and not path.startswith("/"):
            path = "/" + path
        fault = self.state.add_fault(courier=courier, path=path, mode=mode, seconds=seconds, status=status, count=count)
        return json_response(201, {"fault": fault.as_dict()})

    def _advance(self, request: Request) -> Response:
        data = self._body(request)
        courier = str(data.get("courier") or "")
        if courier and courier not in self.apis:
            raise BadRequest(f"unknown courier {courier!r}")
        try:
            steps = int(data.get("steps", 1))
        except (TypeError, ValueError) as exc:
            raise BadRequest(f"steps must be a number: {exc}") from exc
        moved = self.state.advance(courier=courier, number=str(data.get("tracking_number") or ""), steps=steps)
        return json_response(
            200,
            {
                "advanced": [
                    {"courier": s.courier, "tracking_number": s.tracking_number, "status": s.status} for s in moved
                ]
            },
        )

    def _push(self, request: Request) -> Response:
        """POST the courier's push for one shipment, signed, to ``url`` (our webhook); its answers."""
        data = self._body(request)
        courier = str(data.get("courier") or "")
        number = str(data.get("tracking_number") or "")
        url = str(data.get("url") or "")
        api = self.apis.get(courier)
        if api is None or not hasattr(api, "push_bodies"):
            raise BadRequest(f"courier {courier!r} does not push tracking (ups and fedex do)")
        if not url.startswith(("http://", "https://")):
            raise BadRequest("url must be an http(s) URL")
        shipment = self.state.find(courier, number)
        if shipment is None:
            raise BadRequest(f"no {courier} shipment {number!r}")
        secret = str(data.get("secret") if data.get("secret") is not None else self.push_secret)
        answers = []
        with self.state.lock:
            bodies = api.push_bodies(shipment, number, bool(data.get("all")))
        for body in bodies:
            headers = api.push_headers(body, secret)
            outgoing = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
            try:
                with urllib.request.urlopen(outgoing, timeout=10) as answer:  # noqa: S310
                    status, text = answer.status, answer.read()
            except urllib.error.HTTPError as error:
                status, text = error.code, error.read()
            except (urllib.error.URLError, OSError) as error:
                raise BadRequest(f"could not reach {url}: {error}") from error
            answers.append({"status": status, "body": _json_or_text(text)})
        return json_response(200, {"pushed": answers})

    def _describe(self) -> dict[str, Any]:
        return {
            "couriers": {code: self.base_url(code) for code in self.apis},
            "advance_every": self.advance_every,
            "token_ttl": self.state.token_ttl,
            "control": [
                "POST /_sandbox/faults",
                "GET /_sandbox/faults",
                "DELETE /_sandbox/faults",
                "POST /_sandbox/advance",
                "POST /_sandbox/push",
                "GET /_sandbox/calls",
                "GET /_sandbox/shipments",
                "POST /_sandbox/tokens/expire",
                "POST /_sandbox/reset",
            ],
        }


def _json_or_text(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return raw.decode("utf-8", "replace")


def _seconds_header(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else str(math.ceil(seconds * 1000) / 1000)


class _Handler(BaseHTTPRequestHandler):
    sandbox: SandboxServer
    protocol_version = "HTTP/1.1"
    server_version = "CourierSandbox/1.0"
    # Headers and body leave in two writes: without TCP_NODELAY, Nagle's algorithm holds the body back
    # until the client's delayed ACK (40 ms on Linux), on every keep-alive call.
    disable_nagle_algorithm = True

    def log_message(self, format, *args):
        logger.debug("%s - %s", self.address_string(), format % args)

    def do_GET(self):
        self._dispatch()

    def do_POST(self):
        self._dispatch()

    def do_PUT(self):
        self._dispatch()

    def do_DELETE(self):
        self._dispatch()

    def do_PATCH(self):
        self._dispatch()

    def _dispatch(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        if length > MAX_BODY:
            self._send(json_response(413, {"error": "body too large"}))
            self.close_connection = True
            return
        body = self.rfile.read(length) if length > 0 else b""
        split = urllib.parse.urlsplit(self.path)
        segments = split.path.split("/", 2)
        first = segments[1] if len(segments) > 1 else ""
        rest = "/" + segments[2] if len(segments) > 2 else "/"
        request = Request(
            method=self.command,
            path=rest,
            query=urllib.parse.parse_qs(split.query, keep_blank_values=True),
            headers=self.headers,
            body=body,
            host=self.headers.get("Host") or f"{self.sandbox.url.split('//', 1)[1]}",
            raw_query=split.query,
        )
        if first == "_sandbox":
            self._send(self.sandbox.control(request))
            return
        if first not in self.sandbox.apis:
            self._send(json_response(404, {"error": f"no courier {first!r}", "couriers": list(self.sandbox.apis)}))
            return
        response, drop = self.sandbox.handle(request, first)
        if drop or response is None:
            self.close_connection = True
            return
        self._send(response)

    def _send(self, response: Response) -> None:
        try:
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
