"""Helpers for shipping tests: a packed order through the real API, couriers pointed at the sandbox."""

from __future__ import annotations

import requests
from django.conf import settings

from inventory.models import Sku
from shipping.couriers import COURIER_CODES
from tests.fulfilment.helpers import make_world, post_shopify
from tests.fulfilment.payloads import shopify_address, shopify_line, shopify_order, shopify_shipping_line

SANDBOX_KEY, SANDBOX_SECRET, SANDBOX_ACCOUNT = "sandbox", "sandbox-secret", "ACC123456"
NAMES = {"dhl_express": "DHL_EXPRESS", "auspost": "AUSPOST", "fedex": "FEDEX", "ups": "UPS"}

# Where each courier of the demo rules ships from and to (warehouse, destination address).
ROUTES = {
    "auspost": ("AU", {"country_code": "AU", "city": "Fitzroy", "zip": "3065", "province_code": "VIC"}),
    "dhl_express": (
        "AU",
        {"country_code": "NZ", "country": "New Zealand", "city": "Auckland", "zip": "1010", "province_code": ""},
    ),
    "ups": (
        "US",
        {"country_code": "US", "country": "United States", "city": "Austin", "zip": "78701", "province_code": "TX"},
    ),
    "fedex": (
        "US",
        {"country_code": "CA", "country": "Canada", "city": "Toronto", "zip": "M5V 2T6", "province_code": "ON"},
    ),
}


def point_couriers_at(sandbox, settings_fixture, *, only=COURIER_CODES) -> None:
    couriers = {}
    for code, name in NAMES.items():
        values = dict(settings.COURIERS[name])
        if code in only:
            values.update(
                BASE_URL=sandbox.base_url(code), KEY=SANDBOX_KEY, SECRET=SANDBOX_SECRET, ACCOUNT=SANDBOX_ACCOUNT
            )
        else:
            values.update(BASE_URL="", KEY="", SECRET="", ACCOUNT="")
        couriers[name] = values
    settings_fixture.COURIERS = couriers


def world(stock=None):
    made = make_world(stock or {"ARCH-EU42": 50, "ARCH-EU38": 50})
    Sku.objects.filter(code="ARCH-EU42").update(barcode="09312345000421", hs_code="6406.90")
    return made


def packed_order(client, packer, n: int, *, courier_route: str = "auspost", lines=(("ARCH-EU42", 2),), express=False):
    """A Shopify order for the route's destination, reserved, picked in a wave and packed over the API."""
    _, address = ROUTES[courier_route]
    items = [
        shopify_line(
            id=1000 * n + i, sku=sku, quantity=q, current_quantity=q, fulfillable_quantity=q, name=f"Arch insole {sku}"
        )
        for i, (sku, q) in enumerate(lines)
    ]
    extra = {}
    if express:
        extra["shipping_lines"] = [shopify_shipping_line(code="Express", title="Express")]
    payload = shopify_order(id=n, name=f"#{n}", line_items=items, shipping_address=shopify_address(**address), **extra)
    answer = post_shopify(client, payload, event_id=f"evt-ship-{n}").json()
    order = answer["order"]
    assert order["status"] == "reserved", answer
    wave = packer.post("/api/pick-waves/", {"warehouse": order["warehouse"]}, format="json")
    assert wave.status_code == 201, wave.content
    packed = packer.post(
        f"/api/orders/{order['id']}/pack",
        {"items": [{"sku": sku, "quantity": q} for sku, q in lines], "weight_g": 420, "dimensions_cm": [30, 12, 4]},
        format="json",
    )
    assert packed.status_code == 200, packed.content
    return order["id"], wave.json()["id"]


def sandbox_shipments(sandbox, courier: str) -> list[dict]:
    answer = requests.get(sandbox.url.rstrip("/") + "/_sandbox/shipments", params={"courier": courier}, timeout=5)
    answer.raise_for_status()
    body = answer.json()
    return body["shipments"] if isinstance(body, dict) else body


def sandbox_fault(sandbox, **fault) -> None:
    requests.post(sandbox.url.rstrip("/") + "/_sandbox/faults", json=fault, timeout=5).raise_for_status()
