"""Plain helpers for the FedEx and UPS adapter tests: requests to book, a real local HTTP peer."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal

import requests
from werkzeug import Request, Response

from shipping.couriers.base import BookingRequest, CourierConfig, CustomsLine, MemoryTokenStore, Parcel, Party

SHIP_AT = dt.datetime(2026, 7, 1, 14, 0, tzinfo=dt.UTC)

SYDNEY = Party(
    name="Dispatch Desk",
    company="Insole Co",
    lines=("12 Bourke Rd",),
    city="Alexandria",
    postcode="2015",
    country="AU",
    state="NSW",
    phone="0291234567",
    email="ship@insole.example",
)
LOS_ANGELES = Party(
    name="Dispatch Desk",
    company="Insole Co",
    lines=("600 S Alameda St",),
    city="Los Angeles",
    postcode="90021",
    country="US",
    state="CA",
    phone="2135550100",
)
SEATTLE = Party(
    name="Jane Runner",
    lines=("1043 North Easy Street", "Apt 4"),
    city="Seattle",
    postcode="98101",
    country="US",
    state="WA",
    phone="2065551234",
    email="jane@example.com",
)


def international(**overrides) -> BookingRequest:
    values = {
        "shipper": SYDNEY,
        "receiver": SEATTLE,
        "parcels": (Parcel(weight_g=420, dimensions_cm=(12, 30, 4)), Parcel(weight_g=380)),
        "service": "express",
        "ship_at": SHIP_AT,
        "currency": "AUD",
        "declared_value": Decimal("119.90"),
        "customs": (
            CustomsLine(
                description="Running insoles",
                quantity=2,
                unit_value=Decimal("59.95"),
                hs_code="640610",
                origin_country="AU",
                weight_g=360,
                sku="RUN-EU42",
            ),
        ),
    }
    values.update(overrides)
    return BookingRequest(**values)


def domestic(**overrides) -> BookingRequest:
    values = {
        "shipper": LOS_ANGELES,
        "receiver": SEATTLE,
        "parcels": (Parcel(weight_g=420, dimensions_cm=(30, 12, 4)),),
        "service": "express",
        "ship_at": SHIP_AT,
        "currency": "USD",
    }
    values.update(overrides)
    return BookingRequest(**values)


def config_for(server, **overrides) -> CourierConfig:
    values = {
        "base_url": server.url_for("/").rstrip("/"),
        "key": "client-id-1",
        "secret": "client-secret-1",
        "account": "740561073",
        "connect_timeout": 2.0,
        "read_timeout": 2.0,
    }
    values.update(overrides)
    return CourierConfig(**values)


def build(cls, server, *, tokens=None, rate_limiter=None, **config):
    """An adapter as a worker has it: its own Session, the given shared token store and limiter."""
    return cls(
        config_for(server, **config),
        session=requests.Session(),
        tokens=tokens if tokens is not None else MemoryTokenStore(),
        rate_limiter=rate_limiter,
    )


def requests_to(server, path: str) -> list[Request]:
    return [request for request, _response in server.log if request.path == path]


def body_of(request: Request):
    return json.loads(request.get_data())


def json_response(body, status: int = 200, headers=None) -> Response:
    return Response(json.dumps(body), status=status, headers=headers or {}, content_type="application/json")


def redis_token_store():
    """A RedisTokenStore on the test Redis under a prefix of its own, and its clean-up."""
    from config.redis import redis_client
    from shipping.couriers.tokens import RedisTokenStore

    client = redis_client()
    prefix = f"test-token:{uuid.uuid4().hex}:"
    return RedisTokenStore(client, prefix=prefix), lambda: _delete(client, prefix)


def redis_limiter_factory():
    """Build RedisRateLimiters on the test Redis under one prefix, and the clean-up."""
    from config.redis import redis_client
    from shipping.couriers.ratelimit import RedisRateLimiter

    client = redis_client()
    prefix = f"test-rate:{uuid.uuid4().hex}:"

    def make(**kwargs):
        kwargs.setdefault("rate_per_second", 50)
        kwargs.setdefault("burst", 50)
        return RedisRateLimiter(client, prefix=prefix, **kwargs)

    return make, lambda: _delete(client, prefix)


def _delete(client, prefix: str) -> None:
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
