"""Text drawing shared by the PDF renderers: fit text to a box, draw it run by run in fonts that have its glyphs."""

from __future__ import annotations

import functools
from collections.abc import Sequence

from reportlab import rl_config
from reportlab.graphics.barcode.code128 import Code128
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen import canvas as pdfcanvas

from labels import fonts

DOT = 72.0 / 203.0  # one printer dot at 203 dpi, in points
QUIET_MODULES = 10


def new_canvas(buffer, pagesize: tuple[float, float], title: str) -> pdfcanvas.Canvas:
    """A canvas for one of our documents: page streams Flate-compressed, and no ASCII85 layer over them.

    ASCII85 (reportlab's default, for 7-bit mail transports) makes a PDF a quarter larger, and encoding it in pure
    Python is a sixth of a 1,000-order pick list's render time. reportlab reads the setting when a document is saved,
    from its process-wide configuration: every document this package makes is saved with the same value.
    """
    rl_config.useA85 = 0
    c = pdfcanvas.Canvas(buffer, pagesize=pagesize, pageCompression=1)
    c.setTitle(title)
    return c


def wrap(text: str, size: float, style: str, max_width: float) -> list[str]:
    """Greedy wrap on spaces; a word wider than the box (or CJK without spaces) breaks between characters."""
    if fonts.width(text, size, style) <= max_width:
        return [text]
    lines: list[str] = []
    line = ""
    for word in text.split(" "):
        candidate = f"{line} {word}" if line else word
        if fonts.width(candidate, size, style) <= max_width:
            line = candidate
            continue
        if line:
            lines.append(line)
        line = ""
        for ch in word:
            if fonts.width(line + ch, size, style) <= max_width:
                line += ch
            else:
                lines.append(line)
                line = ch
    if line:
        lines.append(line)
    return lines


def cut(text: str, size: float, style: str, max_width: float) -> str:
    if fonts.width(text, size, style) <= max_width:
        return text
    while text and fonts.width(text + "…", size, style) > max_width:
        text = text[:-1]
    return text + "…"


def fit(
    texts: Sequence[str],
    *,
    style: str,
    size: float,
    min_size: float,
    max_width: float,
    max_height: float,
    lines_cap: int | None = None,
) -> tuple[float, list[str]]:
    """Largest size (down to min_size) at which the texts, wrapped, fit the box; at the floor, cut what is left.

    Cached: a batch of labels repeats its sender, courier and service on every page.
    """
    size, lines = _fit(tuple(texts), style, size, min_size, max_width, max_height, lines_cap)
    return size, list(lines)


@functools.lru_cache(maxsize=8192)
def _fit(
    texts: tuple[str, ...],
    style: str,
    size: float,
    min_size: float,
    max_width: float,
    max_height: float,
    lines_cap: int | None,
) -> tuple[float, tuple[str, ...]]:
    texts = [fonts.visual(t) for t in texts if t]
    while True:
        leading = size * 1.18
        max_lines = max(1, int(max_height // leading))
        if lines_cap:
            max_lines = min(max_lines, lines_cap)
        if size <= min_size:
            lines = [cut(t, size, style, max_width) for t in texts]  # one line each, cut
            if len(lines) > max_lines:
                lines = [*lines[: max_lines - 1], cut(" ".join(lines[max_lines - 1 :]), size, style, max_width)]
            return size, tuple(lines)
        lines = [w for t in texts for w in wrap(t, size, style, max_width)]
        fits_width = all(fonts.width(line, size, style) <= max_width for line in lines)
        if len(lines) <= max_lines and fits_width:
            return size, tuple(lines)
        size = max(min_size, size - 0.5)


@functools.lru_cache(maxsize=8192)
def fit_lines(
    text: str, style: str, size: float, min_size: float, max_width: float, max_lines: int = 1
) -> tuple[float, tuple[str, ...]]:
    """Largest size (down to min_size) at which the text wraps into max_lines; at min_size, as many lines as it takes.

    For table cells whose row grows instead of cutting what someone has to read (a SKU, a tote split). Cached: a
    document repeats its product names, sizes and bins on many rows.
    """
    text = fonts.visual(text)
    while True:
        lines = wrap(text, size, style, max_width)
        if len(lines) <= max_lines or size <= min_size:
            return size, tuple(lines)
        size = max(min_size, size - 0.5)


def draw_lines(c, x: float, y: float, fitted: tuple[float, Sequence[str]], style: str = fonts.REGULAR) -> None:
    """Draw what ``fit_lines`` gave, first baseline at y."""
    size, lines = fitted
    for line in lines:
        draw(c, x, y, line, size, style)
        y -= size * 1.18


def code128_modules(text: str) -> int:
    """Width of ``text`` as Code128 in modules. Every symbol is 11 modules, and which subset encodes a
    character depends only on whether it is a digit, so strings of the same shape share a width."""
    shape = "".join("0" if "0" <= ch <= "9" else ch if ord(ch) < 32 else "A" for ch in text)
    return _code128_shape_modules(shape)


@functools.lru_cache(maxsize=256)
def _code128_shape_modules(shape: str) -> int:
    return round(Code128(shape, barWidth=1, quiet=False).width)


def code128(value: str, *, max_width: float, bar_height: float) -> Code128:
    """Code128 with whole printer dots per module, as wide as fits with its quiet zones: bars land cleanly on a
    203 dpi head. The symbol's width excludes the quiet zones; the caller keeps them clear."""
    modules = code128_modules(value)
    dots = next((d for d in (4, 3, 2) if (modules + 2 * QUIET_MODULES) * d * DOT <= max_width), 1)
    return Code128(
        value, barWidth=dots * DOT, barHeight=bar_height, humanReadable=False, quiet=True, lquiet=0, rquiet=0
    )


def draw(c: pdfcanvas.Canvas, x: float, y: float, text: str, size: float, style: str = fonts.REGULAR) -> None:
    """Draw visual-order text at (x, y) run by run, each run in a font that has all of its glyphs."""
    parts = fonts.runs(text, style)
    last = len(parts) - 1
    for i, (name, part) in enumerate(parts):
        if c._fontname != name or c._fontsize != size:
            c.setFont(name, size)
        c.drawString(x, y, part)
        if i < last:
            x += pdfmetrics.stringWidth(part, name, size)


def draw_right(c, x_right: float, y: float, text: str, size: float, style: str = fonts.REGULAR) -> None:
    text = fonts.visual(text)
    draw(c, x_right - fonts.width(text, size, style), y, text, size, style)


def draw_box(c, x, top, w, h, texts, *, style, size, min_size, lines_cap=None) -> None:
    size, lines = fit(texts, style=style, size=size, min_size=min_size, max_width=w, max_height=h, lines_cap=lines_cap)
    y = top - size
    for line in lines:
        draw(c, x, y, line, size, style)
        y -= size * 1.18
