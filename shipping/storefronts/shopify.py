"""Shopify GraphQL Admin API, the fulfilment side: fulfillment orders, fulfillments, fulfillment events.

Transport: ``POST {admin base}/graphql.json`` (the versioned admin base, e.g.
``https://shop.myshopify.com/admin/api/2025-10``; ``graphql_endpoint`` also takes a bare shop URL or
one ending in ``/admin`` and adds the version), ``X-Shopify-Access-Token``, a JSON body
``{"query", "variables"}``. IDs are GIDs (``gid://shopify/Order/123``).

How answers map to the outbox:

- a timeout, a connection error, a 5xx: ``StorefrontUnavailable`` (retried with backoff);
- throttling, as a 429 or as a 200 whose ``errors`` carry ``extensions.code == "THROTTLED"``:
  ``StorefrontUnavailable`` whose ``retry_after`` is what the leaky bucket needs to hold the
  query again (``(requestedQueryCost - currentlyAvailable) / restoreRate`` from
  ``extensions.cost.throttleStatus``), or the 429's ``Retry-After``;
- 401/403 (a bad token, a missing scope), 404 (a wrong URL or API version), other 4xx and GraphQL
  errors other than throttling and ``INTERNAL_SERVER_ERROR``: ``StorefrontRefused``;
- a mutation's ``userErrors``: ``UserErrors`` (a dead letter naming them).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from config.http import retry_after_seconds
from shipping.storefronts import session
from shipping.storefronts.errors import StorefrontRefused, StorefrontUnavailable, UserErrors

MIN_THROTTLE_WAIT = 1.0  # seconds; a THROTTLED answer always waits a little, even when the sums say 0

ORDER_FULFILLMENT_ORDERS = """
query OrderFulfillmentOrders($id: ID!) {
  order(id: $id) {
    id
    name
    displayFulfillmentStatus
    fulfillmentOrders(first: 10) {
      nodes {
        id
        status
        requestStatus
        assignedLocation { name location { id } }
        lineItems(first: 50) {
          nodes { id totalQuantity remainingQuantity lineItem { id sku } }
        }
      }
    }
  }
}
""".strip()

ORDER_FULFILLMENTS = """
query OrderFulfillments($id: ID!) {
  order(id: $id) {
    id
    fulfillments(first: 50) {
      id
      status
      trackingInfo(first: 10) { company number url }
    }
  }
}
""".strip()

FULFILLMENT_CREATE = """
mutation fulfillmentCreate($fulfillment: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $fulfillment) {
    fulfillment { id status trackingInfo(first: 10) { company number url } }
    userErrors { field message }
  }
}
""".strip()

FULFILLMENT_CANCEL = """
mutation fulfillmentCancel($id: ID!) {
  fulfillmentCancel(id: $id) {
    fulfillment { id status }
    userErrors { field message }
  }
}
""".strip()

FULFILLMENT_EVENTS = """
query FulfillmentEvents($id: ID!) {
  fulfillment(id: $id) {
    id
    events(first: 100) { nodes { id status happenedAt } }
  }
}
""".strip()

FULFILLMENT_EVENT_CREATE = """
mutation fulfillmentEventCreate($fulfillmentEvent: FulfillmentEventInput!) {
  fulfillmentEventCreate(fulfillmentEvent: $fulfillmentEvent) {
    fulfillmentEvent { id status happenedAt }
    userErrors { field message }
  }
}
""".strip()


def gid(kind: str, value: str) -> str:
    """``gid://shopify/{kind}/{value}``; a value that already is a GID is kept."""
    value = str(value)
    return value if value.startswith("gid://") else f"gid://shopify/{kind}/{value}"


def gid_tail(value: str | None) -> str:
    """The numeric id at the end of a GID (``gid://shopify/LineItem/8001`` -> ``8001``)."""
    return str(value or "").rsplit("/", 1)[-1]


