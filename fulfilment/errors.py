"""Fulfilment domain errors (storefront channels for now)."""

from __future__ import annotations

from config.exceptions import DomainError


class SignatureInvalid(DomainError):
    """The webhook signature is missing or matches none of the configured secrets."""

    code = "invalid_signature"
    status = 401
    default_detail = "Webhook signature is missing or invalid."


class PayloadInvalid(DomainError):
    """A signed webhook cannot be read; ``extra["field"]`` names the offending path."""

    code = "invalid_payload"
    status = 400
    default_detail = "Webhook payload is invalid."


class ShopMismatch(DomainError):
    """A correctly signed webhook came from a shop other than the configured one."""

    code = "unknown_shop"
    status = 401
    default_detail = "Webhook comes from an unknown shop."


class IllegalTransition(DomainError):
    """The order's state machine does not allow this move."""

    code = "illegal_transition"
    status = 409
    default_detail = "The order cannot move to that state from its current state."


class StillOnHold(DomainError):
    """Release-hold re-checked the order and it still cannot be fulfilled."""

    code = "still_on_hold"
    status = 409
    default_detail = "The order still cannot be fulfilled; fix it and try again."


class OrderNotEditable(DomainError):
    code = "order_not_editable"
    status = 409
    default_detail = "Only orders on hold can be edited here."


class ChannelUnavailable(DomainError):
    """The storefront's API could not be read (network error, timeout, non-2xx answer, unreadable JSON)."""

    code = "channel_unavailable"
    status = 502
    default_detail = "The storefront's API could not be reached."


class NothingToPick(DomainError):
    """No reserved order of that warehouse (and service level) is waiting to be picked."""

    code = "nothing_to_pick"
    status = 409
    default_detail = "No reserved order is waiting to be picked in this warehouse."


class WaveNotOpen(DomainError):
    code = "wave_not_open"
    status = 409
    default_detail = "The pick wave is closed or cancelled."


class WarehouseForbidden(DomainError):
    """A staff user limited to some warehouses asked for another one."""

    code = "warehouse_forbidden"
    status = 403
    default_detail = "You do not work in this warehouse."


class PackMismatch(DomainError):
    """What was scanned into the parcel is not what the order holds; ``extra`` lists the difference."""

    code = "pack_mismatch"
    status = 409
    default_detail = "The parcel does not match the order; nothing was packed."

    def __init__(self, *, order: int, missing: dict[str, int], unexpected: dict[str, int]) -> None:
        super().__init__(order=order, missing=missing, unexpected=unexpected)


class NotInOrder(DomainError):
    """A short pick named a SKU the order has nothing of left to pick."""

    code = "not_in_order"
    status = 400
    default_detail = "The order has no units of that SKU to pick."


class NotAllocated(DomainError):
    """The order has no warehouse (held, or nothing to ship), so there is nothing to pack or print."""

    code = "not_allocated"
    status = 409
    default_detail = "The order has not been allocated to a warehouse, so there is nothing to pack."
