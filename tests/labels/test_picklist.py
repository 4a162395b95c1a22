"""Pick list: A4, the header on every page, the walk in the order given, tote blocks in every script, the wave's
Code128 read at 203 dpi, "Page N of M" right on every page, and nothing drawn off the page or over other text."""

import datetime as dt
import re
from dataclasses import replace

import pytest
import zxingcpp

from labels.picklist import PickLine, Tote, ToteItem, render_pick_list_pdf
from labels.samples import RECIPIENTS, large_pick_list, pick_list
from tests.labels.helpers import Drawn, decode_pages, page_sizes, pages_text, squash

A4 = (595, 842)


def _split(line):
    return "  ".join(f"T{tote}\u00d7{units}" for tote, units in line.totes)


@pytest.fixture(scope="module")
def sample():
    data = pick_list()
    return data, render_pick_list_pdf(data)


@pytest.fixture(scope="module")
def large():
    data = large_pick_list(orders=60, items_per_order=3)
    return data, render_pick_list_pdf(data)


def test_pick_list_is_a4_and_every_page_has_the_header(sample):
    data, pdf = sample
    texts = pages_text(pdf)
    assert page_sizes(pdf) == [A4, A4]
    for text in texts:
        squashed = squash(text)
        for value in (
            "Wave 1042",
            "MAN · Manchester fulfilment centre",
            "Began 2026-12-01 08:30 GMT",
            "Printed 2026-12-01 08:42 GMT",
            "Europe/London",
            "Picker: Sam Okafor",
            "Service: all",
            "Orders 7",
            "Lines 11",
            "Units 17",
        ):
            assert squash(value) in squashed, (value, text)
    assert data.units == 17 and len(data.lines) == 11


def test_times_are_in_the_warehouse_zone_and_blanks_are_spelled_out():
    data = pick_list(
        timezone="Australia/Sydney",
        picker="",
        service_level="express",
        created_at=dt.datetime(2026, 12, 1, 8, 30, tzinfo=dt.UTC),
    )
    (first, *_) = pages_text(render_pick_list_pdf(data))
    squashed = squash(first)
    assert "Began2026-12-0119:30AEDT" in squashed  # UTC+11 in December
    assert "Printed2026-12-0119:42AEDT" in squashed
    assert "(Australia/Sydney)" in squashed
    assert "Picker:unassigned" in squashed and "Service:express" in squashed


def test_pick_rows_keep_the_given_order_with_bin_size_quantity_and_tote_split(sample):
    data, pdf = sample
    pick = squash(pages_text(pdf)[0])
    positions = [pick.index(line.sku) for line in data.lines]
    assert positions == sorted(positions)
    # Walk order, not string order: B-03-05 is walked before B-01-02.
    assert pick.index("B-03-05") < pick.index("B-01-02")
    for line in data.lines:
        row = pick[pick.index(line.sku) :]
        assert row.startswith(squash(f"{line.sku} {line.quantity} {_split(line)}")), (line.sku, row[:40])
    assert "T1×2T2×1T5×1" in pick  # GEL EU 42: three totes
    assert squash("no bin WOOL · Merino wool insoles EU 39 WOOL-EU39") in pick


def test_the_renderer_does_not_re_sort_the_lines():
    data = pick_list()
    backwards = replace(data, lines=data.lines[::-1])
    pick = squash(pages_text(render_pick_list_pdf(backwards))[0])
    positions = [pick.index(line.sku) for line in backwards.lines]
    assert positions == sorted(positions)
    assert pick.index("nobin") < pick.index("A-01-03")


def test_tote_part_starts_on_a_new_page_with_one_block_per_tote_in_every_script(sample):
    data, pdf = sample
    pick, totes = (squash(text) for text in pages_text(pdf))
    assert "TOTES" in totes and "TOTES" not in pick
    assert "PICK" in pick
    positions = [totes.index(squash(f"T{t.number} {t.order_reference}")) for t in data.totes]
    assert positions == sorted(positions)
    for tote in data.totes:
        block = totes[totes.index(squash(f"T{tote.number} {tote.order_reference}")) :]
        assert squash(tote.customer) in block[:80], tote.customer
        assert block.startswith(squash(f"T{tote.number} {tote.order_reference}"))
        for item in tote.items:
            assert (
                squash(f"{item.quantity}× {item.product_name} {item.size} {item.sku} {item.bin or 'no bin'}") in totes
            )
    for recipient in RECIPIENTS.values():
        assert squash(recipient.name) in totes, recipient.name  # Arabic too: pypdf gives back the logical order
        assert f"→{recipient.country}" in totes
    assert totes.count("EXPRESS") == sum(t.service_level == "express" for t in data.totes) == 4
    assert totes.count("STANDARD") == 3
    assert totes.count("LATE") == 1
    late = totes.index("LATE")
    assert totes.rindex("T2SW-10042", 0, late) > totes.rindex("T1SW-10041", 0, late)  # the late one is tote 2
    assert "1item·1unit" in totes and "3items·3units" in totes


