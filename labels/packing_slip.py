"""The packing slip: customer-facing, A5 (or A4), in the parcel.

Pure: a frozen ``PackingSlipData`` in, PDF bytes out. Sizes are printed in the customer's size
system (the caller converts), with the size the stock is kept in beside it; the customer's name
and address print in their own script.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from labels.shipping import Address


@dataclass(frozen=True)
class SlipLine:
    description: str  # product name
    size: str  # in the customer's size system, e.g. "UK 8"
    stock_size: str  # the size the SKU is kept in, e.g. "EU 42"; "" when it is the same as ``size``
    sku: str
    quantity: int


@dataclass(frozen=True)
class PackingSlipData:
    sender: Address  # the brand and the warehouse the parcel leaves from
    recipient: Address
    order_reference: str  # the storefront's order number
    order_date: dt.date
    lines: tuple[SlipLine, ...]
    return_address: Address  # where returns go
    return_days: int = 30
    returns_url: str = ""
    service: str = ""  # e.g. "Express"
    page_size: str = "A5"  # "A5" | "A4"


def render_packing_slip_pdf(slip: PackingSlipData) -> bytes:  # pragma: no cover - replaced by the renderer
    raise NotImplementedError
