"""Shipping labels: 4 x 6 in, one page per parcel, as PDF (reportlab) or ZPL II (203 dpi thermal printers).

Pure: a frozen ``LabelData`` in, bytes out. The layout, top to bottom:
courier / service / product code and the express marker; sender; recipient
with phone; routing code with origin -> destination; the Code128 of the
tracking number with the number printed under it; piece n of m, weight,
dimensions, order reference and ship date. A reprint carries ``REPRINT``.

Text that does not fit shrinks down to a floor size, then wraps, then is cut
with an ellipsis: nothing is drawn outside its box.
"""

from __future__ import annotations

import datetime as dt
import io
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from reportlab.pdfgen import canvas as pdfcanvas

from labels import fonts
from labels.drawing import QUIET_MODULES, code128, code128_modules, draw, draw_box, new_canvas

PAGE_W, PAGE_H = 288.0, 432.0  # 4 x 6 in
MARGIN = 10.0


@dataclass(frozen=True)
class Address:
    name: str
    lines: tuple[str, ...]
    city: str
    postcode: str
    country: str  # ISO 3166-1 alpha-2
    company: str = ""
    phone: str = ""


@dataclass(frozen=True)
class LabelData:
    sender: Address
    recipient: Address
    courier: str
    service: str
    product_code: str
    tracking_number: str
    ship_date: dt.date
    order_reference: str
    weight_g: int
    dimensions_cm: tuple[int, int, int] | None = None
    express: bool = False
    routing_code: str = ""
    origin: str = ""
    destination: str = ""
    piece: int = 1
    pieces: int = 1
    reprint: bool = False

    def __post_init__(self):
        if not self.tracking_number or not all(32 <= ord(c) < 127 for c in self.tracking_number):
            raise ValueError("tracking_number must be printable ASCII (Code128 set B)")
        if not 1 <= self.piece <= self.pieces:
            raise ValueError("piece must be between 1 and pieces")
        for who, address in (("sender", self.sender), ("recipient", self.recipient)):
            if not (len(address.country) == 2 and address.country.isascii() and address.country.isupper()):
                raise ValueError(f"{who} country must be an ISO 3166-1 alpha-2 code")


def address_lines(address: Address) -> list[str]:
    lines = [address.company] if address.company else []
    lines.extend(line for line in address.lines if line)
    lines.append(f"{address.postcode} {address.city}".strip())
    return lines


def _weight(label: LabelData) -> str:
    return f"{label.weight_g / 1000:.2f} kg"


def _dimensions(label: LabelData) -> str:
    return " x ".join(str(d) for d in label.dimensions_cm) + " cm" if label.dimensions_cm else ""


# ---------------------------------------------------------------- PDF


