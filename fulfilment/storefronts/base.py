"""Storefront-neutral webhook types and the strict readers the storefront modules share.

Everything here is pure: bytes and mappings in, frozen dataclasses out. No ORM,
no settings, no HTTP. Every reader raises ``PayloadInvalid`` (with the JSON path
in ``extra["field"]``) instead of letting ``TypeError``/``KeyError`` escape,
because a malformed body must become a 400, never a 500.

A *well-formed but implausible* value (an amount or a count its column cannot hold, a
negative price) is not a 400: the order is signed and may be paid, and a storefront that
gets a 400 gives up on it. The reader stores a value that fits instead and records an
``Issue`` (a hold reason, the JSON path, what was sent and what is stored); the service
keeps the order on hold for it. Limits that depend on settings are the services' business.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Protocol

from fulfilment.errors import PayloadInvalid, SignatureInvalid

ACTION_UPSERT = "upsert"
ACTION_CANCEL = "cancel"
SERVICE_EXPRESS = "express"
SERVICE_STANDARD = "standard"
# The shop key of every order when no shop is configured. Never a header's value: the HMAC
# covers the body only, so a shop header is anyone's to change, and orders are unique per shop.
DEFAULT_SHOP = "default"

# The columns' own limits (tests/fulfilment/test_storefronts.py holds them to the models): a value
# beyond them would surface in the worker as a database error and the paid order would be lost.
MAX_INT = 2**31 - 1  # PositiveIntegerField: line quantities, weights
ORDER_TOTAL_DIGITS = 14  # Order.total_price DECIMAL(14, 2)
LINE_PRICE_DIGITS = 12  # OrderLine.unit_price DECIMAL(12, 2)
CENT = Decimal("0.01")
# Timestamps are short; a 10 kB "date" is garbage, not a timestamp.
MAX_SCALAR_TEXT = 64
# Longest shipping-address fields kept (Order.shipping_address is JSON, so these are ours): the
# storefronts' own limits (Shopify's address fields take 255 characters) and what operations may
# type when they fix an address (fulfilment/api.py OrderEdit). Longer is not an address.
ADDRESS_LIMITS = {
    "name": 255,
    "company": 255,
    "address1": 255,
    "address2": 255,
    "city": 255,
    "province": 255,
    "province_code": 16,
    "postcode": 32,
    "phone": 64,
    "email": 254,  # RFC 5321's longest forward path
}
# How much of an implausible value a hold detail quotes.
_SHOWN = 40

# Hold reasons a parser finds on its own; the same strings as fulfilment.models.HoldReason,
# which a pure module cannot import (test_storefronts.py holds them equal).
IMPLAUSIBLE_QUANTITY = "implausible_quantity"
IMPLAUSIBLE_AMOUNT = "implausible_amount"
TEXT_TOO_LONG = "text_too_long"
TOPIC_MISMATCH = "topic_mismatch"

_EXPRESS_RE = re.compile(r"express|priority|overnight|next[\s_-]?day", re.IGNORECASE)
_COUNTRY_RE = re.compile(r"[A-Z]{2}")
_ID_TEXT_RE = re.compile(r"[0-9]{1,20}")
# A plain decimal number; "NaN", "Infinity", "0x10" and "1_000" are not amounts a storefront sends.
_DECIMAL_TEXT_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


@dataclass(frozen=True)
class Issue:
    """Why a signed order cannot be right as sent: a hold reason, where, and what is stored instead."""

    reason: str
    field: str  # the JSON path, or for an address field ``shipping_address.<name>``
    detail: str  # names the field, quotes what was sent, says what is stored
    stored: str = ""  # text: the shortened value kept; the hold lasts while the order still has it


@dataclass(frozen=True)
class Address:
    name: str = ""
    company: str = ""
    address1: str = ""
    address2: str = ""
    city: str = ""
    province: str = ""
    province_code: str = ""
    postcode: str = ""
    country_code: str = ""  # ISO-3166 alpha-2, upper-case; "" if missing or not a code
    phone: str = ""
    email: str = ""


@dataclass(frozen=True)
class LineIn:
    external_id: str
    sku: str  # "" when the storefront has none; the service puts the order on hold
    title: str
    quantity: int
    requires_shipping: bool
    unit_price: Decimal
    fulfillable_quantity: int | None


@dataclass(frozen=True)
class OrderIn:
    external_id: str
    number: str
    email: str
    customer_name: str
    financial_status: str
    is_paid: bool
    is_cancelled: bool
    currency: str
    total_price: Decimal
    total_weight_g: int
    service_level: str  # "express" | "standard"
    shipping_method: str
    shipping_address: Address | None
    lines: tuple[LineIn, ...]
    paid_at: datetime | None
    updated_at: datetime | None
    cancelled_at: datetime | None
    issues: tuple[Issue, ...] = ()  # values that cannot be right; the order is kept on hold for them


@dataclass(frozen=True)
class Delivery:
    channel: str
    topic: str
    event_id: str
    shop: str  # from configuration (DEFAULT_SHOP when none is configured), never from a header
    body: bytes
    headers: dict[str, str]  # lower-case names, only the ones worth logging


@dataclass(frozen=True)
class IncomingOrder:
    delivery: Delivery
    action: str  # "upsert" | "cancel"
    order: OrderIn


class Storefront(Protocol):
    """What every storefront module provides (modules satisfy this structurally)."""

    NAME: str

    def verify(
        self, *, headers: Mapping[str, str], body: bytes, secrets: Sequence[str], shop_domain: str | None = None
    ) -> Delivery: ...

    def parse(self, delivery: Delivery) -> IncomingOrder | None: ...

    def shop_key(self, shop_domain: str | None) -> str: ...


# --- transport -------------------------------------------------------------


def lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Copy headers with lower-cased names so plain dicts behave like request.headers."""
    return {str(name).lower(): str(value).strip() for name, value in headers.items()}


