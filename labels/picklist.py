"""The pick list: A4, one walk through the warehouse, then one block per tote for the pack bench.

Pure: a frozen ``PickListData`` in, PDF bytes out. The caller (``fulfilment``) gives the lines
already in walk order (bin ``walk_sequence``, then product, then natural size order) and the
totes in wave position order; the renderer draws them in the order given.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class PickLine:
    """What to take from one bin: one SKU, the total, and how many go into which tote."""

    bin: str  # "" when the SKU has no bin in this warehouse (printed as "no bin", after the walk)
    product: str  # product code
    product_name: str
    size: str  # e.g. "EU 42"
    sku: str
    barcode: str  # GTIN, "" if none
    quantity: int
    totes: tuple[tuple[int, int], ...]  # (tote number, units), tote number = the order's position in the wave


@dataclass(frozen=True)
class ToteItem:
    sku: str
    product_name: str
    size: str
    quantity: int
    bin: str


@dataclass(frozen=True)
class Tote:
    """One order of the wave, for sorting at the pack bench."""

    number: int  # position in the wave, 1-based
    order_id: int
    order_reference: str  # the storefront's order number
    customer: str
    destination: str  # ISO country code
    service_level: str  # "express" | "standard"
    late: bool  # express, and its cut-off had passed when the wave began
    items: tuple[ToteItem, ...]


@dataclass(frozen=True)
class PickListData:
    wave_id: int
    warehouse: str  # code, e.g. "AU"
    warehouse_name: str
    timezone: str  # IANA zone of the warehouse; times are printed in it
    created_at: dt.datetime  # aware: when the wave began
    printed_at: dt.datetime  # aware
    picker: str  # "" if none
    service_level: str  # "" for a wave of every service level
    lines: tuple[PickLine, ...]
    totes: tuple[Tote, ...]


def render_pick_list_pdf(data: PickListData) -> bytes:  # pragma: no cover - replaced by the renderer
    raise NotImplementedError
