"""Reading a rendered PDF as a person and a scanner would: its pages' text, the barcodes a 203 dpi raster gives,
and every string reportlab was asked to draw (font, size, position, page)."""

import io
import re
import unicodedata

import pypdf
import pypdfium2
import zxingcpp
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas

from labels import fonts


def squash(text):
    """NFKC (Arabic presentation forms back to letters) without whitespace: how extracted text is compared."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def pages(pdf):
    return pypdf.PdfReader(io.BytesIO(pdf)).pages


def pages_text(pdf):
    return [page.extract_text() for page in pages(pdf)]


def page_sizes(pdf):
    return [(round(float(p.mediabox.width)), round(float(p.mediabox.height))) for p in pages(pdf)]


def decode_pages(pdf, indexes=None):
    """Barcodes per page, rasterized at 203 dpi (a thermal printer's resolution) in grey."""
    document = pypdfium2.PdfDocument(pdf)
    found = []
    for i, page in enumerate(document):
        if indexes is not None and i not in indexes:
            continue
        image = page.render(scale=203 / 72, grayscale=True).to_pil()
        found.append([(r.format, r.text) for r in zxingcpp.read_barcodes(image)])
    return found


class Drawn:
    """Every string drawn: (page, font name, size, x, y, text). ``page`` is the page's index, or the form's name
    for a string drawn into a form (a PDF form is drawn once and shown on many pages)."""

    def __init__(self, monkeypatch):
        self.calls = []
        self.page = 0
        self.form = None
        draw_string, show_page = Canvas.drawString, Canvas.showPage
        begin_form, end_form = Canvas.beginForm, Canvas.endForm

        def record(canvas, x, y, text, *args, **kwargs):
            page = self.page if self.form is None else self.form
            self.calls.append((page, canvas._fontname, canvas._fontsize, x, y, text))
            return draw_string(canvas, x, y, text, *args, **kwargs)

        def next_page(canvas):
            self.page += 1
            return show_page(canvas)

        def in_form(canvas, name, *args, **kwargs):
            self.form = f"form {name}"
            return begin_form(canvas, name, *args, **kwargs)

        def out_of_form(canvas, *args, **kwargs):
            self.form = None
            return end_form(canvas, *args, **kwargs)

        monkeypatch.setattr(Canvas, "drawString", record)
        monkeypatch.setattr(Canvas, "showPage", next_page)
        monkeypatch.setattr(Canvas, "beginForm", in_form)
        monkeypatch.setattr(Canvas, "endForm", out_of_form)

    def assert_glyphs_in_fonts_and_inside(self, width, height, margin=0.0):
        """Each character comes from a registered font that has it, and each string lies inside the page
        (inside ``margin`` of every edge but the bottom, where the footer sits lower)."""
        assert self.calls
        for _page, font_name, size, x, y, text in self.calls:
            font = fonts.font_by_name(font_name)  # Helvetica or any unregistered font fails here
            missing = [ch for ch in text if ord(ch) not in font.cmap]
            assert not missing, (font_name, text, missing)
            w = pdfmetrics.stringWidth(text, font_name, size)
            assert margin <= x and x + w <= width - margin + 0.01, (text, x, w)
            assert y > 0 and y + size <= height - margin + 0.01, (text, y)

    def assert_nothing_overlaps(self):
        """No two strings on one page overlap (each string's box: its width, from descender to ascender)."""
        by_page = {}
        for page, font_name, size, x, y, text in self.calls:
            if text.strip():
                w = pdfmetrics.stringWidth(text, font_name, size)
                by_page.setdefault(page, []).append((x, x + w, y - 0.22 * size, y + 0.75 * size, text))
        for boxes in by_page.values():
            boxes.sort()
            for i, (_x0, x1, y0, y1, text) in enumerate(boxes):
                for a0, _a1, b0, b1, other in boxes[i + 1 :]:
                    if a0 >= x1 - 0.01:
                        break  # sorted by left edge: nothing further right can overlap this one
                    assert b1 <= y0 + 0.01 or b0 >= y1 - 0.01, (text, other)

    def texts(self, page=None):
        return [call[5] for call in self.calls if page is None or call[0] == page]