def _page(c: pdfcanvas.Canvas, label: LabelData) -> None:
    inner = PAGE_W - 2 * MARGIN
    c.setLineWidth(1.2)
    c.rect(MARGIN / 2, MARGIN / 2, PAGE_W - MARGIN, PAGE_H - MARGIN)

    # Header: courier, service, product code; express marker on the right.
    top = PAGE_H - MARGIN
    marker_w = 120.0
    draw_box(c, MARGIN, top, inner - marker_w - 6, 24, [label.courier.upper()], style=fonts.BOLD, size=20, min_size=9)
    draw_box(
        c,
        MARGIN,
        top - 25,
        inner - marker_w - 6,
        22,
        [f"{label.service}  ·  {label.product_code}"],
        style=fonts.REGULAR,
        size=9,
        min_size=6,
    )
    mx, my = PAGE_W - MARGIN - marker_w, top - 46
    if label.express:
        c.setFillGray(0)
        c.rect(mx, my, marker_w, 46, stroke=0, fill=1)
        c.setFillGray(1)
        draw(c, mx + (marker_w - fonts.width("EXPRESS", 22, fonts.BOLD)) / 2, my + 15, "EXPRESS", 22, fonts.BOLD)
        c.setFillGray(0)
    else:
        c.rect(mx, my, marker_w, 46, stroke=1, fill=0)
        draw(c, mx + (marker_w - fonts.width("STANDARD", 14, fonts.BOLD)) / 2, my + 17, "STANDARD", 14, fonts.BOLD)
    y = top - 52
    c.line(MARGIN / 2, y, PAGE_W - MARGIN / 2, y)

    # Sender, small.
    draw(c, MARGIN, y - 9, "FROM", 6.5, fonts.BOLD)
    s = label.sender
    sender = [s.name, *address_lines(s), f"{s.country}  {s.phone}".strip()]
    draw_box(c, MARGIN + 28, y - 3, inner - 28, 58, sender, style=fonts.REGULAR, size=7.5, min_size=5)
    y -= 64
    c.line(MARGIN / 2, y, PAGE_W - MARGIN / 2, y)

    # Recipient, large; country and phone on their own line so they are never cut by a long street.
    draw(c, MARGIN, y - 11, "TO", 8, fonts.BOLD)
    r = label.recipient
    draw_box(c, MARGIN + 22, y - 4, inner - 22, 30, [r.name], style=fonts.BOLD, size=14, min_size=7)
    draw_box(c, MARGIN + 22, y - 36, inner - 22, 62, address_lines(r), style=fonts.REGULAR, size=11, min_size=6)
    draw(c, MARGIN + 22, y - 112, r.country, 16, fonts.BOLD)
    if r.phone:
        draw_box(c, MARGIN + 60, y - 100, inner - 60, 14, [f"Tel. {r.phone}"], style=fonts.REGULAR, size=9, min_size=6)
    y -= 120
    c.line(MARGIN / 2, y, PAGE_W - MARGIN / 2, y)

    # Routing: the sort code large, origin -> destination on the right.
    draw_box(
        c, MARGIN, y - 4, 150, 40, [label.routing_code or "-"], style=fonts.BOLD, size=30, min_size=10, lines_cap=1
    )
    route = f"{label.origin or '-'} → {label.destination or '-'}"
    draw_box(c, MARGIN + 156, y - 10, inner - 156, 30, [route], style=fonts.BOLD, size=18, min_size=8, lines_cap=1)
    y -= 46
    c.line(MARGIN / 2, y, PAGE_W - MARGIN / 2, y)

    # Barcode, centred, with its quiet zones inside the label.
    bc = code128(label.tracking_number, max_width=PAGE_W - 2 * MARGIN, bar_height=62)
    bx = (PAGE_W - bc.width) / 2
    bc.drawOn(c, bx, y - 8 - bc.barHeight)
    tracking = label.tracking_number
    draw(c, (PAGE_W - fonts.width(tracking, 11, fonts.BOLD)) / 2, y - 8 - bc.barHeight - 13, tracking, 11, fonts.BOLD)
    y -= 8 + bc.barHeight + 20
    c.line(MARGIN / 2, y, PAGE_W - MARGIN / 2, y)

    # Footer: piece, weight, dimensions, reference, date; REPRINT boxed on the right.
    draw(c, MARGIN, y - 16, f"{label.piece} of {label.pieces}", 14, fonts.BOLD)
    reprint_w = 78.0 if label.reprint else 0.0
    text_w = inner - 70 - reprint_w
    details = "  ".join(p for p in (_weight(label), _dimensions(label)) if p)
    draw_box(c, MARGIN + 70, y - 4, text_w, 12, [details], style=fonts.REGULAR, size=9, min_size=6)
    ref = f"Ref {label.order_reference}  ·  {label.ship_date.isoformat()}"
    draw_box(c, MARGIN + 70, y - 18, text_w, 12, [ref], style=fonts.REGULAR, size=9, min_size=6)
    if label.reprint:
        rx = PAGE_W - MARGIN - reprint_w + 4
        c.setFillGray(0)
        c.rect(rx, y - 36, reprint_w - 4, 32, stroke=0, fill=1)
        c.setFillGray(1)
        draw(c, rx + (reprint_w - 4 - fonts.width("REPRINT", 12, fonts.BOLD)) / 2, y - 24, "REPRINT", 12, fonts.BOLD)
        c.setFillGray(0)


def render_label_pdf(labels: Sequence[LabelData]) -> bytes:
    """One 4 x 6 in page per parcel, in the order given."""
    buffer = io.BytesIO()
    c = new_canvas(buffer, (PAGE_W, PAGE_H), "Shipping labels")
    for label in labels:
        _page(c, label)
        c.showPage()
    c.save()
    return buffer.getvalue()


# ---------------------------------------------------------------- ZPL

ZPL_W, ZPL_H = 812, 1218  # 4 x 6 in at 203 dpi


def _fd(text: str) -> str:
    """Field data with ^FH hex escapes for the characters ZPL treats as commands (^, ~) and the escape (_)."""
    if "^" in text or "~" in text or "_" in text:
        text = "".join(f"_{ord(ch):02X}" if ch in "^~_" else ch for ch in text)
    return f"^FH_^FD{text}^FS"


def _zpl_font(height: int, font: str | None) -> str:
    # ^A0 is the printer's built-in scalable font (Latin, Greek, Cyrillic; no CJK or Arabic on stock printers);
    # a TrueType font stored on the printer (e.g. E:NOTOSANS.TTF sent with ^CW or Zebra Setup Utilities) covers them.
    return f"^A@N,{height},{height},{font}" if font else f"^A0N,{height},{height}"


def _zpl_fit(text: str, height: int, width: int, lines: int) -> str:
    """Cut text the printer would overprint: ^FB writes what exceeds its lines over the last line.

    The estimate is deliberately generous with width (0.6 em per Latin character, 1 em per wide East Asian one).
    """
    budget = width * lines / height
    if len(text) <= budget:
        return text  # fits even if every character is a wide one (1 em)
    if text.isascii():  # every character 0.6 em: no per-character look-up
        if len(text) * 0.6 <= budget:
            return text
        first_over = int(budget / 0.6)  # the index whose character passes the budget
        while 0.6 * (first_over + 1) <= budget:
            first_over += 1
        while first_over and 0.6 * first_over > budget:
            first_over -= 1
        return text[: max(0, first_over - 1)] + "…"
    used = 0.0
    for i, ch in enumerate(text):
        used += 1.0 if unicodedata.east_asian_width(ch) in "WF" else 0.6
        if used > budget:
            return text[: max(0, i - 1)] + "…"
    return text


