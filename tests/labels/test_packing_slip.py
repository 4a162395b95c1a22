"""Packing slip: A5 (or A4), the customer's name and address in their own script, sizes in their system with the
stock size beside, the return instructions, and lines that continue on further pages with "Page N of M"."""

import re

import pytest
from reportlab.pdfbase import pdfmetrics

from labels.packing_slip import PackingSlipData, SlipLine, render_packing_slip_pdf
from labels.samples import RECIPIENTS, RETURNS, SENDER, packing_slip
from labels.shipping import Address
from tests.labels.helpers import Drawn, page_sizes, pages_text, squash

A5, A4 = (420, 595), (595, 842)


def test_slip_is_a5_by_default_and_a4_on_request():
    assert page_sizes(render_packing_slip_pdf(packing_slip())) == [A5]
    assert page_sizes(render_packing_slip_pdf(packing_slip(page_size="A4"))) == [A4]


def test_slip_has_the_order_the_items_in_the_customers_sizes_and_the_returns():
    slip = packing_slip()
    (text,) = pages_text(render_packing_slip_pdf(slip))
    squashed = squash(text)
    for value in (SENDER.name, "Packing slip", "Order SW-10042", "Order date 2026-11-29", "Service Express", "SHIP TO"):
        assert squash(value) in squashed, value
    items = squashed[squashed.index("ItemSizeSKUQty") :]
    assert items.startswith(
        squash("Item Size SKU Qty Gel insoles UK 8 (EU 42) GEL-EU42 2 Arch support insoles UK 5 (EU 38) ARCH-EU38 1")
    )
    assert "MerinowoolinsolesEU40WOOL-EU401" in items  # no stock size when it is the customer's size
    assert "Totalitems4" in squashed
    assert squash("Unworn insoles can be returned within 30 days of delivery.") in squashed
    assert squash("Write your order reference SW-10042 on the enclosed returns slip and include it") in squashed
    assert squash(" ".join([RETURNS.name, RETURNS.company, *RETURNS.lines, "M17 1AB Manchester", "GB"])) in squashed
    assert "https://solewise.example/returns" in squashed
    assert "Thankyouforyourorder!" in squashed
    assert re.findall(r"Page \d+ of \d+", text) == ["Page 1 of 1"]


@pytest.mark.parametrize("key", list(RECIPIENTS))
def test_ship_to_prints_in_the_customers_own_script(key):
    r = RECIPIENTS[key]
    (text,) = pages_text(render_packing_slip_pdf(packing_slip(key)))
    squashed = squash(text)
    # Arabic is drawn shaped, in visual order; NFKC and pypdf's right-to-left handling give back the logical text.
    for value in (r.name, r.company, *r.lines, f"{r.postcode} {r.city}" if key != "arabic" else r.city, r.country):
        assert squash(value) in squashed, value
    if key == "arabic":
        assert r.postcode in squashed


def test_customer_size_is_bold_and_the_stock_size_beside_it_smaller(monkeypatch):
    drawn = Drawn(monkeypatch)
    render_packing_slip_pdf(packing_slip())
    by_text = {text: (font, size, x, y) for _page, font, size, x, y, text in drawn.calls}
    font, size, x, y = by_text["UK 8"]
    stock_font, stock_size, stock_x, stock_y = by_text["(EU 42)"]
    assert font == "NotoSans-bold" and stock_font == "NotoSans-regular"
    assert stock_size < size and stock_y == y
    assert stock_x > x + pdfmetrics.stringWidth("UK 8", font, size)
    assert "(EU 40)" not in by_text and "()" not in by_text


def test_returns_without_a_url_and_a_one_day_window():
    (text,) = pages_text(render_packing_slip_pdf(packing_slip(returns_url="", return_days=1, service="")))
    squashed = squash(text)
    assert "returnedwithin1dayofdelivery" in squashed
    assert "online" not in squashed and "Service" not in squashed


