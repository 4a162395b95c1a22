"""python manage.py demo_orders [N]: post N paid demo orders through the signed Shopify webhook intake.

For trying the floor after ``make run``: the orders go through the same path as the
storefront's (signature check, inbox, allocation), with customers worldwide (names and
addresses in their own scripts), express and standard shipping, and one to three pairs each.
Each run adds new orders.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from fulfilment import services
from inventory.demo import PRODUCTS, SIZE_CHART

CUSTOMERS = [
    ("Olivia Nguyen", "12 Example Street", "Fitzroy", "VIC", "3065", "AU", "+61 3 9000 0000"),
    ("Jack Wilson", "4 Harbour Rd", "Auckland", "", "1010", "NZ", "+64 9 300 0000"),
    ("山田 太郎", "神南1-2-3", "渋谷区", "東京都", "150-0041", "JP", "+81 3 1234 5678"),
    ("김민준", "강남구 테헤란로 152", "서울", "", "06236", "KR", "+82 2 555 0199"),
    ("Jon Snow", "Bergmannstraße 5", "Berlin", "", "10961", "DE", "+49 30 1234567"),
    ("Zoë Łukasiewicz", "ul. Floriańska 3", "Kraków", "", "31-008", "PL", "+48 12 345 67 89"),
    ("Γιώργος Παπαδόπουλος", "Οδός Ερμού 25", "Αθήνα", "", "105 63", "GR", "+30 21 0123 4567"),
    ("Jane Doe", "1 High Street", "Leeds", "", "LS1 1AA", "GB", "+44 113 000 0000"),
    ("Emily Carter", "350 5th Ave", "New York", "NY", "10118", "US", "+1 212 555 0100"),
    ("Lucas Tremblay", "1000 Rue Sherbrooke O", "Montréal", "QC", "H3A 3G4", "CA", "+1 514 555 0100"),
]
# The size system the storefront shows the customer, by country (the variant title says it).
_SYSTEM = {"GB": "UK", "IE": "UK", "AU": "UK", "NZ": "UK", "US": "US", "CA": "US"}


def _size_title(eu: str, country: str) -> str:
    uk, us_m, _us_w = SIZE_CHART[eu]
    return {"UK": f"UK {uk}", "US": f"US {us_m}"}.get(_SYSTEM.get(country, "EU"), f"EU {eu}")


def demo_order(n: int, rng: random.Random) -> dict:
    """One Shopify ``orders/paid`` body, shaped like the real webhook."""
    name, street, city, province, postcode, country, phone = rng.choice(CUSTOMERS)
    express = rng.random() < 0.4
    lines = []
    for i in range(rng.choice((1, 1, 2, 3))):
        code, product_name, _stock = rng.choice(PRODUCTS)
        eu = rng.choice(list(SIZE_CHART)[3:11])
        quantity = rng.choice((1, 1, 1, 2))
        lines.append(
            {
                "id": n * 10 + i,
                "sku": f"{code}-EU{eu}",
                "quantity": quantity,
                "current_quantity": quantity,
                "fulfillable_quantity": quantity,
                "price": "39.95",
                "requires_shipping": True,
                "title": product_name,
                "variant_title": _size_title(eu, country),
                "name": f"{product_name} - {_size_title(eu, country)}",
                "grams": 90,
            }
        )
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    total = sum(39.95 * line["quantity"] for line in lines)
    return {
        "id": n,
        "name": f"#D{n % 1_000_000}",
        "email": f"customer{n % 1000}@example.com",
        "financial_status": "paid",
        "processed_at": now,
        "updated_at": now,
        "currency": "EUR",
        "total_price": f"{total:.2f}",
        "total_weight": 90 * sum(line["quantity"] for line in lines),
        "line_items": lines,
        "shipping_address": {
            "name": name,
            "address1": street,
            "city": city,
            "province_code": province,
            "zip": postcode,
            "country_code": country,
            "phone": phone,
        },
        "shipping_lines": [
            {"code": "Express" if express else "Standard", "title": "Express" if express else "Standard"}
        ],
    }


class Command(BaseCommand):
    help = "Post N paid demo orders (default 12) through the signed Shopify webhook intake, to try the floor."

    def add_arguments(self, parser):
        parser.add_argument("count", nargs="?", type=int, default=12)
        parser.add_argument("--seed", type=int, default=None, help="Random seed (the same seed, the same orders).")

    def handle(self, *args, count: int, seed: int | None, **options):
        if not settings.SHOPIFY_WEBHOOK_SECRETS:
            raise CommandError("Set SHOPIFY_WEBHOOK_SECRET (make run writes a demo one to .env).")
        if not 1 <= count <= 1000:
            raise CommandError("count must be between 1 and 1000")
        secret = settings.SHOPIFY_WEBHOOK_SECRETS[0].encode()
        rng = random.Random(seed)  # noqa: S311 - demo data, not a secret
        base = time.time_ns() // 1000 if seed is None else seed * 10_000
        statuses: dict[str, int] = {}
        for i in range(count):
            n = base + i
            body = json.dumps(demo_order(n, rng), ensure_ascii=False).encode()
            headers = {
                "X-Shopify-Hmac-Sha256": base64.b64encode(hmac.new(secret, body, hashlib.sha256).digest()).decode(),
                "X-Shopify-Topic": "orders/paid",
                "X-Shopify-Shop-Domain": settings.SHOPIFY_SHOP_DOMAIN or "demo-insoles.myshopify.com",
                "X-Shopify-Event-Id": f"demo-{n}",
                "X-Shopify-Webhook-Id": f"demo-{n}",
            }
            result = services.webhook_receive(channel="shopify", headers=headers, body=body)
            status = result.order.status if result.order is not None else result.delivery.status
            statuses[status] = statuses.get(status, 0) + 1
        summary = ", ".join(f"{n} {status}" for status, n in sorted(statuses.items()))
        self.stdout.write(f"{count} demo orders posted: {summary}")
