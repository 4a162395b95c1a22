"""The packing slip: customer-facing, A5 (or A4), in the parcel.

Pure: a frozen ``PackingSlipData`` in, PDF bytes out. Sizes are printed in the customer's size
system (the caller converts), with the size the stock is kept in beside it; the customer's name
and address print in their own script.

Layout, top to bottom: the brand and where the parcel leaves from, "Packing slip" with the order
reference, date and service; "Ship to"; the items (description, size, SKU, quantity) and the
total; how to return unworn insoles; thank you. Lines that do not fit continue on further pages
under a short header, and every page says "Page N of M": the pages are laid out before they are
drawn. Long names and addresses shrink, then wrap, inside their boxes.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from typing import NamedTuple

from reportlab.lib.pagesizes import A4, A5

from labels import fonts
from labels.drawing import draw, draw_box, draw_lines, draw_right, fit, fit_lines, new_canvas
from labels.shipping import Address, address_lines

PAGE_SIZES = {"A5": A5, "A4": A4}


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

    def __post_init__(self):
        if self.page_size not in PAGE_SIZES:
            raise ValueError(f"page_size must be one of {', '.join(PAGE_SIZES)}, not {self.page_size!r}")
        if not self.lines:
            raise ValueError("a packing slip needs at least one line")
        for line in self.lines:
            if line.quantity <= 0:
                raise ValueError(f"line {line.sku!r}: quantity must be positive")
        if self.return_days <= 0:
            raise ValueError("return_days must be positive")

    @property
    def quantity(self) -> int:
        return sum(line.quantity for line in self.lines)


LEADING = 1.18
ROW_MIN_H = 18.0
TABLE_HEAD_H = 16.0


class _Geometry(NamedTuple):
    width: float
    height: float
    margin: float
    columns: tuple[tuple[str, float, float, bool], ...]  # (title, x from the margin, width, right-aligned)

    @property
    def inner(self) -> float:
        return self.width - 2 * self.margin


def _geometry(page_size: str) -> _Geometry:
    width, height = PAGE_SIZES[page_size]
    margin = 28.0 if page_size == "A5" else 40.0
    inner = width - 2 * margin
    # Proportions of the A5 column widths (150, 90, 70, 37 of 363.5): the description takes what is left.
    size_w, sku_w, qty_w, gap = inner * 0.25, inner * 0.2, inner * 0.1, 6.0
    desc_w = inner - size_w - sku_w - qty_w - 3 * gap
    columns = (
        ("Item", 0.0, desc_w, False),
        ("Size", desc_w + gap, size_w, False),
        ("SKU", desc_w + size_w + 2 * gap, sku_w, False),
        ("Qty", inner - qty_w, qty_w, True),
    )
    return _Geometry(width, height, margin, columns)


class _Row(NamedTuple):
    line: SlipLine
    description: tuple[float, tuple[str, ...]]
    size: tuple[float, tuple[str, ...]]
    stock_inline: bool  # the stock size fits beside the customer's size
    sku: tuple[float, tuple[str, ...]]
    height: float


def _row(line: SlipLine, g: _Geometry) -> _Row:
    (_, _, desc_w, _), (_, _, size_w, _), (_, _, sku_w, _), _qty = g.columns
    description = fit_lines(line.description, fonts.REGULAR, 9.5, 7, desc_w, 2)
    size = fit_lines(line.size, fonts.BOLD, 10, 7, size_w)
    stock_w = fonts.width(_stock(line), 7.5) if line.stock_size else 0.0
    stock_inline = not line.stock_size or fonts.width(size[1][-1], size[0], fonts.BOLD) + 5 + stock_w <= size_w
    sku = fit_lines(line.sku, fonts.REGULAR, 8.5, 6.5, sku_w)
    lines = max(
        len(description[1]) * description[0], (len(size[1]) + (not stock_inline)) * size[0], len(sku[1]) * sku[0]
    )
    return _Row(line, description, size, stock_inline, sku, max(ROW_MIN_H, lines * LEADING + 6))


def _stock(line: SlipLine) -> str:
    return f"({fonts.visual(line.stock_size)})"


def _returns_text(slip: PackingSlipData) -> list[str]:
    days = "1 day" if slip.return_days == 1 else f"{slip.return_days} days"
    return [
        f"Unworn insoles can be returned within {days} of delivery. Write your order reference "
        f"{slip.order_reference} on the enclosed returns slip and include it in the parcel.",
    ]


def _party(address: Address) -> list[str]:
    return [*address_lines(address), address.country]


class _Tail(NamedTuple):
    """What follows the last line: the total, the returns block, thank you."""

    note: tuple[float, list[str]]
    name: tuple[float, list[str]]
    address: tuple[float, list[str]]
    url: tuple[float, list[str]] | None
    returns_h: float
    height: float


def _tail(slip: PackingSlipData, g: _Geometry) -> _Tail:
    width = g.inner - 20
    note = fit(_returns_text(slip), style=fonts.REGULAR, size=8.5, min_size=6.5, max_width=width, max_height=44)
    to = slip.return_address
    name = fit([to.name], style=fonts.BOLD, size=8.5, min_size=6, max_width=width - 10, max_height=22)
    address = fit(_party(to), style=fonts.REGULAR, size=8.5, min_size=6, max_width=width - 10, max_height=64)
    url = None
    if slip.returns_url:
        text = [f"Or start your return online: {slip.returns_url}"]
        url = fit(text, style=fonts.REGULAR, size=8.5, min_size=6, max_width=width, max_height=22)
    returns_h = 24 + _height(note) + 16 + _height(name) + _height(address) + (4 + _height(url) if url else 0) + 8
    return _Tail(note, name, address, url, returns_h, 26 + returns_h + 34)


def _height(fitted) -> float:
    size, lines = fitted
    return len(lines) * size * LEADING


def _draw_fitted(c, x: float, top: float, fitted, style: str = fonts.REGULAR) -> float:
    """Lines from ``fit`` with the first one hanging from ``top``; returns the top of what comes next."""
    size, lines = fitted
    draw_lines(c, x, top - size, (size, lines), style)
    return top - _height(fitted)


def _first_page_top(g: _Geometry) -> float:
    return g.height - g.margin - 180  # under the brand, the order and "Ship to"


def _next_page_top(g: _Geometry) -> float:
    return g.height - g.margin - 36


def _layout(slip: PackingSlipData, g: _Geometry, tail: _Tail) -> list[list[_Row]]:
    """Rows per page; the tail goes on the last page, which may hold no row."""
    bottom = g.margin + 14
    pages: list[list[_Row]] = [[]]
    room = _first_page_top(g) - TABLE_HEAD_H - bottom
    for line in slip.lines:
        row = _row(line, g)
        if row.height > room:
            pages.append([])
            room = _next_page_top(g) - TABLE_HEAD_H - bottom
        pages[-1].append(row)
        room -= row.height
    if tail.height > room:
        pages.append([])
    return pages


def _draw_first_header(c, slip: PackingSlipData, g: _Geometry) -> None:
    top = g.height - g.margin
    left_w = g.inner * 0.58
    draw_box(c, g.margin, top, left_w, 22, [slip.sender.name], style=fonts.BOLD, size=16, min_size=8, lines_cap=1)
    sender = "  ·  ".join(_party(slip.sender))
    draw_box(c, g.margin, top - 22, left_w, 20, [sender], style=fonts.REGULAR, size=7.5, min_size=5.5)
    right = g.width - g.margin
    draw_right(c, right, top - 15, "Packing slip", 15, fonts.BOLD)
    meta_w = g.inner - left_w - 10
    meta = [f"Order {slip.order_reference}", f"Order date {slip.order_date.isoformat()}"]
    if slip.service:
        meta.append(f"Service {slip.service}")
    size, lines = fit(meta, style=fonts.REGULAR, size=9, min_size=6, max_width=meta_w, max_height=40)
    y = top - 30
    for i, line in enumerate(lines):
        draw_right(c, right, y, line, size, fonts.BOLD if i == 0 else fonts.REGULAR)
        y -= size * LEADING
    c.setLineWidth(1)
    c.line(g.margin, top - 56, right, top - 56)

    r = slip.recipient
    y = top - 68
    draw(c, g.margin, y, "SHIP TO", 7.5, fonts.BOLD)
    box_w = g.inner * 0.7
    name = fit([r.name], style=fonts.BOLD, size=13, min_size=7, max_width=box_w, max_height=34, lines_cap=2)
    below = _draw_fitted(c, g.margin, y - 4, name, fonts.BOLD) - 3
    room = below - (_first_page_top(g) + 8)
    draw_box(c, g.margin, below, box_w, room, _party(r), style=fonts.REGULAR, size=10, min_size=6)


def _draw_next_header(c, slip: PackingSlipData, g: _Geometry) -> None:
    top = g.height - g.margin
    text = f"Packing slip · {slip.sender.name} · Order {slip.order_reference} (continued)"
    draw_box(c, g.margin, top, g.inner, 16, [text], style=fonts.BOLD, size=10, min_size=6, lines_cap=1)
    c.setLineWidth(1)
    c.line(g.margin, top - 22, g.width - g.margin, top - 22)


def _draw_table_head(c, g: _Geometry, top: float) -> float:
    y = top - 10
    for title, x, width, right in g.columns:
        if right:
            draw_right(c, g.margin + x + width, y, title, 8, fonts.BOLD)
        else:
            draw(c, g.margin + x, y, title, 8, fonts.BOLD)
    c.setLineWidth(0.8)
    c.line(g.margin, top - TABLE_HEAD_H + 2, g.width - g.margin, top - TABLE_HEAD_H + 2)
    return top - TABLE_HEAD_H


def _draw_row(c, row: _Row, g: _Geometry, top: float) -> None:
    (_, desc_x, _, _), (_, size_x, _, _), (_, sku_x, _, _), (_, qty_x, qty_w, _) = g.columns
    y = top - 13
    draw_lines(c, g.margin + desc_x, y, row.description)
    draw_lines(c, g.margin + size_x, y, row.size, fonts.BOLD)
    if row.line.stock_size:
        size, lines = row.size
        if row.stock_inline:
            x = g.margin + size_x + fonts.width(lines[-1], size, fonts.BOLD) + 5
            draw(c, x, y - (len(lines) - 1) * size * LEADING, _stock(row.line), 7.5)
        else:
            draw(c, g.margin + size_x, y - len(lines) * size * LEADING, _stock(row.line), 7.5)
    draw_lines(c, g.margin + sku_x, y, row.sku)
    draw_right(c, g.margin + qty_x + qty_w, y, str(row.line.quantity), 10, fonts.BOLD)
    c.setLineWidth(0.3)
    c.setStrokeGray(0.6)
    c.line(g.margin, top - row.height + 2, g.width - g.margin, top - row.height + 2)
    c.setStrokeGray(0)


def _draw_tail(c, slip: PackingSlipData, g: _Geometry, tail: _Tail, top: float, *, after_rows: bool) -> None:
    right = g.width - g.margin
    if after_rows:  # the end of the table; a page of its own already has the header's rule
        c.setLineWidth(1)
        c.line(g.margin, top, right, top)
    draw_right(c, right, top - 14, f"Total items {slip.quantity}", 10, fonts.BOLD)

    # Returns, in a shaded box so the customer finds it when the insoles do not fit.
    box_top = top - 26
    c.setFillGray(0.93)
    c.rect(g.margin, box_top - tail.returns_h, g.inner, tail.returns_h, stroke=0, fill=1)
    c.setFillGray(0)
    x = g.margin + 10
    draw(c, x, box_top - 16, "Returns", 10, fonts.BOLD)
    y = _draw_fitted(c, x, box_top - 24, tail.note)
    draw(c, x, y - 12, "Send it to:", 8, fonts.BOLD)
    y = _draw_fitted(c, x + 10, y - 16, tail.name, fonts.BOLD)
    y = _draw_fitted(c, x + 10, y, tail.address)
    if tail.url:
        _draw_fitted(c, x, y - 4, tail.url)
    thanks = "Thank you for your order!"
    y = box_top - tail.returns_h - 22
    draw(c, g.margin + (g.inner - fonts.width(thanks, 12, fonts.BOLD)) / 2, y, thanks, 12, fonts.BOLD)


def render_packing_slip_pdf(slip: PackingSlipData) -> bytes:
    """The slip for one parcel: A5 (or A4), lines continuing on further pages, "Page N of M" on each."""
    g = _geometry(slip.page_size)
    tail = _tail(slip, g)
    pages = _layout(slip, g, tail)
    buffer = io.BytesIO()
    c = new_canvas(buffer, (g.width, g.height), f"Packing slip {slip.order_reference}")
    total = len(pages)
    for number, rows in enumerate(pages, 1):
        if number == 1:
            _draw_first_header(c, slip, g)
            top = _first_page_top(g)
        else:
            _draw_next_header(c, slip, g)
            top = _next_page_top(g)
        if rows:
            top = _draw_table_head(c, g, top)
        for row in rows:
            _draw_row(c, row, g, top)
            top -= row.height
        if number == total:
            _draw_tail(c, slip, g, tail, top - 4, after_rows=bool(rows))
        footer = g.margin - 12
        draw(c, g.margin, footer, fonts.visual(f"{slip.sender.name} · Order {slip.order_reference}"), 7)
        draw_right(c, g.width - g.margin, footer, f"Page {number} of {total}", 8, fonts.BOLD)
        c.showPage()
    c.save()
    return buffer.getvalue()
