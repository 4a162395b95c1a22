"""What the storefront clients raise: the outbox's own retry / dead-letter errors, with the storefront's words."""

from __future__ import annotations

from outbox.errors import DeliveryFailed, DeliveryRetry


class StorefrontUnavailable(DeliveryRetry):
    """The storefront could not take the call now (timeout, connection error, 5xx, 429, THROTTLED): try again."""


class StorefrontRefused(DeliveryFailed):
    """The storefront refused the call for good (401/403/404, GraphQL errors, userErrors): a dead letter."""


class UserErrors(StorefrontRefused):
    """A Shopify mutation answered with ``userErrors``; ``errors`` holds them as Shopify sent them."""

    def __init__(self, operation: str, errors: list[dict]):
        self.operation, self.errors = operation, errors
        parts = []
        for error in errors:
            field = ".".join(str(f) for f in error.get("field") or [])
            parts.append(f"{field}: {error.get('message')}" if field else str(error.get("message")))
        super().__init__(f"Shopify {operation} userErrors: " + "; ".join(parts))
