"""Shipping labels checked as a person would: page size, extractable text in every script, a barcode that
scans at 203 dpi, ZPL fields, nothing off the label, and no glyph drawn from a font that lacks it."""

import io
import re
import unicodedata

import pypdf
import pypdfium2
import pytest
import zxingcpp
from reportlab.graphics.barcode.code128 import Code128
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas

from labels import fonts
from labels.samples import RECIPIENTS, SENDER, label
from labels.shipping import MARGIN, PAGE_H, PAGE_W, ZPL_W, Address, render_label_pdf, render_label_zpl

WORLD = [label(key, tracking_number=f"79461234560{i}", reprint=key == "greek") for i, key in enumerate(RECIPIENTS)]

LONG = label(
    "latin",
    recipient=Address(
        name="Maximiliane Wilhelmina Freifrau von und zu Hohenzollern-Sigmaringen-Löwenstein-Wertheim",
        company="Orthopädie-Schuhtechnik Großhandelsgesellschaft mit beschränkter Haftung & Co. KG",
        lines=(
            "Hinterhaus, Aufgang C, vierter Stock links, bei der großen Kastanie klingeln",
            "Friedrich-Wilhelm-von-Steuben-Straße 1234a, Gewerbepark Nord-Ost, Halle 17",
            "東京都千代田区丸の内一丁目九番一号グラントウキョウノースタワー四十階受付前",
        ),
        city="Garmisch-Partenkirchen-Oberammergau-Mittenwald",
        postcode="82467",
        country="DE",
        phone="+49 8821 123456789 ext. 4455 (Empfang, Mo-Fr 08:00-17:00)",
    ),
    courier="Deutsche Post DHL Group Express International",
    service="Express Worldwide Documents and Parcels 12:00 Delivery Guaranteed",
    routing_code="DE-82467-GAP-XYZ-0001",
    tracking_number="JJD0001234567890123456789",
)


# More than the recipient box can hold even at the smallest size: the rest is cut with an ellipsis.
HUGE = label(
    "latin",
    recipient=Address(
        name="Ærøskøbing " * 12,
        lines=tuple(f"Line {i} " + "Långgatan " * 8 for i in range(10)),
        city="Ö" * 80,
        postcode="12345",
        country="SE",
        phone="+46 " + "7" * 70,
    ),
    routing_code="SE-" + "9" * 60,
    origin="MAN",
    destination="ARN" * 20,
    order_reference="SW-" + "1" * 90,
    tracking_number="1Z999AA10123456784",
)


@pytest.fixture(scope="module")
def world_pdf():
    return render_label_pdf(WORLD)


class Recorder:
    """Every string reportlab is asked to draw, with the font, size and position it is drawn in."""

    def __init__(self, monkeypatch):
        self.calls = []
        original = Canvas.drawString

        def draw_string(canvas, x, y, text, *args, **kwargs):
            self.calls.append((canvas._fontname, canvas._fontsize, x, y, text))
            return original(canvas, x, y, text, *args, **kwargs)

        monkeypatch.setattr(Canvas, "drawString", draw_string)


def _squash(text):
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def _pages_text(pdf):
    return [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages]


def test_label_pdf_is_one_4x6_page_per_parcel(world_pdf):
    reader = pypdf.PdfReader(io.BytesIO(world_pdf))
    assert len(reader.pages) == len(WORLD)
    for page in reader.pages:
        assert (float(page.mediabox.width), float(page.mediabox.height)) == (288.0, 432.0)


def test_label_pdf_text_has_names_in_every_script_and_the_tracking_number(world_pdf):
    texts = _pages_text(world_pdf)
    for data, text in zip(WORLD, texts, strict=True):
        squashed = _squash(text)
        r = data.recipient
        for field in (r.name, *r.lines, r.city, r.phone, SENDER.name):
            # Arabic is drawn shaped (presentation forms, visual order); NFKC and pypdf's RTL
            # handling give back the logical text.
            assert _squash(field) in squashed, (field, text)
        assert data.tracking_number in squashed
        for field in ("EXPRESS", "FedEx".upper(), "IP", "NRT-A12", "MAN", "NRT", "1of2", "0.42kg", "30x12x4cm"):
            assert _squash(field) in squashed
        assert "SW-10042" in squashed and "2026-12-01" in squashed
        assert ("REPRINT" in squashed) == data.reprint