def graphql_endpoint(admin_url: str, version: str) -> str:
    """The GraphQL URL for ``SHOPIFY_ADMIN_URL``: the versioned admin base + ``/graphql.json``."""
    url = admin_url.strip().rstrip("/")
    if url.endswith("/graphql.json"):
        return url
    path = urlsplit(url).path.rstrip("/")
    if path.endswith("/admin/api"):  # no version named: ours, not Shopify's oldest supported one
        return f"{url}/{version}/graphql.json"
    if "/admin/api/" in path + "/":
        return f"{url}/graphql.json"
    if path.endswith("/admin"):
        return f"{url}/api/{version}/graphql.json"
    return f"{url}/admin/api/{version}/graphql.json"


def api_version(admin_url: str, default: str) -> str:
    """The Admin API version requests go to: the one ``SHOPIFY_ADMIN_URL`` names, else ``default``."""
    parts = urlsplit(admin_url.strip()).path.strip("/").split("/")
    for index, part in enumerate(parts[:-2]):
        if part == "admin" and parts[index + 1] == "api" and parts[index + 2] != "graphql.json":
            return parts[index + 2]
    return default


def throttle_wait(body: Any) -> float | None:
    """Seconds until the bucket holds the throttled query again, from ``extensions.cost``; None if absent."""
    try:
        cost = body["extensions"]["cost"]
        status = cost["throttleStatus"]
        rate = float(status["restoreRate"])
        available = float(status["currentlyAvailable"])
        requested = float(cost.get("requestedQueryCost") or 0)
    except (KeyError, TypeError, ValueError):
        return None
    if rate <= 0:
        return None
    return max(MIN_THROTTLE_WAIT, (requested - available) / rate)


def _error_code(error: Any) -> str:
    if isinstance(error, dict) and isinstance(error.get("extensions"), dict):
        return str(error["extensions"].get("code") or "")
    return ""


def _error_messages(errors: Any) -> str:
    if isinstance(errors, list):
        return "; ".join(str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors)[:1000]
    return str(errors)[:1000]


