"""Shipping labels: 500 labels in one PDF and in ZPL, against bare reportlab drawing the same elements.

* bare     one reportlab canvas, the same fonts (text pre-split into the same per-font runs once, outside the
           timing), the same Code128, fixed positions: no fitting, no wrapping, no per-character font lookup
* pdf      ``labels.shipping.render_label_pdf`` (fit to boxes, per-script runs, Arabic shaping)
* zpl      ``labels.shipping.render_label_zpl``

Fonts are built (first run only) and registered before timing. Rounds are interleaved; the best round counts.

Usage: .venv/bin/python bench/labels.py [--labels 500] [--rounds 3]
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from reportlab.graphics.barcode.code128 import Code128  # noqa: E402
from reportlab.pdfbase import pdfmetrics  # noqa: E402
from reportlab.pdfgen import canvas as pdfcanvas  # noqa: E402

from labels import fonts, samples  # noqa: E402
from labels.drawing import DOT  # noqa: E402
from labels.shipping import PAGE_H, PAGE_W, address_lines, render_label_pdf, render_label_zpl  # noqa: E402


def _labels(n):
    # Every recipient differs (name, street, phone), so the text caches only help with what a real batch
    # repeats: the sender, the courier and the fixed captions.
    keys = list(samples.RECIPIENTS)
    result = []
    for i in range(n):
        r = samples.RECIPIENTS[keys[i % len(keys)]]
        recipient = replace(r, name=f"{r.name} {i}", lines=(f"{r.lines[0]} {i}",), phone=f"{r.phone}{i}")
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


def _time(fn, *args):
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    start = time.perf_counter()
    fonts.chain(fonts.REGULAR)
    print(f"fonts ready (build if missing + register): {time.perf_counter() - start:.2f} s")
    labels = _labels(args.labels)
    prepared = [_prepared(label) for label in labels]
    render_label_pdf(labels[:10])  # warm caches shared by both (font subsets, glyph widths)

    best = {"bare": float("inf"), "pdf": float("inf"), "zpl": float("inf")}
    for _ in range(args.rounds):
        best["bare"] = min(best["bare"], _time(_bare, prepared))
        best["pdf"] = min(best["pdf"], _time(render_label_pdf, labels))
        best["zpl"] = min(best["zpl"], _time(render_label_zpl, labels))
    n = args.labels
    for name, seconds in best.items():
        print(f"{name:5} {n} labels: {seconds * 1000:8.1f} ms  {seconds * 1000 / n:6.3f} ms/label")
    print(f"pdf / bare reportlab: {best['pdf'] / best['bare']:.2f}x (target <= 1.5x)")
    print(f"zpl speed-up over pdf: {best['pdf'] / best['zpl']:.0f}x (target >= 20x)")


if __name__ == "__main__":
    main()
