"""Shipping labels: 500 labels in one PDF and in ZPL, against bare reportlab drawing the same elements; and a
1,000-order pick list.

* bare     one reportlab canvas, the same fonts (text pre-split into the same per-font runs once, outside the
           timing), the same Code128, fixed positions: no fitting, no wrapping, no per-character font lookup
* pdf      ``labels.shipping.render_label_pdf`` (fit to boxes, per-script runs, Arabic shaping)
* zpl      ``labels.shipping.render_label_zpl``
* pick     ``labels.picklist.render_pick_list_pdf`` of ``samples.large_pick_list``: 1,000 orders of 3 items, each
           item another SKU in another bin (3,000 pick lines, 1,000 tote blocks; few strings repeat), target < 1 s
* floor    bare reportlab drawing the pick list's strings (the same font, size and position for each, recorded
           once outside the timing) and saving: what the pick list costs in reportlab's text drawing alone

Fonts are built (first run only) and registered before timing. Rounds are interleaved; the best round counts.
reportlab formats every number and escapes every string in pure Python unless its C accelerator (the rl-accel
package) is installed; the first line says which.

Usage: .venv/bin/python bench/labels.py [--labels 500] [--orders 1000] [--items 3] [--rounds 3]
"""

from __future__ import annotations

import argparse
import inspect
import io
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import reportlab  # noqa: E402
from reportlab.graphics.barcode.code128 import Code128  # noqa: E402
from reportlab.lib import rl_accel  # noqa: E402
from reportlab.lib.pagesizes import A4 as PICK_PAGE  # noqa: E402
from reportlab.pdfbase import pdfmetrics  # noqa: E402
from reportlab.pdfgen import canvas as pdfcanvas  # noqa: E402

from labels import fonts, samples  # noqa: E402
from labels.drawing import DOT, new_canvas  # noqa: E402
from labels.picklist import render_pick_list_pdf  # noqa: E402
from labels.shipping import PAGE_H, PAGE_W, address_lines, render_label_pdf, render_label_zpl  # noqa: E402


def _labels(n, batch=0):
    # Every recipient differs (name, street, phone), also from one round to the next (``batch``), so the
    # text caches only help with what a real batch repeats: the sender, the courier and the fixed captions.
    keys = list(samples.RECIPIENTS)
    result = []
    for i in range(n):
        r = samples.RECIPIENTS[keys[i % len(keys)]]
        tag = f"{batch}-{i}"
        recipient = replace(r, name=f"{r.name} {tag}", lines=(f"{r.lines[0]} {tag}",), phone=f"{r.phone}{batch}{i}")
        result.append(
            samples.label(recipient=recipient, tracking_number=f"7946{i:08d}", express=i % 3 == 0, reprint=i % 50 == 0)
        )
    return result


def _prepared(label):
    """The strings the label draws, already split into runs: bare reportlab's input."""
    r, s = label.recipient, label.sender
    texts = [
        (label.courier.upper(), 20, fonts.BOLD),
        (f"{label.service}  ·  {label.product_code}", 9, fonts.REGULAR),
        ("EXPRESS" if label.express else "STANDARD", 22, fonts.BOLD),
        *[(t, 7.5, fonts.REGULAR) for t in [s.name, *address_lines(s), f"{s.country}  {s.phone}"]],
        (r.name, 14, fonts.BOLD),
        *[(t, 11, fonts.REGULAR) for t in address_lines(r)],
        (r.country, 16, fonts.BOLD),
        (f"Tel. {r.phone}", 9, fonts.REGULAR),
        (label.routing_code, 30, fonts.BOLD),
        (f"{label.origin} → {label.destination}", 18, fonts.BOLD),
        (label.tracking_number, 11, fonts.BOLD),
        (f"{label.piece} of {label.pieces}", 14, fonts.BOLD),
        (f"{label.weight_g / 1000:.2f} kg", 9, fonts.REGULAR),
        (f"Ref {label.order_reference}  ·  {label.ship_date.isoformat()}", 9, fonts.REGULAR),
    ]
    if label.reprint:
        texts.append(("REPRINT", 12, fonts.BOLD))
    return label.tracking_number, [(fonts.runs(fonts.visual(t), style), size) for t, size, style in texts]


