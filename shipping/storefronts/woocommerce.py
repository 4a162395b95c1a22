"""WooCommerce REST API v3, the fulfilment side: order notes and the order's status.

``{WOOCOMMERCE_URL}/wp-json/wc/v3/orders/{id}/notes`` (GET lists, POST ``{"note",
"customer_note"}`` adds one: a customer note is shown to the customer and emailed) and
``/wp-json/wc/v3/orders/{id}`` (GET, PUT ``{"status": "completed"}``). Authentication as the
reconciliation client (``fulfilment.storefronts.woocommerce_client``) does it: HTTP Basic with the
consumer key and secret, which WooCommerce accepts over HTTPS.

Errors come as ``{"code", "message", "data": {"status"}}``: 401 (bad key, a key without write
access), 404 and 400 (no such order) are refused for good; timeouts, connection errors, 429 and
5xx are retried.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests

from config.http import retry_after_seconds
from shipping.storefronts import session
from shipping.storefronts.errors import StorefrontRefused, StorefrontUnavailable

ORDERS_PATH = "/wp-json/wc/v3/orders"


@dataclass(frozen=True)
class WooCommerceShop:
    """A client of one WooCommerce shop's REST API v3."""

    base_url: str
    key: str
    secret: str
    connect_timeout: float
    read_timeout: float

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        url = self.base_url.rstrip("/") + path
        try:
            response = session().request(
                method,
                url,
                json=body,
                auth=(self.key, self.secret),
                headers={"Accept": "application/json"},
                timeout=(self.connect_timeout, self.read_timeout),
                allow_redirects=False,
            )
        except requests.Timeout as exc:
            raise StorefrontUnavailable(f"WooCommerce did not answer in time ({method} {path}): {exc}") from exc
        except requests.RequestException as exc:
            raise StorefrontUnavailable(f"WooCommerce unreachable ({method} {path}): {exc}") from exc
        status = response.status_code
        if status == 429 or status >= 500:
            retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            raise StorefrontUnavailable(
                f"WooCommerce answered {status} to {method} {path}: {response.text[:200]}", retry_after=retry_after
            )
        try:
            doc = response.json()
        except ValueError:
            doc = None
        if not 200 <= status < 300:
            if isinstance(doc, dict) and doc.get("message"):
                detail = f"{doc.get('code')}: {doc.get('message')}"
            else:
                detail = response.text[:300]
            hint = "; check WOOCOMMERCE_CONSUMER_KEY/SECRET (read/write)" if status in (401, 403) else ""
            raise StorefrontRefused(f"WooCommerce answered {status} to {method} {path}: {detail}{hint}")
        if doc is None:
            raise StorefrontUnavailable(f"WooCommerce's answer to {method} {path} is not JSON: {response.text[:200]}")
        return doc

    def order(self, order_id: str) -> dict[str, Any]:
        return self._call("GET", f"{ORDERS_PATH}/{order_id}")

    def order_update(self, order_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        return self._call("PUT", f"{ORDERS_PATH}/{order_id}", changes)

    def notes(self, order_id: str) -> list[dict[str, Any]]:
        found = self._call("GET", f"{ORDERS_PATH}/{order_id}/notes")
        return [note for note in found if isinstance(note, dict)] if isinstance(found, list) else []

    def note_create(self, order_id: str, note: str, *, customer_note: bool) -> dict[str, Any]:
        return self._call("POST", f"{ORDERS_PATH}/{order_id}/notes", {"note": note, "customer_note": customer_note})