def _zpl_text(x: int, y: int, height: int, text: str, *, font: str | None, width: int, lines: int = 1) -> str:
    text = _zpl_fit(text, height, width, lines)
    return f"^FO{x},{y}{_zpl_font(height, font)}^FB{width},{lines},0,L,0{_fd(text)}"


def _zpl_barcode(tracking: str, top: int, height: int) -> str:
    """Code128 centred, module width the widest whole number of dots (4 down to 1) that fits with quiet zones."""
    modules = code128_modules(tracking)  # the printer's auto mode encodes no longer
    dots = next((d for d in (4, 3, 2) if (modules + 2 * QUIET_MODULES) * d <= ZPL_W - 40), 1)
    x = max(20, int((ZPL_W - modules * dots) / 2))
    return f"^BY{dots},3,{height}^FO{x},{top}^BCN,{height},N,N,N,A{_fd(tracking)}"


def _zpl_label(label: LabelData, font: str | None) -> str:
    s, r = label.sender, label.recipient
    out = [
        "^XA",
        "^CI28",  # field data is UTF-8
        "^PA0,1,1,0",  # Link-OS: bidirectional layout and Arabic shaping done by the printer
        f"^PW{ZPL_W}",
        f"^LL{ZPL_H}",
        "^LH0,0",
        "^FO20,20^GB772,1178,3^FS",
        _zpl_text(40, 40, 50, label.courier.upper(), width=480, font=font),
        _zpl_text(40, 100, 26, f"{label.service} / {label.product_code}", width=480, font=font),
    ]
    if label.express:
        out += ["^FO540,35^GB240,100,100^FS", "^FO540,65^A0N,50,50^FR^FB240,1,0,C,0" + _fd("EXPRESS")]
    else:
        out += ["^FO540,35^GB240,100,3^FS", "^FO540,70^A0N,36,36^FB240,1,0,C,0" + _fd("STANDARD")]
    out += [
        "^FO20,150^GB772,0,3^FS",
        "^FO40,165^A0N,20,20" + _fd("FROM"),
        _zpl_text(
            120,
            165,
            22,
            " \\& ".join([s.name, *address_lines(s), f"{s.country} {s.phone}".strip()]),
            lines=6,
            width=650,
            font=font,
        ),
        "^FO20,330^GB772,0,3^FS",
        "^FO40,345^A0N,26,26" + _fd("TO"),
        _zpl_text(100, 345, 44, r.name, width=680, lines=2, font=font),
        _zpl_text(100, 440, 32, " \\& ".join(address_lines(r)), width=680, lines=5, font=font),
        _zpl_text(100, 620, 48, r.country, width=200, font=font),
        _zpl_text(300, 630, 28, f"Tel. {r.phone}" if r.phone else "", width=480, font=font),
        "^FO20,690^GB772,0,3^FS",
        _zpl_text(40, 705, 90, label.routing_code or "-", width=420, font=font),
        _zpl_text(470, 720, 50, f"{label.origin or '-'} > {label.destination or '-'}", width=320, font=font),
        "^FO20,820^GB772,0,3^FS",
        # Code128, automatic subset (^BC mode A), no printed interpretation line: the number is printed below.
        _zpl_barcode(label.tracking_number, 845, 170),
        "^FO20,1030^A0N,34,34^FB772,1,0,C,0" + _fd(label.tracking_number),
        "^FO20,1080^GB772,0,3^FS",
        _zpl_text(40, 1100, 44, f"{label.piece} of {label.pieces}", width=200, font=font),
        _zpl_text(250, 1095, 28, "  ".join(p for p in (_weight(label), _dimensions(label)) if p), width=520, font=font),
        _zpl_text(250, 1135, 28, f"Ref {label.order_reference}  {label.ship_date.isoformat()}", width=520, font=font),
    ]
    if label.reprint:
        out += ["^FO40,1150^GB200,40,40^FS", "^FO40,1156^A0N,32,32^FR^FB200,1,0,C,0" + _fd("REPRINT")]
    out.append("^XZ")
    return "\n".join(out)


def render_label_zpl(labels: Sequence[LabelData], *, font: str | None = None) -> bytes:
    """ZPL II for 203 dpi printers: one ^XA ... ^XZ format per parcel, UTF-8 (^CI28).

    ``font`` names a TrueType font stored on the printer (``E:NOTOSANS.TTF``) for scripts ^A0 lacks.
    """
    return ("\n".join(_zpl_label(label, font) for label in labels) + "\n").encode("utf-8")