def test_wave_code128_decodes_at_203_dpi_on_every_page(sample):
    _data, pdf = sample
    assert decode_pages(pdf) == [[(zxingcpp.BarcodeFormat.Code128, "1042")]] * 2


def test_long_wave_id_still_decodes():
    pdf = render_pick_list_pdf(pick_list(wave_id=98765432101234))
    assert decode_pages(pdf, indexes={0}) == [[(zxingcpp.BarcodeFormat.Code128, "98765432101234")]]


def test_page_n_of_m_on_every_page_of_a_long_list(large):
    data, pdf = large
    texts = pages_text(pdf)
    total = len(texts)
    assert total > 4
    for number, text in enumerate(texts, 1):
        assert re.findall(r"Page \d+ of \d+", text) == [f"Page {number} of {total}"]
        assert "Wave 987654" in text and "Orders60" in squash(text) and "Lines180" in squash(text)
    pick_pages = [squash(t) for t in texts if "TOTES" not in t]
    tote_pages = [squash(t) for t in texts if "TOTES" in t]
    assert len(pick_pages) + len(tote_pages) == total and pick_pages and tote_pages
    assert all(squash("Totes (tote × units)") in page for page in pick_pages)  # the table header repeats
    walk = "".join(pick_pages)
    positions = [walk.index(line.sku + str(line.quantity)) for line in data.lines]
    assert positions == sorted(positions)


def test_rows_and_blocks_do_not_split_across_pages(large):
    data, pdf = large
    texts = [squash(t) for t in pages_text(pdf)]
    pick_pages = [t for t in texts if "TOTES" not in t]
    tote_pages = [t for t in texts if "TOTES" in t]
    for line in data.lines:
        row = squash(f"{line.bin} {line.product} · {line.product_name} {line.size} {line.sku} {line.quantity}")
        assert sum(row + squash(_split(line)) in page for page in pick_pages) == 1, line.sku
    for tote in data.totes:
        head = squash(f"T{tote.number} {tote.order_reference}")
        (page,) = [page for page in tote_pages if head in page]
        assert all(item.sku in page for item in tote.items)


def test_a_long_list_stays_inside_its_pages_without_overlaps(monkeypatch):
    drawn = Drawn(monkeypatch)
    pdf = render_pick_list_pdf(large_pick_list(orders=40, items_per_order=3))
    assert len(pages_text(pdf)) == drawn.page > 4
    drawn.assert_glyphs_in_fonts_and_inside(595.28, 841.89, margin=20)
    drawn.assert_nothing_overlaps()


def test_a_sku_in_hundreds_of_totes_continues_its_split_on_the_next_page(monkeypatch):
    # A flash sale: one size in every order of a big wave. Its tote split is taller than a page.
    totes = tuple(Tote(n, n, f"SW-{n}", "Ana", "PT", "standard", False, ()) for n in range(1, 601))
    popular = PickLine(
        "A-01-03", "GEL", "Gel insoles", "EU 42", "GEL-EU42", "", 600, tuple((n, 1) for n in range(1, 601))
    )
    after = PickLine("B-01-02", "ARCH", "Arch support insoles", "EU 38", "ARCH-EU38", "", 1, ((7, 1),))
    drawn = Drawn(monkeypatch)
    pdf = render_pick_list_pdf(pick_list(lines=(popular, after), totes=totes))
    drawn.assert_glyphs_in_fonts_and_inside(595.28, 841.89, margin=20)
    drawn.assert_nothing_overlaps()
    pick_pages = [t for t in pages_text(pdf) if "TOTES" not in t]
    assert len(pick_pages) >= 2
    assert "(continued)" not in pick_pages[0]
    assert squash("1 A-01-03 (continued) GEL-EU42") in squash(pick_pages[1])
    walk = "\n".join(pick_pages)
    assert re.findall(r"T(\d+)×(\d+)\b", walk) == [(str(n), "1") for n in range(1, 601)] + [("7", "1")]
    assert re.findall(r"^600$", walk, flags=re.M) == ["600"]  # the units to pick: on the first part only


