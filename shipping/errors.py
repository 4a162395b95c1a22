"""Shipping's domain errors (mapped to HTTP once, in config.exceptions' handler)."""

from __future__ import annotations

from config.exceptions import Conflict, DomainError, InvalidInput, NotFound


class UnknownCourier(InvalidInput):
    code = "unknown_courier"
    default_detail = "Unknown courier."

    def __init__(self, *, courier: str, allowed: list[str]):
        super().__init__(
            f"Unknown courier {courier!r}; use one of: {', '.join(allowed)}.", courier=courier, allowed=allowed
        )


class CourierNotConfigured(Conflict):
    """The courier has no base URL or credentials: set COURIER_<NAME>_BASE_URL, _KEY, _SECRET, _ACCOUNT."""

    code = "courier_not_configured"
    default_detail = "This courier is not configured."

    def __init__(self, *, courier: str):
        name = courier.upper()
        super().__init__(
            f"Courier {courier} has no credentials: set COURIER_{name}_BASE_URL, COURIER_{name}_KEY, "
            f"COURIER_{name}_SECRET and COURIER_{name}_ACCOUNT.",
            courier=courier,
        )


class NoCourierRule(Conflict):
    code = "no_courier_rule"
    default_detail = (
        "No courier rule matches this shipment, its warehouse has no default courier and no courier"
        " is configured; name one, or set COURIER_<NAME>_BASE_URL and credentials."
    )


class InvalidParcels(InvalidInput):
    code = "invalid_parcels"
    default_detail = "Invalid parcels."


class ShipmentNotFound(NotFound):
    default_detail = "No such shipment."


class NotBooked(Conflict):
    """Labels exist once the courier has booked the shipment."""

    code = "not_booked"
    default_detail = "The shipment is not booked yet: no label to print."


class NotInternational(NotFound):
    code = "not_international"
    default_detail = "A domestic shipment has no commercial invoice."


class NotCancellable(Conflict):
    code = "shipment_not_cancellable"
    default_detail = "This shipment can no longer be cancelled."


class PushUnsupported(NotFound):
    """Only couriers that push tracking (UPS Track Alert, FedEx webhooks) have a webhook here."""

    code = "push_unsupported"
    default_detail = "This courier does not push tracking here."


class PushUnverified(DomainError):
    """The push did not carry the courier's credential or signature (or none is configured)."""

    code = "push_unverified"
    status = 401
    default_detail = "The push could not be verified."


class PushMalformed(InvalidInput):
    code = "push_malformed"
    default_detail = "The push body is not a tracking event of this courier."
