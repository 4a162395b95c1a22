"""Commercial invoice for international express shipments: A4, exporter and importer, one line per item.

Pure: a frozen ``InvoiceData`` in, PDF bytes out. Money is ``Decimal`` in one
currency; each line total is quantity x unit value, and a declared total that
disagrees with the lines is refused rather than printed. Insoles are HS 6406
(parts of footwear; removable insoles), the default for every line; the
incoterm defaults to DAP (duties paid by the receiver).
"""

from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import dataclass
from decimal import Decimal

from reportlab.lib.pagesizes import A4

from labels import fonts
from labels.drawing import draw, draw_box, draw_right, fit, new_canvas
from labels.shipping import Address

INCOTERMS = frozenset({"EXW", "FCA", "CPT", "CIP", "DAP", "DPU", "DDP", "FAS", "FOB", "CFR", "CIF"})
PAGE_W, PAGE_H = A4
MARGIN = 40.0


@dataclass(frozen=True)
class InvoiceLine:
    description: str
    quantity: int
    unit_value: Decimal
    country_of_origin: str
    hs_code: str = "6406"
    sku: str = ""

    @property
    def total(self) -> Decimal:
        return self.unit_value * self.quantity


@dataclass(frozen=True)
class InvoiceData:
    exporter: Address
    importer: Address
    invoice_number: str
    invoice_date: dt.date
    currency: str
    lines: tuple[InvoiceLine, ...]
    total_weight_g: int
    reason_for_export: str = "Sale of goods"
    incoterm: str = "DAP"
    order_reference: str = ""
    tracking_number: str = ""
    exporter_tax_id: str = ""
    importer_tax_id: str = ""
    declared_total: Decimal | None = None

    def __post_init__(self):
        if not re.fullmatch(r"[A-Z]{3}", self.currency):
            raise ValueError("currency must be an ISO 4217 code")
        if self.incoterm not in INCOTERMS:
            raise ValueError(f"unknown incoterm {self.incoterm!r}")
        if not self.lines:
            raise ValueError("an invoice needs at least one line")
        for line in self.lines:
            if line.quantity <= 0 or line.unit_value < 0:
                raise ValueError(f"line {line.description!r}: quantity must be positive and value not negative")
            if not re.fullmatch(r"\d{4,10}", line.hs_code):
                raise ValueError(f"line {line.description!r}: HS code must be 4 to 10 digits")
        if self.declared_total is not None and self.declared_total != self.total:
            raise ValueError(f"declared total {self.declared_total} does not match the lines ({self.total})")

    @property
    def total(self) -> Decimal:
        return sum((line.total for line in self.lines), Decimal(0))

    @property
    def quantity(self) -> int:
        return sum(line.quantity for line in self.lines)


def _money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01')):,.2f}"


def _party(c, x, top, width, title, address: Address, tax_id: str) -> None:
    draw(c, x, top - 9, title, 8, fonts.BOLD)
    lines = [address.name, *([address.company] if address.company else []), *address.lines]
    lines += [f"{address.postcode} {address.city}".strip(), address.country]
    if address.phone:
        lines.append(f"Tel. {address.phone}")
    if tax_id:
        lines.append(f"Tax ID {tax_id}")
    draw_box(c, x, top - 14, width, 96, lines, style=fonts.REGULAR, size=9.5, min_size=6)


# Columns: (title, x of the left edge, width, right-aligned)
_COLUMNS = (
    ("Description", 0, 190, False),
    ("HS code", 194, 50, False),
    ("Origin", 248, 36, False),
    ("Qty", 288, 34, True),
    ("Unit value", 326, 84, True),
    ("Total", 414, 101, True),
)


def _header_row(c, y) -> float:
    for title, x, width, right in _COLUMNS:
        if right:
            draw_right(c, MARGIN + x + width, y, title, 8.5, fonts.BOLD)
        else:
            draw(c, MARGIN + x, y, title, 8.5, fonts.BOLD)
    c.line(MARGIN, y - 4, PAGE_W - MARGIN, y - 4)
    return y - 16


def render_invoice_pdf(invoice: InvoiceData) -> bytes:
    """A4 commercial invoice; lines continue on further pages, the totals come after the last line."""
    buffer = io.BytesIO()
    c = new_canvas(buffer, A4, f"Commercial invoice {invoice.invoice_number}")
    inner = PAGE_W - 2 * MARGIN
    top = PAGE_H - MARGIN

    draw(c, MARGIN, top - 18, "COMMERCIAL INVOICE", 18, fonts.BOLD)
    meta = [
        f"Invoice {invoice.invoice_number}",
        f"Date {invoice.invoice_date.isoformat()}",
        f"Incoterm {invoice.incoterm}",
        f"Currency {invoice.currency}",
    ]
    if invoice.order_reference:
        meta.append(f"Order {invoice.order_reference}")
    if invoice.tracking_number:
        meta.append(f"Tracking {invoice.tracking_number}")
    draw_box(c, MARGIN + inner - 200, top, 200, 80, meta, style=fonts.REGULAR, size=9.5, min_size=6)
    y = top - 90
    _party(c, MARGIN, y, inner / 2 - 10, "EXPORTER", invoice.exporter, invoice.exporter_tax_id)
    _party(c, MARGIN + inner / 2 + 10, y, inner / 2 - 10, "IMPORTER", invoice.importer, invoice.importer_tax_id)
    y -= 118
    draw_box(
        c,
        MARGIN,
        y,
        inner,
        14,
        [f"Reason for export: {invoice.reason_for_export}"],
        style=fonts.REGULAR,
        size=10,
        min_size=6,
    )
    y = _header_row(c, y - 30)

    for line in invoice.lines:
        description = f"{line.description} ({line.sku})" if line.sku else line.description
        size, wrapped = fit(
            [description], style=fonts.REGULAR, size=9, min_size=6, max_width=_COLUMNS[0][2], max_height=34
        )
        height = max(14, len(wrapped) * size * 1.18 + 3)
        if y - height < MARGIN + 150:  # room for the totals and the declaration
            c.showPage()
            y = _header_row(c, PAGE_H - MARGIN - 10)
        row_y = y
        for part in wrapped:
            draw(c, MARGIN, row_y, part, size)
            row_y -= size * 1.18
        cells = (line.hs_code, line.country_of_origin, str(line.quantity), _money(line.unit_value), _money(line.total))
        for (_title, x, width, right), value in zip(_COLUMNS[1:], cells, strict=True):
            if right:
                draw_right(c, MARGIN + x + width, y, value, 9)
            else:
                draw(c, MARGIN + x, y, value, 9)
        y -= height

    c.line(MARGIN, y + 6, PAGE_W - MARGIN, y + 6)
    y -= 10
    totals = (
        ("Total quantity", str(invoice.quantity)),
        (f"Total value ({invoice.currency})", _money(invoice.total)),
        ("Total weight", f"{invoice.total_weight_g / 1000:.3f} kg"),
    )
    for title, value in totals:
        draw_right(c, MARGIN + 400, y, title, 10, fonts.BOLD)
        draw_right(c, PAGE_W - MARGIN, y, value, 10, fonts.BOLD)
        y -= 15
    y -= 20
    draw_box(
        c,
        MARGIN,
        y,
        inner,
        40,
        ["I declare that the information on this invoice is true and correct, and that the goods originate as stated."],
        style=fonts.REGULAR,
        size=8.5,
        min_size=6,
    )
    c.line(MARGIN, y - 50, MARGIN + 200, y - 50)
    draw(c, MARGIN, y - 62, "Signature, name and date", 8)
    c.showPage()
    c.save()
    return buffer.getvalue()
