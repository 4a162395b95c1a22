"""Shipping test fixtures: a courier sandbox on a real socket, and booking requests."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from shipping.couriers.base import BookingRequest, CustomsLine, Parcel, Party
from shipping.sandbox import SandboxServer

SANDBOX_KEY = "sandbox"
SANDBOX_SECRET = "sandbox-secret"


@pytest.fixture(scope="session")
def _sandbox_server():
    with SandboxServer(host="127.0.0.1", port=0, key=SANDBOX_KEY, secret=SANDBOX_SECRET, advance_every=0) as server:
        yield server


@pytest.fixture
def courier_sandbox(_sandbox_server):
    """The sandbox (clock stopped: tracking moves only on ``/_sandbox/advance``), emptied per test."""
    _sandbox_server.state.reset()
    yield _sandbox_server
    _sandbox_server.state.reset()


SYDNEY_WAREHOUSE = Party(
    name="Dispatch Team",
    company="Stride Insoles Pty Ltd",
    lines=("Unit 4", "12 Industrial Road"),
    city="Alexandria",
    postcode="2015",
    country="AU",
    state="NSW",
    phone="0291234567",
    email="dispatch@stride.example",
)


def au_receiver(**changes) -> Party:
    values = {
        "name": "Jane Smith",
        "lines": ("123 Centre Road",),
        "city": "Melbourne",
        "postcode": "3000",
        "country": "AU",
        "state": "VIC",
        "phone": "0412345678",
        "email": "jane@example.com",
    }
    return Party(**{**values, **changes})


def us_receiver(**changes) -> Party:
    values = {
        "name": "Baylee Marshall",
        "lines": ("116 Marine Dr",),
        "city": "Graford",
        "postcode": "76449",
        "country": "US",
        "state": "TX",
        "phone": "9402825665",
        "email": "baylee@example.com",
    }
    return Party(**{**values, **changes})


def booking_request(*, receiver: Party | None = None, service: str = "express", parcels: int = 1, **changes):
    receiver = receiver or au_receiver()
    international = receiver.country != SYDNEY_WAREHOUSE.country
    values = {
        "shipper": SYDNEY_WAREHOUSE,
        "receiver": receiver,
        "parcels": tuple(Parcel(weight_g=450 + 100 * i, dimensions_cm=(30, 20, 5)) for i in range(parcels)),
        "service": service,
        "ship_at": dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(hours=2),
        "currency": "AUD",
        "declared_value": Decimal("119.90") if international else Decimal("0"),
        "customs": (
            (
                CustomsLine(
                    description="Orthotic insoles, pair",
                    quantity=2,
                    unit_value=Decimal("59.95"),
                    hs_code="6406",
                    origin_country="AU",
                    weight_g=400,
                    sku="INS-PRO-42",
                ),
            )
            if international
            else ()
        ),
    }
    return BookingRequest(**{**values, **changes})
