"""The pick list: A4, one walk through the warehouse, then one block per tote for the pack bench.

Pure: a frozen ``PickListData`` in, PDF bytes out. The caller (``fulfilment``) gives the lines
already in walk order (bin ``walk_sequence``, then product, then natural size order) and the
totes in wave position order; the renderer draws them in the order given.

Every page carries the same header (warehouse, wave, its Code128, times in the warehouse's zone,
picker, service level, totals) and "Page N of M". Part 1 is a table, one row per bin and SKU:
the units to pick, which tote takes how many, a box to tick and a box for the units short.
Part 2 starts on a new page: one block per tote (order) with its items, for sorting.

The whole document is laid out before anything is drawn, so the page count is known when the
first footer is drawn and nothing is rendered twice; the header is drawn once, as a PDF form
that every page shows. A row never splits across pages, nor does a tote block unless it is
taller than a page (it then goes on under a "(continued)" header).
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from reportlab.lib.pagesizes import A4

from labels import fonts
from labels.drawing import QUIET_MODULES, code128, cut, draw, draw_box, draw_lines, draw_right, fit_lines, new_canvas


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

    def __post_init__(self):
        if self.quantity <= 0 or any(units <= 0 for _number, units in self.totes):
            raise ValueError(f"pick line {self.sku!r}: quantities must be positive")
        if sum(units for _number, units in self.totes) != self.quantity:
            raise ValueError(f"pick line {self.sku!r}: the totes take {self.totes}, not the {self.quantity} to pick")


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

    def __post_init__(self):
        for name in ("created_at", "printed_at"):
            if getattr(self, name).utcoffset() is None:
                raise ValueError(f"{name} must be timezone-aware")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {self.timezone!r}") from exc
        numbers = {tote.number for tote in self.totes}
        for line in self.lines:
            unknown = [number for number, _units in line.totes if number not in numbers]
            if unknown:
                raise ValueError(f"pick line {line.sku!r}: no tote {unknown[0]} in the wave")

    @property
    def units(self) -> int:
        return sum(line.quantity for line in self.lines)


PAGE_W, PAGE_H = A4
MARGIN = 32.0
INNER = PAGE_W - 2 * MARGIN
TOP = PAGE_H - MARGIN
HEADER_H = 78.0
TITLE_H = 22.0  # the part's title under the header
BODY_TOP = TOP - HEADER_H - TITLE_H
BODY_BOTTOM = MARGIN + 4
FOOTER_Y = 20.0
LEADING = 1.18
TIMES = "\u00d7"  # the multiplication sign: "T3" TIMES "2" is tote 3 takes 2
BARCODE_AREA = 150.0  # at most, quiet zones included; the header text keeps clear of it

# Pick table: (title, x from the margin, width, right-aligned)
_NUMBER = ("#", 0, 20, True)
_BIN = ("Bin", 26, 52, False)
_PRODUCT = ("Product", 84, 140, False)
_SIZE = ("Size", 228, 46, False)
_SKU = ("SKU", 280, 74, False)
_QTY = ("Qty", 358, 30, True)
_TOTES = (f"Totes (tote {TIMES} units)", 396, 80, False)
_DONE = ("Done", 482, 22, False)
_SHORT = ("Short", 508, INNER - 508, False)
_COLUMNS = (_NUMBER, _BIN, _PRODUCT, _SIZE, _SKU, _QTY, _TOTES, _DONE, _SHORT)
TABLE_HEAD_H = 16.0
ROW_MIN_H = 22.0
ROW_BASELINE = 14.0  # first baseline below a row's top
BOX = 11.0  # the tick box

# Tote blocks: header band, then one row per item
BLOCK_HEAD_H = 34.0
ITEM_MIN_H = 15.0
BLOCK_GAP = 10.0
_ITEM_QTY_RIGHT = 44
_ITEM_NAME = (52, 188)
_ITEM_SIZE = (246, 52)
_ITEM_SKU = (304, 104)
_ITEM_BIN = (414, INNER - 414)


Cell = tuple[float, tuple[str, ...]]  # font size, wrapped visual-order lines: what fit_lines gives


def _cell_height(cell: Cell) -> float:
    size, lines = cell
    return ROW_BASELINE + (len(lines) - 1) * size * LEADING + 6


class _Row(NamedTuple):
    number: int
    line: PickLine
    bin: Cell
    product: Cell
    size: Cell
    sku: Cell
    quantity: Cell
    totes: Cell
    height: float
    continued: bool = False  # the rest of a tote split too long for one page: no quantity, no boxes


def _split(line: PickLine) -> str:
    return "  ".join(f"T{tote}{TIMES}{units}" for tote, units in line.totes)


def _capped(cell: Cell, max_lines: int) -> Cell:
    """At most max_lines, the last one cut: for text that cannot be long in practice (a product name, a SKU)."""
    size, lines = cell
    if len(lines) <= max_lines:
        return cell
    rest = " ".join(lines[max_lines - 1 :])
    return size, (*lines[: max_lines - 1], cut(rest, size, fonts.REGULAR, _PRODUCT[2]))


def _rows(number: int, line: PickLine) -> list[_Row]:
    """The line's row; when its tote split is taller than a page (one SKU in hundreds of orders), the row holds
    what fits and continuation rows below it, or on the next pages, hold the rest."""
    cells = (
        _capped(fit_lines(line.bin or "no bin", fonts.BOLD if line.bin else fonts.REGULAR, 10, 6.5, _BIN[2]), 2),
        _capped(fit_lines(f"{line.product} · {line.product_name}", fonts.REGULAR, 8.5, 6.5, _PRODUCT[2], 2), 4),
        _capped(fit_lines(line.size, fonts.BOLD, 10, 6.5, _SIZE[2]), 2),
        _capped(fit_lines(line.sku, fonts.REGULAR, 8.5, 6.5, _SKU[2]), 3),
        _capped(fit_lines(str(line.quantity), fonts.BOLD, 15, 8, _QTY[2]), 1),
    )
    size, split = fit_lines(_split(line), fonts.REGULAR, 8.5, 6.5, _TOTES[2], 2)
    fixed = max(ROW_MIN_H, *(_cell_height(cell) for cell in cells))
    per_page = int((BODY_TOP - TABLE_HEAD_H - BODY_BOTTOM - ROW_BASELINE - 6) // (size * LEADING)) + 1
    rows = []
    for start in range(0, len(split), per_page):
        totes = (size, split[start : start + per_page])
        height = max(ROW_MIN_H if start else fixed, _cell_height(totes))
        rows.append(_Row(number, line, *cells, totes=totes, height=height, continued=bool(start)))
    return rows


class _Item(NamedTuple):
    item: ToteItem
    name: Cell
    size: Cell
    sku: Cell
    bin: Cell
    height: float


class _Block(NamedTuple):
    tote: Tote
    number: Cell
    reference: Cell
    customer: Cell
    service: Cell
    items: tuple[_Item, ...]
    height: float


def _item(item: ToteItem) -> _Item:
    cells = (
        fit_lines(item.product_name, fonts.REGULAR, 9, 7, _ITEM_NAME[1]),
        fit_lines(item.size, fonts.BOLD, 9.5, 6.5, _ITEM_SIZE[1]),
        fit_lines(item.sku, fonts.REGULAR, 8.5, 6.5, _ITEM_SKU[1]),
        fit_lines(item.bin or "no bin", fonts.REGULAR, 9, 6.5, _ITEM_BIN[1]),
    )
    height = max(ITEM_MIN_H, *(_cell_height(cell) - 5 for cell in cells))
    return _Item(item, *cells, height=height)


def _blocks(tote: Tote, room: float, page_room: float) -> list[_Block]:
    """The tote as one block, or, when it is taller than a page, as parts: the first sized to ``room``."""
    head = (
        fit_lines(f"T{tote.number}", fonts.BOLD, 18, 8, 46),
        fit_lines(tote.order_reference, fonts.BOLD, 11, 6, 236),
        fit_lines(tote.customer, fonts.REGULAR, 10, 6, 236),
        fit_lines(tote.service_level.upper() or "STANDARD", fonts.BOLD, 10.5, 6, 64),
    )
    items = [_item(item) for item in tote.items]
    whole = BLOCK_HEAD_H + sum(item.height for item in items) + BLOCK_GAP
    if whole <= page_room:
        return [_Block(tote, *head, tuple(items), whole)]
    continued = fit_lines(f"{tote.order_reference} (continued)", fonts.BOLD, 11, 6, 236)
    parts: list[_Block] = []
    chunk: list[_Item] = []
    height = BLOCK_HEAD_H + BLOCK_GAP
    for item in items:
        if chunk and height + item.height > room:
            parts.append(_Block(tote, *head, tuple(chunk), height))
            head = (head[0], continued, *head[2:])
            chunk, height, room = [], BLOCK_HEAD_H + BLOCK_GAP, page_room
        chunk.append(item)
        height += item.height
    parts.append(_Block(tote, *head, tuple(chunk), height))
    return parts


class _Page(NamedTuple):
    part: str  # "pick" | "totes"
    content: list  # _Row or _Block, top to bottom


def _layout(data: PickListData) -> list[_Page]:
    pages = [_Page("pick", [])]
    room = BODY_TOP - TABLE_HEAD_H - BODY_BOTTOM
    for number, line in enumerate(data.lines, 1):
        for row in _rows(number, line):
            if row.height > room:
                pages.append(_Page("pick", []))
                room = BODY_TOP - TABLE_HEAD_H - BODY_BOTTOM
            pages[-1].content.append(row)
            room -= row.height
    if not data.totes:
        return pages
    page_room = BODY_TOP - BODY_BOTTOM
    pages.append(_Page("totes", []))
    room = page_room
    for tote in data.totes:
        parts = _blocks(tote, room, page_room)
        if len(parts) > 1 and pages[-1].content:
            # Taller than a page: it splits anyway, so it starts at the top of one.
            parts = _blocks(tote, page_room, page_room)
            pages.append(_Page("totes", []))
            room = page_room
        for block in parts:
            if block.height > room:
                pages.append(_Page("totes", []))
                room = page_room
            pages[-1].content.append(block)
            room -= block.height
    return pages


def _local(when: dt.datetime, zone: ZoneInfo) -> str:
    local = when.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


def _header_form(c, data: PickListData) -> None:
    """What every page shows: header, wave barcode, part titles and the footer's left side, drawn once as forms."""
    zone = ZoneInfo(data.timezone)
    bc = code128(str(data.wave_id), max_width=BARCODE_AREA, bar_height=36)
    quiet = QUIET_MODULES * bc.barWidth
    text_w = INNER - BARCODE_AREA - 6
    c.beginForm("header")
    draw_box(c, MARGIN, TOP, text_w, 24, [f"Pick list · Wave {data.wave_id}"], style=fonts.BOLD, size=18, min_size=9)
    warehouse = f"{data.warehouse} · {data.warehouse_name}" if data.warehouse_name else data.warehouse
    draw_box(c, MARGIN, TOP - 24, text_w, 15, [warehouse], style=fonts.BOLD, size=11, min_size=6)
    times = f"Began {_local(data.created_at, zone)}   Printed {_local(data.printed_at, zone)}   ({data.timezone})"
    draw_box(c, MARGIN, TOP - 40, text_w, 13, [times], style=fonts.REGULAR, size=9, min_size=6)
    totals = (
        f"Picker: {data.picker or 'unassigned'}   Service: {data.service_level or 'all'}   "
        f"Orders {len(data.totes)}   Lines {len(data.lines)}   Units {data.units}"
    )
    draw_box(c, MARGIN, TOP - 54, text_w, 13, [totals], style=fonts.REGULAR, size=9, min_size=6)
    bx = PAGE_W - MARGIN - quiet - bc.width
    bc.drawOn(c, bx, TOP - 2 - bc.barHeight)
    wave = str(data.wave_id)
    draw(c, bx + (bc.width - fonts.width(wave, 8, fonts.BOLD)) / 2, TOP - bc.barHeight - 12, wave, 8, fonts.BOLD)
    c.setLineWidth(1.2)
    c.line(MARGIN, TOP - HEADER_H + 6, PAGE_W - MARGIN, TOP - HEADER_H + 6)
    draw(c, MARGIN, FOOTER_Y, f"Wave {data.wave_id} · {fonts.visual(data.warehouse)}", 8)
    c.endForm()

    titles = {
        "pick": ("PICK", "in walk order: tick each line when picked, write the units missing in Short"),
        "totes": ("TOTES", "one block per order, in wave order, for sorting at the pack bench"),
    }
    for part, (title, note) in titles.items():
        c.beginForm(f"title-{part}")
        y = TOP - HEADER_H - 10
        draw(c, MARGIN, y, title, 12, fonts.BOLD)
        draw(c, MARGIN + fonts.width(title, 12, fonts.BOLD) + 8, y, note, 8.5)
        c.endForm()

    c.beginForm("table-head")
    y = BODY_TOP - 10
    for title, x, width, right in _COLUMNS:
        if right:
            draw_right(c, MARGIN + x + width, y, title, 7.5, fonts.BOLD)
        else:
            draw(c, MARGIN + x, y, title, 7.5, fonts.BOLD)
    c.setLineWidth(1)
    c.line(MARGIN, BODY_TOP - TABLE_HEAD_H + 2, PAGE_W - MARGIN, BODY_TOP - TABLE_HEAD_H + 2)
    c.endForm()