def test_a_tote_taller_than_a_page_continues_under_a_continued_header():
    items = tuple(ToteItem(f"GEL-EU{i}", "Gel insoles", f"EU {i}", 1, f"A-{i:02d}") for i in range(80))
    big = Tote(1, 1, "SW-1", "Ana", "PT", "standard", False, items)
    small = Tote(2, 2, "SW-2", "Bo", "SE", "express", True, items[:1])
    lines = (PickLine("A-00", "GEL", "Gel insoles", "EU 0", "GEL-EU0", "", 2, ((1, 1), (2, 1))),)
    texts = [squash(t) for t in pages_text(render_pick_list_pdf(pick_list(lines=lines, totes=(small, big))))]
    tote_pages = [t for t in texts if "TOTES" in t]
    assert len(tote_pages) >= 3
    assert "T2SW-2" in tote_pages[0] and "T1SW-1" not in tote_pages[0]  # the tall one starts on a page of its own
    assert "T1SW-1" in tote_pages[1] and "(continued)" not in tote_pages[1]
    for page in tote_pages[2:]:
        assert "T1SW-1(continued)" in page
    everything = "".join(tote_pages)
    assert all(f"{item.sku}{item.bin}" in everything for item in items)


def test_glyphs_come_from_fonts_that_have_them_and_nothing_overlaps_or_leaves_the_page(monkeypatch):
    drawn = Drawn(monkeypatch)
    long_name = "Orthopädische Komfort-Einlegesohlen mit Gelpolster und Fersenschale, extra lang, 山田 Иван Γιώργος"
    many = tuple((n, 1) for n in range(1, 41))
    totes = tuple(
        Tote(n, n, f"SW-{n}", RECIPIENTS[key].name * (1 + (n == 3) * 4), RECIPIENTS[key].country, "express", n == 1, ())
        for n, key in enumerate(RECIPIENTS, 1)
    )
    totes = (
        *totes[:-1],
        replace(totes[-1], items=(ToteItem("X" * 40, long_name, "US-W 10.5", 12, "MEZZANINE-A-01-03-LEFT"),)),
        *(Tote(n, n, f"SW-{n}", "Zoë", "PL", "standard", False, ()) for n in range(8, 41)),
    )
    lines = (
        PickLine(
            "MEZZANINE-A-01-03-LEFT", "GEL-PRO-MAX", long_name, "US-W 10.5", "GEL-PRO-MAX-US-W-10.5-WIDE", "", 40, many
        ),
        *pick_list().lines,
    )
    data = pick_list(lines=lines, totes=totes, warehouse_name="Centre de distribution " * 6, picker="山田 " * 12)
    pdf = render_pick_list_pdf(data)
    drawn.assert_glyphs_in_fonts_and_inside(595.28, 841.89, margin=20)
    drawn.assert_nothing_overlaps()
    scripts = {font.split("-")[0] for _p, font, *_ in drawn.calls}
    assert scripts == {"NotoSans", "NotoSansArabic", "NotoSansCJK"}
    squashed = squash("".join(pages_text(pdf)))
    assert squash(_split(lines[0])) in squashed  # the long split wraps; no tote is cut off
    assert "GEL-PRO-MAX-US-W-10.5-WIDE" in squashed


def test_pick_data_refuses_what_would_mislead_the_picker():
    line = pick_list().lines[0]
    with pytest.raises(ValueError, match="positive"):
        replace(line, quantity=0, totes=())
    with pytest.raises(ValueError, match="the totes take"):
        replace(line, quantity=3)
    with pytest.raises(ValueError, match="no tote 99"):
        pick_list(lines=(replace(line, totes=((99, line.quantity),)),))
    with pytest.raises(ValueError, match="timezone-aware"):
        pick_list(created_at=dt.datetime(2026, 12, 1, 8, 30))  # naive: refused
    with pytest.raises(ValueError, match="time zone"):
        pick_list(timezone="Mars/Olympus")