def test_label_fonts_are_embedded_truetype(world_pdf):
    reader = pypdf.PdfReader(io.BytesIO(world_pdf))
    names = set()
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            if font["/BaseFont"] == "/Helvetica":
                continue  # reportlab's initial page font; no text is drawn in it (see the glyph test)
            assert font["/Subtype"] == "/TrueType"
            assert "/FontFile2" in font["/FontDescriptor"].get_object()  # embedded TrueType outlines
            names.add(font["/BaseFont"].split("+")[-1])
    assert {"NotoSans-W400", "NotoSans-W700", "NotoSansArabic-W400", "NotoSansCJKtc-Regular"} <= names


def _decode_pages(pdf):
    document = pypdfium2.PdfDocument(pdf)
    found = []
    for page in document:
        image = page.render(scale=203 / 72, grayscale=True).to_pil()
        found.append([(r.format, r.text) for r in zxingcpp.read_barcodes(image)])
    return found


def test_label_code128_decodes_to_the_tracking_number_at_203_dpi(world_pdf):
    for data, results in zip(WORLD, _decode_pages(world_pdf), strict=True):
        assert results == [(zxingcpp.BarcodeFormat.Code128, data.tracking_number)]


def test_long_tracking_number_still_decodes_at_203_dpi():
    pdf = render_label_pdf([LONG])
    assert _decode_pages(pdf) == [[(zxingcpp.BarcodeFormat.Code128, LONG.tracking_number)]]


def test_no_glyph_is_drawn_from_a_font_that_lacks_it(monkeypatch):
    recorder = Recorder(monkeypatch)
    render_label_pdf([*WORLD, LONG])
    assert recorder.calls
    scripts = set()
    for font_name, _size, _x, _y, text in recorder.calls:
        font = fonts.font_by_name(font_name)  # a Helvetica or other unregistered font would fail here
        missing = [ch for ch in text if ord(ch) not in font.cmap]
        assert not missing, (font_name, text, missing)
        scripts.update(font_name.split("-")[0] for ch in text if not ch.isspace())
    assert scripts == {"NotoSans", "NotoSansArabic", "NotoSansCJK"}


def test_latin_greek_and_cyrillic_are_not_drawn_in_the_cjk_font(monkeypatch):
    recorder = Recorder(monkeypatch)
    render_label_pdf([label("japanese", recipient=Address("山田 Иван Γιώργος", (), "東京都", "1", "JP"))])
    drawn = {text.strip(): font for font, _s, _x, _y, text in recorder.calls}
    assert drawn["山田"].startswith("NotoSansCJK")
    assert drawn["Иван Γιώργος"] == "NotoSans-bold"


def test_character_no_font_has_is_drawn_as_a_question_mark():
    assert fonts.runs("a\U0001f97fb") == (("NotoSans-regular", "a?b"),)


@pytest.mark.parametrize("style", [fonts.REGULAR, fonts.BOLD])
def test_text_width_is_what_reportlab_measures_for_each_run(style):
    texts = [value for r in RECIPIENTS.values() for value in (r.name, *r.lines, r.city)]
    for text in [*texts, "GEL-EU42 · Gel insoles", "a\U0001f97fb", "", "Ærø 山田"]:
        visual = fonts.visual(text)
        measured = sum(pdfmetrics.stringWidth(part, name, 9) for name, part in fonts.runs(visual, style))
        assert fonts.width(visual, 9, style) == pytest.approx(measured, rel=1e-12), text
    assert fonts.width("WWW", 10, style) > fonts.width("iii", 10, style) > 0


def test_long_text_shrinks_wraps_or_is_cut_but_stays_on_the_label(monkeypatch):
    recorder = Recorder(monkeypatch)
    pdf = render_label_pdf([LONG, HUGE])
    for font_name, size, x, y, text in recorder.calls:
        w = pdfmetrics.stringWidth(text, font_name, size)
        assert x >= MARGIN and x + w <= PAGE_W - MARGIN + 0.01, (text, x, w)
        assert y >= MARGIN and y + size <= PAGE_H - MARGIN, (text, y)
        assert size >= 5
    long_text, huge_text = _pages_text(pdf)
    squashed = _squash(long_text)
    assert LONG.tracking_number in squashed
    for field in (LONG.recipient.name, *LONG.recipient.lines, LONG.recipient.phone, LONG.routing_code):
        assert _squash(field) in squashed, field  # shrunk or wrapped, never cut while it can fit
    assert "…" not in long_text
    assert "…" in huge_text  # what cannot fit even at the smallest size is visibly cut
    assert HUGE.tracking_number in _squash(huge_text)
    assert _decode_pages(pdf)[1] == [(zxingcpp.BarcodeFormat.Code128, HUGE.tracking_number)]