def check_signature(*, body: bytes, signature: str | None, secrets: Sequence[str], header: str) -> None:
    """Raise SignatureInvalid unless base64(HMAC-SHA256(secret, body)) matches for some secret."""
    if not signature:
        raise SignatureInvalid(f"Missing {header} header.", header=header)
    # Header values may hold any character; compare bytes so compare_digest never
    # raises on non-ASCII input.
    provided = signature.encode("utf-8", "replace")
    matched = False
    for secret in secrets:
        # An empty secret (e.g. an unset env var) would let anyone sign: never use it.
        if not secret or not secret.strip():
            continue
        expected = base64.b64encode(hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest())
        # No early exit: try every secret so timing does not reveal which one matched.
        matched |= hmac.compare_digest(expected, provided)
    if not matched:
        raise SignatureInvalid(f"{header} does not match the request body.", header=header)


def require_header(headers: Mapping[str, str], name: str, *, max_length: int = 255) -> str:
    """Return a required header from lower-cased ``headers`` or raise PayloadInvalid."""
    value = headers.get(name.lower(), "")
    if not value:
        raise PayloadInvalid(f"Missing {name} header.", field=name)
    if len(value) > max_length:
        raise PayloadInvalid(f"{name} header is too long.", field=name)
    return value


def load_object(body: bytes) -> dict[str, Any]:
    """Decode a JSON object body, turning every decoding failure into PayloadInvalid."""
    try:
        data = json.loads(body, parse_constant=_reject_constant)
    except RecursionError:
        raise PayloadInvalid("Body is nested too deeply.", field="") from None
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError, int-digit limit
        raise PayloadInvalid(f"Body is not valid JSON: {exc}", field="") from None
    if not isinstance(data, dict):
        raise PayloadInvalid("Body must be a JSON object.", field="")
    return data


def _reject_constant(name: str) -> Any:
    # NaN/Infinity are not JSON; accepting them would smuggle non-finite numbers in.
    raise ValueError(f"{name} is not allowed")


# --- field readers -----------------------------------------------------------