def _draw_row(c, row: _Row, top: float) -> None:
    if row.number % 2 == 0:
        # Zebra stripes keep the picker's eye on one row from bin to tote.
        c.setFillGray(0.9)
        c.rect(MARGIN, top - row.height, INNER, row.height, stroke=0, fill=1)
        c.setFillGray(0)
    y = top - ROW_BASELINE
    draw_right(c, MARGIN + _NUMBER[1] + _NUMBER[2], y, str(row.number), 8)
    draw_lines(c, MARGIN + _BIN[1], y, row.bin, fonts.BOLD if row.line.bin else fonts.REGULAR)
    if row.continued:
        draw(c, MARGIN + _PRODUCT[1], y, "(continued)", 8.5)
    else:
        draw_lines(c, MARGIN + _PRODUCT[1], y, row.product, fonts.REGULAR)
        draw_lines(c, MARGIN + _SIZE[1], y, row.size, fonts.BOLD)
    draw_lines(c, MARGIN + _SKU[1], y, row.sku, fonts.REGULAR)
    if not row.continued:
        size, (quantity, *_) = row.quantity
        draw_right(c, MARGIN + _QTY[1] + _QTY[2], top - 16.5, quantity, size, fonts.BOLD)
    draw_lines(c, MARGIN + _TOTES[1], y, row.totes, fonts.REGULAR)
    if row.continued:
        return  # ticked and counted short on the row it continues
    c.rect(MARGIN + _DONE[1] + 4, top - 16, BOX, BOX)
    if row.number % 2 == 0:
        c.setFillGray(1)  # the Short box stays white on a stripe, to write in
        c.rect(MARGIN + _SHORT[1], top - 18, _SHORT[2], 15, fill=1)
        c.setFillGray(0)
    else:
        c.rect(MARGIN + _SHORT[1], top - 18, _SHORT[2], 15)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def tote_units(tote: Tote) -> int:
    return sum(item.quantity for item in tote.items)