def test_reprint_marker_only_when_asked():
    first, again = _pages_text(render_label_pdf([label(), label(reprint=True)]))
    assert "REPRINT" not in first
    assert "REPRINT" in again


def test_standard_service_has_no_express_marker():
    (text,) = _pages_text(render_label_pdf([label(express=False)]))
    assert "EXPRESS" not in text and "STANDARD" in text


def test_label_data_refuses_bad_tracking_piece_and_country():
    with pytest.raises(ValueError, match="tracking_number"):
        label(tracking_number="追跡123")
    with pytest.raises(ValueError, match="piece"):
        label(piece=3, pieces=2)
    with pytest.raises(ValueError, match="recipient country"):
        label(recipient=Address("A", (), "B", "1", "Japan"))


def _zpl_formats(zpl: bytes):
    text = zpl.decode("utf-8")
    assert text.count("^XA") == text.count("^XZ")
    return re.findall(r"\^XA(.*?)\^XZ", text, flags=re.S)


def _field_data(fmt: str):
    def unescape(value):
        return re.sub(r"_([0-9A-F]{2})", lambda m: chr(int(m.group(1), 16)), value)

    return [unescape(v) for v in re.findall(r"\^FD(.*?)\^FS", fmt, flags=re.S)]


def test_zpl_has_one_format_per_parcel_with_the_same_fields():
    formats = _zpl_formats(render_label_zpl(WORLD))
    assert len(formats) == len(WORLD)
    for data, fmt in zip(WORLD, formats, strict=True):
        assert "^CI28" in fmt
        assert "^PW812" in fmt and "^LL1218" in fmt
        barcode = re.search(r"\^BY(\d+),[\d.]+,(\d+)\^FO\d+,\d+\^BCN,\d+,N,N,N,A\^FH_\^FD(.*?)\^FS", fmt)
        assert barcode and barcode.group(3) == data.tracking_number
        fields = "\n".join(_field_data(fmt))
        r = data.recipient
        for value in (r.name, *r.lines, r.city, r.postcode, r.country, r.phone, SENDER.name, data.courier.upper()):
            assert value in fields, value
        for value in ("EXPRESS", "IP", "NRT-A12", "MAN > NRT", "1 of 2", "0.42 kg", "30 x 12 x 4 cm", "SW-10042"):
            assert value in fields, value
        assert ("REPRINT" in fields) == data.reprint


def test_zpl_escapes_command_characters_in_field_data():
    (fmt,) = _zpl_formats(render_label_zpl([label(order_reference="A^B~C_D")]))
    assert "A_5EB_7EC_5FD" in fmt
    assert any("A^B~C_D" in value for value in _field_data(fmt))


def test_zpl_is_utf8_for_every_script():
    zpl = render_label_zpl(WORLD)
    for data in WORLD:
        assert data.recipient.name.encode("utf-8") in zpl


@pytest.mark.parametrize("data", [WORLD[0], LONG, HUGE], ids=["short", "long", "huge"])
def test_zpl_barcode_uses_whole_dots_and_stays_inside_the_label(data):
    (fmt,) = _zpl_formats(render_label_zpl([data]))
    dots, x = map(int, re.search(r"\^BY(\d+),3,\d+\^FO(\d+),", fmt).groups())
    modules = Code128(data.tracking_number, barWidth=1, quiet=False).width
    assert dots >= 2
    assert x >= 20 and x + modules * dots <= ZPL_W - 20


def test_zpl_cuts_text_the_printer_would_overprint():
    (fmt,) = _zpl_formats(render_label_zpl([HUGE]))
    blocks = re.findall(r"\^A0N,(\d+),\d+\^FB(\d+),(\d+),0,L,0\^FH_\^FD(.*?)\^FS", fmt)
    assert any(text.endswith("…") for *_, text in blocks)
    for height, width, lines, text in blocks:
        assert len(text) * 0.6 * int(height) <= int(width) * int(lines) + int(height), text


def test_zpl_can_use_a_truetype_font_stored_on_the_printer():
    (fmt,) = _zpl_formats(render_label_zpl([WORLD[0]], font="E:NOTOSANSCJK.TTF"))
    assert f"^A@N,44,44,E:NOTOSANSCJK.TTF^FB680,2,0,L,0^FH_^FD{WORLD[0].recipient.name}^FS" in fmt


def test_decomposed_accents_are_drawn_precomposed(monkeypatch):
    recorder = Recorder(monkeypatch)
    render_label_pdf([label("latin", recipient=Address("Zoe\u0308 Jose\u0301", (), "Kraków", "1", "PL"))])
    assert any("Zoë José" in text for *_, text in recorder.calls)