def test_many_lines_continue_on_further_pages_with_page_n_of_m(monkeypatch):
    lines = tuple(SlipLine(f"Gel insoles, pair {i}", "US-M 9", "EU 42", f"GEL-EU42-{i:03d}", 1) for i in range(60))
    drawn = Drawn(monkeypatch)
    texts = pages_text(render_packing_slip_pdf(packing_slip("greek", lines=lines)))
    total = len(texts)
    assert total >= 3
    for number, text in enumerate(texts, 1):
        assert re.findall(r"Page \d+ of \d+", text) == [f"Page {number} of {total}"]
        if number > 1:
            assert squash("Order SW-10042 (continued)") in squash(text)
    everything = squash("".join(texts))
    positions = [everything.index(line.sku) for line in lines]
    assert positions == sorted(positions)
    assert everything.count("Unworninsoles") == 1 and "Unworninsoles" in squash(texts[-1])
    assert "Totalitems60" in squash(texts[-1])
    drawn.assert_glyphs_in_fonts_and_inside(419.53, 595.28, margin=10)
    drawn.assert_nothing_overlaps()


def test_the_returns_block_moves_to_a_new_page_rather_than_off_the_page(monkeypatch):
    # Every count of lines from one page to three: somewhere the rows leave too little room for the returns.
    drawn = Drawn(monkeypatch)
    moved = 0
    for n in range(1, 45):
        drawn.calls.clear()
        lines = tuple(SlipLine("Gel insoles", "UK 8", "EU 42", f"GEL-{i}", 1) for i in range(n))
        texts = pages_text(render_packing_slip_pdf(packing_slip(lines=lines)))
        drawn.assert_glyphs_in_fonts_and_inside(419.53, 595.28, margin=10)
        assert "Thankyouforyourorder!" in squash(texts[-1])
        moved += f"GEL-{n - 1}" not in texts[-1]  # the last page holds only the returns and thank you
    assert moved >= 1


@pytest.mark.parametrize("page_size", ["A5", "A4"])
def test_long_names_and_addresses_shrink_or_wrap_inside_the_page(monkeypatch, page_size):
    recipient = Address(
        name="Maximiliane Wilhelmina Freifrau von und zu Hohenzollern-Sigmaringen-Löwenstein-Wertheim",
        company="Orthopädie-Schuhtechnik Großhandelsgesellschaft mit beschränkter Haftung & Co. KG",
        lines=(
            "Hinterhaus, Aufgang C, vierter Stock links, bei der großen Kastanie klingeln",
            "東京都千代田区丸の内一丁目九番一号グラントウキョウノースタワー四十階受付前",
            "شارع الملك فهد، حي العليا، مبنى رقم ٤٥",
        ),
        city="Garmisch-Partenkirchen",
        postcode="82467",
        country="DE",
    )
    line = SlipLine(
        "Sport running insoles with carbon plate and extra heel cushioning, long",
        "US-W 10.5",
        "EU 42",
        "SPORT-CARBON-US-W-10.5",
        3,
    )
    drawn = Drawn(monkeypatch)
    pdf = render_packing_slip_pdf(packing_slip("latin", recipient=recipient, lines=(line,), page_size=page_size))
    width, height = {"A5": (419.53, 595.28), "A4": (595.28, 841.89)}[page_size]
    drawn.assert_glyphs_in_fonts_and_inside(width, height, margin=10)
    drawn.assert_nothing_overlaps()
    squashed = squash("".join(pages_text(pdf)))
    for value in (recipient.name, recipient.company, *recipient.lines[:2], line.description, line.sku, "US-W10.5"):
        assert squash(value) in squashed, value
    assert "…" not in squashed


def test_slip_refuses_bad_page_size_quantity_no_lines_and_return_days():
    with pytest.raises(ValueError, match="page_size"):
        packing_slip(page_size="Letter")
    with pytest.raises(ValueError, match="quantity must be positive"):
        packing_slip(lines=(SlipLine("Gel insoles", "UK 8", "EU 42", "GEL-EU42", 0),))
    with pytest.raises(ValueError, match="at least one line"):
        packing_slip(lines=())
    with pytest.raises(ValueError, match="return_days"):
        packing_slip(return_days=0)
    assert isinstance(packing_slip(page_size="A4"), PackingSlipData)
