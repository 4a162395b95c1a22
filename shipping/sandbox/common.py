"""What the four courier shapes share: the request and answer types, the base of a courier
API (routes, auth, its own error shapes), a tiny label of each kind, and time spellings."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .state import SandboxState

# A receiver the courier refuses: this postcode, or this word in an address line.
REFUSED_POSTCODE = "00000"
REFUSED_WORD = "REJECT"


class BadRequest(Exception):
    """A body that is not what the courier accepts: answered in the courier's 400 shape."""

    def __init__(self, message: str, *, field: str = "", code: str = ""):
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code


@dataclass
class Request:
    method: str
    path: str  # relative to the courier: "/shipments", "/shipping/v1/track"
    query: dict[str, list[str]]
    headers: Any  # email.message.Message: case-insensitive .get
    body: bytes
    host: str  # "127.0.0.1:8900", for absolute URLs in answers
    raw_query: str = ""

    def header(self, name: str) -> str:
        return str(self.headers.get(name) or "")

    def param(self, name: str) -> str:
        values = self.query.get(name) or [""]
        return values[0]

    def json(self) -> Any:
        if not self.body:
            raise BadRequest("request body is empty")
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequest(f"request body is not JSON: {exc}") from exc

    def form(self) -> dict[str, str]:
        parsed = urllib.parse.parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)
        return {k: v[0] for k, v in parsed.items()}


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def json_response(status: int, data: Any, *, content_type: str = "application/json", **headers: str) -> Response:
    return Response(status, json.dumps(data).encode(), {"Content-Type": content_type, **headers})


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern
    handler: Callable[[Request, re.Match], Response]
    auth: bool = True


class CourierApi:
    """One courier's shape. Subclasses list their routes and answer errors in their own shape."""

    code: str = ""

    def __init__(self, state: SandboxState, *, key: str, secret: str):
        self.state = state
        self.key = key
        self.secret = secret
        self.routes: list[Route] = []

    def route(self, method: str, pattern: str, handler, *, auth: bool = True) -> None:
        self.routes.append(Route(method, re.compile(f"^{pattern}$"), handler, auth))

    def match(self, request: Request) -> tuple[Route, re.Match] | bool | None:
        """The route and its match; False when the path exists under another method."""
        other_method = False
        for route in self.routes:
            found = route.pattern.match(request.path)
            if found:
                if route.method == request.method:
                    return route, found
                other_method = True
        return False if other_method else None

    # Each courier answers these in its own shape.
    def authenticate(self, request: Request) -> Response | None:
        raise NotImplementedError

    def bad_request(self, request: Request, error: BadRequest) -> Response:
        raise NotImplementedError

    def not_found(self, request: Request) -> Response:
        raise NotImplementedError

    def rate_limited(self, request: Request, seconds: float) -> Response:
        raise NotImplementedError

    def server_error(self, request: Request, status: int) -> Response:
        raise NotImplementedError

    # Shared helpers.
    def basic_ok(self, request: Request) -> bool:
        return basic_credentials(request.header("Authorization")) == (self.key, self.secret)


def basic_credentials(header: str) -> tuple[str, str] | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


def bearer_token(header: str) -> str:
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def refused(postcode: Any, lines: Any) -> str:
    """Why the courier refuses this receiver, or "" when it does not."""
    if str(postcode or "").strip() == REFUSED_POSTCODE:
        return f"postcode {REFUSED_POSTCODE} is not a serviceable postcode"
    for line in lines or []:
        if REFUSED_WORD in str(line).upper():
            return f"address line {line!r} cannot be delivered to"
    return ""


def require(data: Any, path: str) -> Any:
    """``data`` at the dotted ``path`` (``a.b.0.c``); BadRequest naming the path when absent."""
    current = data
    for part in path.split("."):
        if isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        elif isinstance(current, dict) and part in current:
            current = current[part]
        else:
            raise BadRequest(f"missing required field {path}", field=path)
    if current in (None, "", []):
        raise BadRequest(f"missing required field {path}", field=path)
    return current


def positive_number(value: Any, path: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise BadRequest(f"{path} must be a number", field=path) from None
    if number <= 0:
        raise BadRequest(f"{path} must be greater than zero", field=path)
    return number


def new_id() -> str:
    return str(uuid.uuid4())


# --- labels ---------------------------------------------------------------------------------
def pdf_label(text: str) -> bytes:
    """A one-page PDF (4x6 in) that says ``text``: small, valid, opens in any viewer."""
    safe = re.sub(r"[()\\]", "", text)[:80]
    stream = f"BT /F1 18 Tf 20 380 Td (SANDBOX LABEL) Tj 0 -28 Td ({safe}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 288 432] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def zpl_label(text: str) -> bytes:
    safe = re.sub(r"[\^~]", "", text)[:60]
    return (
        "^XA^CI28^FO40,40^A0N,40,40^FDSANDBOX LABEL^FS"
        f"^FO40,100^A0N,30,30^FD{safe}^FS^FO40,160^BCN,120,Y,N,N^FD{safe}^FS^XZ"
    ).encode()


# A 1x1 white GIF and PNG (UPS answers GIF or PNG images for those formats).
GIF_1PX = base64.b64decode("R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==")
PNG_1PX = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8/x8AAwMCAO+ip1sAAAAASUVORK5CYII="
)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# --- time spellings -------------------------------------------------------------------------
def at(epoch: float, tz: dt.tzinfo = dt.UTC) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, tz).replace(microsecond=0)


AEST = dt.timezone(dt.timedelta(hours=10))
