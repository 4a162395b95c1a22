"""The courier adapter interface: what every courier module speaks, and nothing else.

Adapters do HTTP only (one ``requests.Session`` each, connect and read timeouts on every
call) and never touch the ORM: they take plain frozen dataclasses and return plain frozen
dataclasses. Services in ``shipping.services`` own the database side (shipments, parcels,
events, the outbox).

Errors are one hierarchy. ``RetryableError`` (timeout, connection error, 5xx, 429) may be
tried again later, after ``retry_after`` seconds when the courier said so; ``ambiguous`` is
True when the courier may have acted on the request (a read timeout or a 5xx after the body
was sent), so a booking retry must first look the booking up by our reference.
``PermanentError`` (any other 4xx) carries the courier's own error code and message and is
never retried as it is.
"""

from __future__ import annotations

import abc
import datetime as dt
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

import requests

from config.http import retry_after_seconds

logger = logging.getLogger("shipping.couriers")

# --- The tracking vocabulary (DESIGN.md "Couriers") ----------------------------------------
LABEL_CREATED = "label_created"
PICKED_UP = "picked_up"
IN_TRANSIT = "in_transit"
OUT_FOR_DELIVERY = "out_for_delivery"
AVAILABLE_FOR_PICKUP = "available_for_pickup"
DELIVERED = "delivered"
ATTEMPT_FAILED = "attempt_failed"
EXCEPTION = "exception"
RETURNING_TO_SENDER = "returning_to_sender"
CANCELLED = "cancelled"

# The ranked statuses: a shipment's status never moves to a lower rank.
RANK = {
    LABEL_CREATED: 1,
    PICKED_UP: 2,
    IN_TRANSIT: 3,
    OUT_FOR_DELIVERY: 4,
    AVAILABLE_FOR_PICKUP: 4,
    DELIVERED: 5,
}
# Side states: recorded and shown, they do not move the rank.
SIDE_STATES = (ATTEMPT_FAILED, EXCEPTION, RETURNING_TO_SENDER, CANCELLED)
EVENT_STATUSES = (*RANK, *SIDE_STATES)

SERVICE_LEVELS = ("express", "standard")


# --- Errors -------------------------------------------------------------------------------
class CourierError(Exception):
    """Anything a courier call can fail with. ``code`` and ``message`` are the courier's own."""

    retryable = False

    def __init__(self, courier: str, message: str, *, code: str = "", http_status: int | None = None):
        super().__init__(f"{courier}: {message}" + (f" ({code})" if code else ""))
        self.courier = courier
        self.message = message
        self.code = code
        self.http_status = http_status


class RetryableError(CourierError):
    """Timeout, connection error, 5xx or 429: try again later (after ``retry_after`` seconds if set)."""

    retryable = True

    def __init__(
        self,
        courier: str,
        message: str,
        *,
        code: str = "",
        http_status: int | None = None,
        retry_after: float | None = None,
        ambiguous: bool = False,
    ):
        super().__init__(courier, message, code=code, http_status=http_status)
        self.retry_after = retry_after
        self.ambiguous = ambiguous


class RateLimited(RetryableError):
    """The courier answered 429 (or our shared bucket is empty): wait ``retry_after`` seconds."""


class PermanentError(CourierError):
    """A 4xx other than 429 (bad address, bad account, unknown number): retrying will not help."""


class AuthError(PermanentError):
    """The courier refused our credentials (after one token refresh for OAuth couriers)."""


class NotConfigured(PermanentError):
    """The courier has no base URL or credentials in settings."""


# --- Requests -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Party:
    """A shipper or receiver. ``lines`` are the street lines (1 to 3); country is ISO alpha-2."""

    name: str
    lines: tuple[str, ...]
    city: str
    postcode: str
    country: str
    company: str = ""
    state: str = ""  # province / state code where the country uses one (US, AU, CA)
    phone: str = ""
    email: str = ""
    tax_id: str = ""


@dataclass(frozen=True)
class Parcel:
    weight_g: int
    dimensions_cm: tuple[int, int, int] | None = None


@dataclass(frozen=True)
class CustomsLine:
    """One export declaration line (international shipments)."""

    description: str
    quantity: int
    unit_value: Decimal  # in BookingRequest.currency
    hs_code: str  # 6406 for insoles
    origin_country: str  # ISO alpha-2
    weight_g: int  # net weight of the whole line
    sku: str = ""


@dataclass(frozen=True)
class BookingRequest:
    shipper: Party
    receiver: Party
    parcels: tuple[Parcel, ...]
    service: str  # "express" | "standard" (our level); product_code is the courier's
    ship_at: dt.datetime  # aware: the planned shipping time
    product_code: str = ""  # the courier's product/service code; "" lets the adapter choose
    currency: str = "AUD"
    declared_value: Decimal = Decimal("0")
    customs: tuple[CustomsLine, ...] = ()
    incoterm: str = "DAP"
    description: str = "Insoles"
    label_format: str = "pdf"  # the courier's own label document, when it returns one: pdf | zpl

    @property
    def international(self) -> bool:
        return self.shipper.country != self.receiver.country