def join(path: str, key: str | int) -> str:
    """Build a readable JSON path such as ``line_items[2].quantity``."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _invalid(path: str, expected: str, value: Any) -> PayloadInvalid:
    return PayloadInvalid(f"{path or 'body'} must be {expected}, got {type(value).__name__}.", field=path)


def clean_text(value: str) -> str:
    """Drop NUL and replace lone surrogates: storable text without rejecting a paid order."""
    value = value.replace("\x00", "")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value


def get_text(obj: Mapping[str, Any], key: str, path: str) -> str:
    """Read an optional text field: null/missing -> "", integers are stringified (zip, phone)."""
    value = obj.get(key)
    if value is None:
        return ""
    if isinstance(value, str):
        return clean_text(value).strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise _invalid(join(path, key), "a string", value)


def get_id(obj: Mapping[str, Any], key: str, path: str) -> str:
    """Read a required positive integer id (or its decimal string) as a string."""
    field = join(path, key)
    value = obj.get(key)
    if isinstance(value, str) and _ID_TEXT_RE.fullmatch(value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise PayloadInvalid(f"{field} is missing or not an integer id.", field=field)
    if value <= 0 or value.bit_length() > 64:
        raise PayloadInvalid(f"{field} is out of range.", field=field)
    return str(value)


def get_int(obj: Mapping[str, Any], key: str, path: str, *, default: int | None) -> int | None:
    """Read an integer of any size or sign; null/missing -> default; floats, strings, bools refused.

    The range is for ``get_count`` to judge: a huge or negative integer is well-formed."""
    value = obj.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid(join(path, key), "an integer", value)
    return value


def get_count(
    obj: Mapping[str, Any],
    key: str,
    path: str,
    issues: list[Issue],
    *,
    default: int | None,
    reason: str = IMPLAUSIBLE_QUANTITY,
    over: int = MAX_INT,
) -> int | None:
    """Read a non-negative integer for a 32-bit column (quantities, weights).

    Negative: 0 is stored; beyond the column: ``over`` is stored (a quantity keeps the column's
    maximum, still implausible; a weight keeps 0). Either way an Issue with ``reason`` is recorded.
    """
    value = get_int(obj, key, path, default=default)
    if value is None or 0 <= value <= MAX_INT:
        return value
    field = join(path, key)
    stored = 0 if value < 0 else over
    why = "negative" if value < 0 else f"more than its column holds ({MAX_INT})"
    issues.append(Issue(reason, field, f"{field} is {_shown(str(value))}, {why}; stored {stored}"))
    return stored


def require_count(obj: Mapping[str, Any], key: str, path: str, issues: list[Issue]) -> int:
    """Read a required quantity (see ``get_count``)."""
    value = get_count(obj, key, path, issues, default=None)
    if value is None:
        field = join(path, key)
        raise PayloadInvalid(f"{field} is required.", field=field)
    return value


def get_amount(obj: Mapping[str, Any], key: str, path: str, issues: list[Issue], *, digits: int) -> Decimal:
    """Read a money amount for a DECIMAL(digits, 2) column from a decimal string or JSON number.

    null/missing -> 0. Not a number at all: PayloadInvalid. A number the column cannot hold
    once rounded to cents as the database rounds it (half away from zero), a negative one,
    or a JSON number too large for a float (it arrives as infinity): 0 is stored and an
    ``implausible_amount`` Issue recorded. Otherwise the amount rounded to cents.
    """
    field = join(path, key)
    value = obj.get(key)
    if value is None:
        return Decimal(0)
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _invalid(field, "a decimal string or number", value)
    if isinstance(value, float) and not math.isfinite(value):
        return _implausible_amount(issues, field, str(value), "not a finite number")
    # str() of a float gives its shortest repr ("21.99"), not the binary expansion.
    text = str(value).strip()
    if not _DECIMAL_TEXT_RE.fullmatch(text):
        raise PayloadInvalid(f"{field} is not a decimal amount: {_shown(text)!r}.", field=field)
    try:
        amount = Decimal(text)
    except InvalidOperation:  # an exponent beyond what decimal arithmetic represents, e.g. 1e99999999999999999999
        return _implausible_amount(issues, field, text, "out of any decimal range")
    limit = Decimal(10) ** (digits - 2)
    if amount < 0:
        return _implausible_amount(issues, field, text, "negative")
    # Compare before rounding: quantize() of 1e300 would exceed the decimal context.
    if amount >= limit or (rounded := amount.quantize(CENT, rounding=ROUND_HALF_UP)) >= limit:
        return _implausible_amount(issues, field, text, f"more than DECIMAL({digits},2) holds once rounded to cents")
    return rounded


def _implausible_amount(issues: list[Issue], field: str, text: str, why: str) -> Decimal:
    issues.append(Issue(IMPLAUSIBLE_AMOUNT, field, f"{field} is {_shown(text)}, {why}; stored 0"))
    return Decimal(0)


def _shown(text: str) -> str:
    """Quote at most _SHOWN characters of a value in a hold detail."""
    return text if len(text) <= _SHOWN else f"{text[:_SHOWN]}... ({len(text)} characters)"


def get_bool(obj: Mapping[str, Any], key: str, path: str, *, default: bool) -> bool:
    """Read a JSON boolean; null/missing -> default."""
    value = obj.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise _invalid(join(path, key), "a boolean", value)
    return value


def get_object(obj: Mapping[str, Any], key: str, path: str) -> dict[str, Any] | None:
    """Read an optional nested JSON object; null/missing -> None."""
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _invalid(join(path, key), "an object", value)
    return value


def get_list(obj: Mapping[str, Any], key: str, path: str) -> list[Any]:
    """Read an optional JSON array; null/missing -> []."""
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise _invalid(join(path, key), "an array", value)
    return value


def object_items(items: list[Any], path: str) -> list[tuple[str, dict[str, Any]]]:
    """Pair each array element with its path, refusing elements that are not objects."""
    pairs = []
    for index, item in enumerate(items):
        item_path = join(path, index)
        if not isinstance(item, dict):
            raise _invalid(item_path, "an object", item)
        pairs.append((item_path, item))
    return pairs


def get_datetime(obj: Mapping[str, Any], key: str, path: str, *, naive_is_utc: bool) -> datetime | None:
    """Read an ISO-8601 timestamp as an aware datetime; null/missing/"" -> None.

    Naive values are UTC when ``naive_is_utc`` (WooCommerce ``*_gmt`` fields) and
    refused otherwise, since their zone would be a guess.
    """
    field = join(path, key)
    value = obj.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _invalid(field, "an ISO-8601 string", value)
    if len(value) > MAX_SCALAR_TEXT:
        raise PayloadInvalid(f"{field} is too long to be a timestamp.", field=field)
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise PayloadInvalid(f"{field} is not an ISO-8601 timestamp: {value!r}.", field=field) from None
    if moment.tzinfo is None:
        if not naive_is_utc:
            raise PayloadInvalid(f"{field} has no UTC offset: {value!r}.", field=field)
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00
        raise PayloadInvalid(f"{field} is out of range: {value!r}.", field=field) from None


# --- shared normalisation ------------------------------------------------------


def country_code(value: str) -> str:
    """Upper-case an ISO-3166 alpha-2 code; anything else becomes "" (the order goes on hold)."""
    code = value.strip().upper()
    return code if _COUNTRY_RE.fullmatch(code) else ""


def service_level(texts: Sequence[str]) -> str:
    """Express if any shipping-line code or title names an express-type service."""
    return SERVICE_EXPRESS if any(_EXPRESS_RE.search(text) for text in texts) else SERVICE_STANDARD


def full_name(first: str, last: str) -> str:
    """Join name parts without stray spaces (either may be empty)."""
    return " ".join(part for part in (first, last) if part)


def address_or_none(address: Address, issues: list[Issue]) -> Address | None:
    """The shipping address, each field within ADDRESS_LIMITS; absent if it has no location fields
    (digital-only orders).

    A field too long is shortened to its limit and recorded as a ``text_too_long`` Issue rather
    than cut silently: a label printed from half a street sends the parcel astray, so a person
    must look (the hold lasts until the field is corrected or the storefront sends a new one).
    """
    located = (address.address1, address.address2, address.city, address.postcode, address.country_code)
    if not any(located):
        return None
    shortened = {}
    for name, limit in ADDRESS_LIMITS.items():
        value = getattr(address, name)
        if len(value) > limit:
            field = f"shipping_address.{name}"
            stored = value[:limit]
            detail = f"{field} is {len(value)} characters, more than a label takes ({limit}); stored the first {limit}"
            issues.append(Issue(TEXT_TOO_LONG, field, detail, stored=stored))
            shortened[name] = stored
    return replace(address, **shortened) if shortened else address