def _bare(prepared):
    buffer = io.BytesIO()
    c = pdfcanvas.Canvas(buffer, pagesize=(PAGE_W, PAGE_H), pageCompression=1)
    for tracking, texts in prepared:
        c.rect(5, 5, PAGE_W - 10, PAGE_H - 10)
        y = PAGE_H - 30
        for runs, size in texts:
            x = 10
            for name, part in runs:
                c.setFont(name, size)
                c.drawString(x, y, part)
                x += pdfmetrics.stringWidth(part, name, size)
            y -= 14
        Code128(tracking, barWidth=3 * DOT, barHeight=62, humanReadable=False, quiet=True, lquiet=0, rquiet=0).drawOn(
            c, 40, 60
        )
        c.showPage()
    c.save()
    return buffer.getvalue()


def _pick_strings(data):
    """Every string the pick list draws, with its font, size, position and page: the floor's input."""
    strings, page = [], [0]
    draw_string, show_page = pdfcanvas.Canvas.drawString, pdfcanvas.Canvas.showPage

    def record(c, x, y, text, *args, **kwargs):
        strings.append((page[0], c._fontname, c._fontsize, x, y, text))
        return draw_string(c, x, y, text, *args, **kwargs)

    def next_page(c):
        page[0] += 1
        return show_page(c)

    pdfcanvas.Canvas.drawString, pdfcanvas.Canvas.showPage = record, next_page
    try:
        render_pick_list_pdf(data)
    finally:
        pdfcanvas.Canvas.drawString, pdfcanvas.Canvas.showPage = draw_string, show_page
    return strings, page[0]


def _floor(strings, pages):
    c = new_canvas(io.BytesIO(), PICK_PAGE, "floor")
    current = 0
    for page, name, size, x, y, text in strings:
        while page > current:
            c.showPage()
            current += 1
        c.setFont(name, size)
        c.drawString(x, y, text)
    while current < pages:
        c.showPage()
        current += 1
    c.save()


def _time(fn, *args):
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=int, default=500)
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--items", type=int, default=3, help="items (pick lines) per order")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    accelerated = inspect.isbuiltin(rl_accel.fp_str)
    print(f"reportlab {reportlab.Version}, C accelerator (rl-accel): {'yes' if accelerated else 'no, pure Python'}")
    start = time.perf_counter()
    fonts.chain(fonts.REGULAR)
    print(f"fonts ready (build if missing + register): {time.perf_counter() - start:.2f} s")
    render_label_pdf(_labels(10, batch="warm"))  # warm caches shared by both (font subsets, glyph widths)

    # First render after a start: every text cache empty, the catalogue's strings too.
    cold = _time(render_pick_list_pdf, samples.large_pick_list(orders=args.orders, items_per_order=args.items))

    # Each round is a new batch (new recipients, a new wave of new customers over the same catalogue), so
    # no round is served from the text caches an earlier round filled.
    best = {name: float("inf") for name in ("bare", "pdf", "zpl", "pick", "floor")}
    for batch in range(1, args.rounds + 1):
        labels = _labels(args.labels, batch)
        prepared = [_prepared(label) for label in labels]
        wave = samples.large_pick_list(orders=args.orders, items_per_order=args.items, batch=batch)
        strings, pages = _pick_strings(wave)
        best["bare"] = min(best["bare"], _time(_bare, prepared))
        best["pdf"] = min(best["pdf"], _time(render_label_pdf, labels))
        best["zpl"] = min(best["zpl"], _time(render_label_zpl, labels))
        best["pick"] = min(best["pick"], _time(render_pick_list_pdf, wave))
        best["floor"] = min(best["floor"], _time(_floor, strings, pages))
    n = args.labels
    for name in ("bare", "pdf", "zpl"):
        seconds = best[name]
        print(f"{name:5} {n} labels: {seconds * 1000:8.1f} ms  {seconds * 1000 / n:6.3f} ms/label")
    print(f"pdf / bare reportlab: {best['pdf'] / best['bare']:.2f}x (target <= 1.5x)")
    print(f"zpl speed-up over pdf: {best['pdf'] / best['zpl']:.0f}x (target >= 20x)")

    size = f"{args.orders} orders / {len(wave.lines)} lines, {pages} pages, {len(strings)} strings"
    print(f"pick list {size}: {best['pick'] * 1000:.0f} ms (first render after a start {cold * 1000:.0f} ms)")
    print(f"pick list target < 1000 ms: {'met' if best['pick'] < 1.0 else 'missed'}")
    print(f"floor (reportlab drawing and saving the same strings): {best['floor'] * 1000:.0f} ms, ", end="")
    print(f"pick / floor {best['pick'] / best['floor']:.2f}x")


if __name__ == "__main__":
    main()
