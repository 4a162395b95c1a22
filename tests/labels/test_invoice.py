"""Commercial invoice: A4, parties in their own script, HS 6406, incoterm, totals that add up."""

import io
import re
import unicodedata
from decimal import Decimal

import pypdf
import pytest
from reportlab.pdfgen.canvas import Canvas

from labels import fonts
from labels.invoice import InvoiceLine, render_invoice_pdf
from labels.samples import RECIPIENTS, SENDER, invoice


def _text(pdf):
    pages = pypdf.PdfReader(io.BytesIO(pdf)).pages
    return pages, "\n".join(page.extract_text() for page in pages)


def _squash(text):
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def test_invoice_is_a4_with_parties_hs_code_incoterm_and_totals():
    data = invoice()
    pages, text = _text(render_invoice_pdf(data))
    assert len(pages) == 1
    assert (round(float(pages[0].mediabox.width)), round(float(pages[0].mediabox.height))) == (595, 842)
    squashed = _squash(text)
    for value in ("COMMERCIAL INVOICE", "CI-2026-0042", "2026-12-01", "Incoterm DAP", "Currency GBP", "Sale of goods"):
        assert _squash(value) in squashed, value
    for value in (SENDER.name, *RECIPIENTS["japanese"].lines, RECIPIENTS["japanese"].name, "794612345678"):
        assert _squash(value) in squashed, value
    assert squashed.count("6406") == 2
    assert "19.95" in text and "39.90" in text and "34.50" in text
    assert data.total == Decimal("74.40")
    assert "74.40" in text and "0.640 kg" in text


@pytest.mark.parametrize("key", list(RECIPIENTS))
def test_invoice_importer_in_every_script_is_extractable(key):
    _pages, text = _text(render_invoice_pdf(invoice(importer=RECIPIENTS[key])))
    assert _squash(RECIPIENTS[key].name) in _squash(text)


def test_invoice_lines_continue_on_further_pages_and_glyphs_come_from_fonts_that_have_them(monkeypatch):
    drawn = []
    original = Canvas.drawString

    def record(canvas, x, y, text, *args, **kwargs):
        drawn.append((canvas._fontname, x, y, text))
        return original(canvas, x, y, text, *args, **kwargs)

    monkeypatch.setattr(Canvas, "drawString", record)
    lines = tuple(InvoiceLine(f"Insole 木 line {i} " * 3, 1, Decimal("1.10"), "CN") for i in range(80))
    pages, text = _text(render_invoice_pdf(invoice(lines=lines)))
    assert len(pages) > 1
    assert "88.00" in text
    for font_name, x, y, part in drawn:
        assert all(ord(ch) in fonts.font_by_name(font_name).cmap for ch in part)
        assert 0 < x < 595 and 0 < y < 842


def test_invoice_refuses_a_declared_total_that_does_not_add_up():
    with pytest.raises(ValueError, match="does not match"):
        invoice(declared_total=Decimal("74.41"))
    assert invoice(declared_total=Decimal("74.40")).total == Decimal("74.40")


def test_invoice_refuses_bad_currency_incoterm_and_lines():
    with pytest.raises(ValueError, match="currency"):
        invoice(currency="pounds")
    with pytest.raises(ValueError, match="incoterm"):
        invoice(incoterm="XYZ")
    with pytest.raises(ValueError, match="quantity"):
        invoice(lines=(InvoiceLine("x", 0, Decimal(1), "GB"),))
    with pytest.raises(ValueError, match="HS code"):
        invoice(lines=(InvoiceLine("x", 1, Decimal(1), "GB", hs_code="64-06"),))