@dataclass(frozen=True)
class ShopifyAdmin:
    """A client of one shop's GraphQL Admin API."""

    endpoint: str
    token: str
    connect_timeout: float
    read_timeout: float

    def execute(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        """POST one operation; its ``data``, or a StorefrontUnavailable / StorefrontRefused."""
        try:
            response = session().post(
                self.endpoint,
                data=json.dumps({"query": query, "variables": variables}),
                headers={
                    "Content-Type": "application/json",
                    "Accept": "application/json",
                    "X-Shopify-Access-Token": self.token,
                },
                timeout=(self.connect_timeout, self.read_timeout),
                allow_redirects=False,
            )
        except requests.Timeout as exc:
            raise StorefrontUnavailable(f"Shopify did not answer in time: {exc}") from exc
        except requests.RequestException as exc:
            raise StorefrontUnavailable(f"Shopify unreachable: {exc.__class__.__name__}: {exc}") from exc
        try:
            body = response.json()
        except ValueError:
            body = None
        status = response.status_code
        if status == 429:
            wait = retry_after_seconds(response.headers.get("Retry-After")) or throttle_wait(body)
            raise StorefrontUnavailable("Shopify answered 429 (throttled)", retry_after=wait)
        if status >= 500:
            raise StorefrontUnavailable(
                f"Shopify answered {status}: {response.text[:200]}",
                retry_after=retry_after_seconds(response.headers.get("Retry-After")),
            )
        if status in (401, 403):
            detail = _error_messages(body.get("errors")) if isinstance(body, dict) else response.text[:300]
            raise StorefrontRefused(
                f"Shopify refused the access token ({status}): {detail}; check SHOPIFY_ACCESS_TOKEN and the app's "
                "scopes (write_merchant_managed_fulfillment_orders, write_fulfillments, read_orders)"
            )
        if status != 200:
            raise StorefrontRefused(f"Shopify answered {status} at {self.endpoint}: {response.text[:300]}")
        if not isinstance(body, dict):
            raise StorefrontUnavailable(f"Shopify's answer is not a JSON object: {response.text[:200]}")
        errors = body.get("errors")
        if errors:
            codes = {_error_code(e) for e in errors} if isinstance(errors, list) else set()
            if "THROTTLED" in codes:
                raise StorefrontUnavailable("Shopify throttled the query (THROTTLED)", retry_after=throttle_wait(body))
            if "INTERNAL_SERVER_ERROR" in codes:
                raise StorefrontUnavailable(f"Shopify internal error: {_error_messages(errors)}")
            raise StorefrontRefused(f"Shopify GraphQL errors: {_error_messages(errors)}")
        data = body.get("data")
        if not isinstance(data, dict):
            raise StorefrontUnavailable(f"Shopify's answer has no data: {response.text[:200]}")
        return data

    # --- Operations -------------------------------------------------------------------------
    def fulfillment_orders(self, order_id: str) -> dict[str, Any] | None:
        """The order (``id``, ``name``, ``fulfillmentOrders.nodes``), or None if Shopify has no such order."""
        return self.execute(ORDER_FULFILLMENT_ORDERS, {"id": gid("Order", order_id)}).get("order")

    def fulfillments(self, order_id: str) -> list[dict[str, Any]] | None:
        """The order's fulfillments (``id``, ``status``, ``trackingInfo``), or None if there is no such order."""
        order = self.execute(ORDER_FULFILLMENTS, {"id": gid("Order", order_id)}).get("order")
        if order is None:
            return None
        return list(order.get("fulfillments") or [])

    def fulfillment_create(self, fulfillment: dict[str, Any]) -> dict[str, Any]:
        """Create one fulfillment (``FulfillmentInput``); the created fulfillment (``id``, ``status``...)."""
        payload = self.execute(FULFILLMENT_CREATE, {"fulfillment": fulfillment}).get("fulfillmentCreate")
        return self._created(payload, "fulfillmentCreate", "fulfillment")

    def fulfillment_cancel(self, fulfillment_id: str) -> dict[str, Any]:
        """Cancel one fulfillment; Shopify reopens its line items in new fulfillment orders. The fulfillment."""
        payload = self.execute(FULFILLMENT_CANCEL, {"id": gid("Fulfillment", fulfillment_id)}).get("fulfillmentCancel")
        return self._created(payload, "fulfillmentCancel", "fulfillment")

    def fulfillment_events(self, fulfillment_id: str) -> list[dict[str, Any]]:
        """The events already on a fulfillment (``status``, ``happenedAt``)."""
        found = self.execute(FULFILLMENT_EVENTS, {"id": gid("Fulfillment", fulfillment_id)}).get("fulfillment")
        if not found:
            return []
        events = found.get("events") or {}
        return list(events.get("nodes") or []) if isinstance(events, dict) else list(events)

    def fulfillment_event_create(self, event: dict[str, Any]) -> dict[str, Any]:
        """Create one fulfillment event (``FulfillmentEventInput``); the created event."""
        payload = self.execute(FULFILLMENT_EVENT_CREATE, {"fulfillmentEvent": event}).get("fulfillmentEventCreate")
        return self._created(payload, "fulfillmentEventCreate", "fulfillmentEvent")

    @staticmethod
    def _created(payload: Any, operation: str, field: str) -> dict[str, Any]:
        if not isinstance(payload, dict):
            raise StorefrontUnavailable(f"Shopify's {operation} answer has no payload")
        if payload.get("userErrors"):
            raise UserErrors(operation, list(payload["userErrors"]))
        created = payload.get(field)
        if not isinstance(created, dict) or not created.get("id"):
            raise StorefrontUnavailable(f"Shopify's {operation} answer has no {field} and no userErrors")
        return created