# --- Results ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Booking:
    """What a booking (or a reference lookup) found.

    ``tracking_number`` is the number the customer tracks (DHL waybill, Australia Post article
    id of the first item, FedEx master, UPS shipment identification number); ``parcels`` are
    the per-piece numbers in parcel order. ``courier_id`` is what ``void`` needs (Australia Post
    ``shipment_id``; the tracking number elsewhere).
    """

    courier: str
    reference: str
    tracking_number: str
    parcels: tuple[str, ...]
    product_code: str = ""
    courier_id: str = ""
    routing_code: str = ""
    origin: str = ""  # origin service area / facility code, for the label
    destination: str = ""
    label_document: bytes | None = None  # the courier's own label, kept beside ours
    label_format: str = ""  # "pdf" | "zpl" | ""
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class TrackingEvent:
    tracking_number: str
    code: str  # the courier's own: DHL typeCode, FedEx eventType, UPS type/code, AusPost description
    description: str
    status: str  # one of EVENT_STATUSES
    occurred_at: dt.datetime  # aware
    location: str = ""
    reason: str = ""  # exception reason where the courier gives one


@dataclass(frozen=True)
class TrackingSnapshot:
    """Everything the courier knows about one number; ``found`` False for an unknown number."""

    tracking_number: str
    events: tuple[TrackingEvent, ...]
    found: bool = True
    estimated_delivery: dt.datetime | None = None


@dataclass(frozen=True)
class Manifest:
    courier: str
    reference: str  # the courier's manifest / order / close id, or ours where it has none
    tracking_numbers: tuple[str, ...]
    document: bytes | None = None  # the courier's manifest PDF where it returns one


@dataclass(frozen=True)
class Capabilities:
    track_batch: int  # how many numbers one tracking call takes
    void: bool  # the courier has a void / cancel call (DHL Express does not)
    manifest: bool  # the courier has an end-of-day close / order call
    push: bool  # the courier can push tracking to /webhooks/couriers/{code}
    label_document: bool  # the booking answer carries the courier's own label


# --- Shared state across workers (Redis-backed in production; see tokens.py, ratelimit.py) --
class TokenStore(Protocol):
    def get(self, key: str) -> str | None: ...
    def set(self, key: str, value: str, ttl_seconds: float) -> None: ...
    def delete(self, key: str) -> None: ...


class RateLimiter(Protocol):
    def acquire(self, courier: str) -> None:
        """Block until one call may go out now, or raise RateLimited if the wait is too long."""

    def block(self, courier: str, seconds: float) -> None:
        """A 429 said Retry-After: every worker waits this long before calling again."""


class MemoryTokenStore:
    """One process only: for tests and the embedded mode without Redis."""

    def __init__(self):
        self._values: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            value, until = self._values.get(key, ("", 0.0))
            return value if until > time.monotonic() else None

    def set(self, key, value, ttl_seconds):
        with self._lock:
            self._values[key] = (value, time.monotonic() + ttl_seconds)

    def delete(self, key):
        with self._lock:
            self._values.pop(key, None)


class NoRateLimit:
    def acquire(self, courier):
        return None

    def block(self, courier, seconds):
        return None


@dataclass(frozen=True)
class CourierConfig:
    base_url: str
    key: str = ""
    secret: str = ""
    account: str = ""
    connect_timeout: float = 3.05
    read_timeout: float = 15.0
    options: Mapping[str, str] = field(default_factory=dict)  # courier-specific extras (UPS version)

    @property
    def configured(self) -> bool:
        return bool(self.base_url and self.key and self.secret)