def _centred(c, x_centre: float, y: float, fitted: Cell, style: str) -> None:
    size, (text, *_) = fitted
    draw(c, x_centre - fonts.width(text, size, style) / 2, y, text, size, style)


def _draw_block(c, block: _Block, top: float) -> None:
    tote = block.tote
    right = PAGE_W - MARGIN
    # Tote number reversed out of black, as on the tote itself.
    c.rect(MARGIN, top - 28, 52, 26, stroke=0, fill=1)
    c.setFillGray(1)
    _centred(c, MARGIN + 26, top - 22, block.number, fonts.BOLD)
    c.setFillGray(0)
    draw_lines(c, MARGIN + 60, top - 12, block.reference, fonts.BOLD)
    draw_lines(c, MARGIN + 60, top - 26, block.customer, fonts.REGULAR)
    draw(c, MARGIN + 304, top - 13, f"\u2192 {fonts.visual(tote.destination)}", 13, fonts.BOLD)
    draw(c, MARGIN + 304, top - 26, f"{_count(len(tote.items), 'item')} · {_count(tote_units(tote), 'unit')}", 8)
    if tote.service_level == "express":
        c.rect(right - 70, top - 22, 70, 18, stroke=0, fill=1)
        c.setFillGray(1)
        _centred(c, right - 35, top - 17, block.service, fonts.BOLD)
        c.setFillGray(0)
    else:
        c.rect(right - 70, top - 22, 70, 18)
        _centred(c, right - 35, top - 17, block.service, fonts.BOLD)
    if tote.late:
        c.setLineWidth(2.2)
        c.rect(right - 118, top - 22, 42, 18)
        draw(c, right - 97 - fonts.width("LATE", 10.5, fonts.BOLD) / 2, top - 17, "LATE", 10.5, fonts.BOLD)
        c.setLineWidth(1)
    c.line(MARGIN, top - BLOCK_HEAD_H + 3, right, top - BLOCK_HEAD_H + 3)

    y = top - BLOCK_HEAD_H
    for item in block.items:
        base = y - 10.5
        c.rect(MARGIN + 4, base - 1, 9, 9)
        draw_right(c, MARGIN + _ITEM_QTY_RIGHT, base, f"{item.item.quantity}{TIMES}", 10, fonts.BOLD)
        draw_lines(c, MARGIN + _ITEM_NAME[0], base, item.name, fonts.REGULAR)
        draw_lines(c, MARGIN + _ITEM_SIZE[0], base, item.size, fonts.BOLD)
        draw_lines(c, MARGIN + _ITEM_SKU[0], base, item.sku, fonts.REGULAR)
        draw_lines(c, MARGIN + _ITEM_BIN[0], base, item.bin, fonts.REGULAR)
        y -= item.height
    c.setLineWidth(1.2)
    c.line(MARGIN, y - 2, right, y - 2)
    c.setLineWidth(1)


def render_pick_list_pdf(data: PickListData) -> bytes:
    """A4 pick list: the walk (part 1), then the totes (part 2), "Page N of M" on every page."""
    pages = _layout(data)
    buffer = io.BytesIO()
    c = new_canvas(buffer, A4, f"Pick list, wave {data.wave_id}")
    _header_form(c, data)
    total = len(pages)
    for number, page in enumerate(pages, 1):
        c.doForm("header")
        c.doForm(f"title-{page.part}")
        top = BODY_TOP
        if page.part == "pick":
            c.doForm("table-head")
            top -= TABLE_HEAD_H
            if not page.content:
                draw(c, MARGIN, top - 14, "Nothing to pick.", 10)
            for row in page.content:
                _draw_row(c, row, top)
                top -= row.height
        else:
            for block in page.content:
                _draw_block(c, block, top)
                top -= block.height
        draw_right(c, PAGE_W - MARGIN, FOOTER_Y, f"Page {number} of {total}", 9, fonts.BOLD)
        c.showPage()
    c.save()
    return buffer.getvalue()