# --- The adapter --------------------------------------------------------------------------
class Courier(abc.ABC):
    """One courier. Subclasses set ``code``, ``name``, ``capabilities`` and ``status_codes``."""

    code: str
    name: str
    capabilities: Capabilities
    # Every courier event code this adapter knows -> one of EVENT_STATUSES (a test checks each
    # code maps exactly once). Unknown codes map to IN_TRANSIT with a warning, never an error.
    status_codes: Mapping[str, str]

    def __init__(
        self,
        config: CourierConfig,
        *,
        session: requests.Session | None = None,
        tokens: TokenStore | None = None,
        rate_limiter: RateLimiter | None = None,
    ):
        self.config = config
        self.session = session or requests.Session()
        self.tokens = tokens or MemoryTokenStore()
        self.rate_limiter = rate_limiter or NoRateLimit()

    # What every courier does.
    @abc.abstractmethod
    def book(self, request: BookingRequest, reference: str) -> Booking:
        """Book one shipment (one or more parcels) carrying our ``reference`` (the shipment id)."""

    @abc.abstractmethod
    def find_by_reference(self, reference: str) -> Booking | None:
        """The booking carrying our reference, or None: the exactly-once lookup before a rebook."""

    @abc.abstractmethod
    def track(self, numbers: Sequence[str]) -> list[TrackingSnapshot]:
        """Snapshots for at most ``capabilities.track_batch`` numbers, one per number asked."""

    @abc.abstractmethod
    def void(self, booking: Booking) -> bool:
        """Cancel with the courier: True if the courier voided it, False where it has no void call
        (the shipment is then recorded void on our side only)."""

    def manifest(self, bookings: Sequence[Booking]) -> Manifest:
        """End-of-day close. Couriers without one get a manifest of our own (no courier call)."""
        return Manifest(
            courier=self.code,
            reference="",
            tracking_numbers=tuple(b.tracking_number for b in bookings),
        )

    def parse_push(self, headers: Mapping[str, str], body: bytes) -> list[TrackingEvent]:
        """Events from a tracking push, after verifying it; PermanentError if it does not verify."""
        raise PermanentError(self.code, "this courier does not push tracking", code="push_unsupported")

    @abc.abstractmethod
    def tracking_url(self, number: str) -> str:
        """The courier's public tracking page for a number (pushed to the storefront)."""

    # Helpers for subclasses.
    def status_for(self, code: str) -> str:
        status = self.status_codes.get(code)
        if status is None:
            logger.warning("%s: unknown event code %r, taken as in_transit", self.code, code)
            return IN_TRANSIT
        return status

    def require_configured(self) -> None:
        if not self.config.configured:
            raise NotConfigured(self.code, "no base URL or credentials configured", code="courier_not_configured")

    def url(self, path: str) -> str:
        return self.config.base_url.rstrip("/") + path

    def http(
        self,
        method: str,
        path: str,
        *,
        ambiguous_on_timeout: bool = False,
        expected: Sequence[int] = (200, 201),
        **kwargs,
    ) -> requests.Response:
        """One call: shared rate limit, timeouts always, errors mapped to the hierarchy.

        ``ambiguous_on_timeout`` marks calls that change state at the courier (a booking): a
        read timeout or a 5xx then means the courier may have acted, and the error says so.
        A non-expected answer below 500 other than 429 is returned to the caller for its own
        error mapping through ``permanent_error``; callers that want it raised call
        ``raise_for_answer``.
        """
        self.require_configured()
        self.rate_limiter.acquire(self.code)
        kwargs.setdefault("timeout", (self.config.connect_timeout, self.config.read_timeout))
        started = time.monotonic()
        try:
            response = self.session.request(method, self.url(path), **kwargs)
        except requests.exceptions.ConnectTimeout as exc:
            _observe(self.code, "timeout", started)
            raise RetryableError(self.code, f"connect timeout: {exc}", code="connect_timeout") from exc
        except requests.exceptions.ReadTimeout as exc:
            _observe(self.code, "timeout", started)
            raise RetryableError(
                self.code, f"read timeout: {exc}", code="read_timeout", ambiguous=ambiguous_on_timeout
            ) from exc
        except requests.exceptions.ConnectionError as exc:
            _observe(self.code, "connection_error", started)
            # The connection broke: before or after the courier read the request, we cannot tell.
            raise RetryableError(
                self.code, f"connection error: {exc}", code="connection_error", ambiguous=ambiguous_on_timeout
            ) from exc
        except requests.exceptions.RequestException as exc:
            _observe(self.code, "connection_error", started)
            raise RetryableError(self.code, f"request failed: {exc}", code="request_error") from exc
        _observe(self.code, _outcome(response.status_code, expected), started)
        if response.status_code == 429:
            retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            if retry_after:
                self.rate_limiter.block(self.code, retry_after)
            raise RateLimited(self.code, "rate limited", code="429", http_status=429, retry_after=retry_after)
        if response.status_code >= 500:
            raise RetryableError(
                self.code,
                f"server error {response.status_code}: {response.text[:300]}",
                code=str(response.status_code),
                http_status=response.status_code,
                retry_after=retry_after_seconds(response.headers.get("Retry-After")),
                ambiguous=ambiguous_on_timeout,
            )
        return response

    def json_answer(self, response: requests.Response, *, ambiguous: bool = False) -> dict[str, Any]:
        """The answer's JSON object; an unreadable one is retryable (a proxy's HTML page, a cut body),
        and ``ambiguous`` where the courier may have acted on the request."""
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise RetryableError(
                self.code,
                f"unreadable answer ({response.status_code}): {response.text[:200]}",
                code="bad_response",
                http_status=response.status_code,
                ambiguous=ambiguous,
            )
        return data

    def permanent_error(self, response: requests.Response) -> PermanentError:
        """The courier's own code and message from a 4xx answer; subclasses parse their shape."""
        return PermanentError(
            self.code,
            response.text[:500] or f"HTTP {response.status_code}",
            code=str(response.status_code),
            http_status=response.status_code,
        )


def _outcome(status: int, expected: Sequence[int]) -> str:
    """A courier answer as a metrics outcome: expected answers (and a lookup's 404) are ``ok``."""
    if status == 429:
        return "rate_limited"
    if status >= 500:
        return "server_error"
    if status < 400 or status in expected or status == 404:
        return "ok"
    return "client_error"


def _observe(courier: str, outcome: str, started: float) -> None:
    """Latency and errors per courier on /metrics (shipping.metrics)."""
    from shipping.metrics import courier_request_observe

    courier_request_observe(courier, outcome, time.monotonic() - started)
