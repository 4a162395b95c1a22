"""Fonts for labels: embedded TrueType, one fallback chain per style, every glyph drawn from a font that has it.

reportlab embeds TrueType (glyf) outlines only. The pinned font packages ship
variable TTFs (Noto Sans, Noto Sans Arabic) and a CFF-flavoured OTF (Noto Sans
CJK, which covers Japanese, Chinese and Korean). They are turned once into
static TrueType files under ``var/fonts/`` (variable fonts instanced at a
weight, CFF outlines converted to quadratic curves with cu2qu; about a minute
for CJK the first time) and registered with reportlab on first use, never at
import.

Arabic is shaped (arabic-reshaper: contextual presentation forms, lam-alef
ligatures) and put into visual right-to-left order (python-bidi) before it is
drawn, because reportlab draws glyphs left to right and does no shaping. A PDF
reader extracting the text therefore gets presentation forms in visual order;
NFKC and reversing give back the logical text (the tests do exactly that).
"""

from __future__ import annotations

import logging
import os
import re
import threading
import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache
from itertools import repeat
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont as ReportlabTTFont

CACHE_VERSION = "2"
REGULAR = "regular"
BOLD = "bold"

# Fallback order: Latin/Greek/Cyrillic first (best Latin metrics), then Arabic, then CJK.
_FAMILIES = ("NotoSans", "NotoSansArabic", "NotoSansCJK")
_lock = threading.Lock()


@dataclass(frozen=True)
class LabelFont:
    name: str  # reportlab font name
    path: Path
    cmap: frozenset[int]


def font_dir() -> Path:
    """Where converted fonts are cached: $LABEL_FONT_DIR or <project>/var/fonts."""
    configured = os.environ.get("LABEL_FONT_DIR")
    return Path(configured) if configured else Path(__file__).resolve().parents[1] / "var" / "fonts"


def _instance(source: Path, target: Path, weight: int) -> None:
    from fontTools.ttLib import TTFont
    from fontTools.varLib.instancer import instantiateVariableFont

    font = TTFont(source)
    static = instantiateVariableFont(font, {"wght": weight, "wdth": 100}, updateFontNames=False)
    # reportlab keys embedded fonts by their PostScript name: each instance needs its own.
    family = static["name"].getDebugName(1).replace(" ", "")
    static["name"].setName(f"{family}-W{weight}", 6, 3, 1, 0x409)
    static["name"].setName(f"{family}-W{weight}", 6, 1, 0, 0)
    _save(static, target)


def _cff_to_glyf(source: Path, target: Path) -> None:
    """Convert CFF (cubic) outlines to TrueType glyf (quadratic), the only kind reportlab embeds."""
    from fontTools.pens.cu2quPen import Cu2QuPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen
    from fontTools.ttLib import TTFont, newTable

    font = TTFont(source)
    glyph_order = font.getGlyphOrder()
    glyph_set = font.getGlyphSet()
    glyphs = {}
    for name in glyph_order:
        pen = TTGlyphPen(glyph_set)
        glyph_set[name].draw(Cu2QuPen(pen, max_err=1.0, reverse_direction=True))
        glyphs[name] = pen.glyph()
    del font["CFF "]
    if "VORG" in font:
        del font["VORG"]
    glyf = font["glyf"] = newTable("glyf")
    glyf.glyphOrder = glyph_order
    glyf.glyphs = glyphs
    font["loca"] = newTable("loca")
    maxp = font["maxp"]
    maxp.tableVersion = 0x00010000
    for field in (
        "maxZones",
        "maxTwilightPoints",
        "maxStorage",
        "maxFunctionDefs",
        "maxInstructionDefs",
        "maxStackElements",
        "maxSizeOfInstructions",
        "maxComponentElements",
    ):
        setattr(maxp, field, 0)
    maxp.maxZones = 1
    maxp.maxComponentDepth = 0
    post = font["post"]
    post.formatType = 3.0  # no glyph names: keeps the file small and is valid for TrueType
    font["head"].glyphDataFormat = 0
    font.sfntVersion = "\x00\x01\x00\x00"
    _save(font, target)


def _save(font, target: Path) -> None:
    # Write then rename, so a concurrent reader never sees half a font.
    tmp = target.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
    # fontTools logs each layout-table overflow it resolves while compiling (INFO): routine, not news.
    quiet = logging.getLogger("fontTools")
    level = quiet.level
    quiet.setLevel(logging.WARNING)
    try:
        font.save(tmp)
    finally:
        quiet.setLevel(level)
    os.replace(tmp, target)


def _sources() -> dict[str, tuple]:
    import cvttf_NotoSansCJK_Regular
    import fontpkg_noto_sans
    import fontpkg_noto_sans_arabic

    latin = fontpkg_noto_sans.ROOT / "files" / "NotoSans[wdth,wght].ttf"
    arabic = fontpkg_noto_sans_arabic.ROOT / "files" / "NotoSansArabic[wdth,wght].ttf"
    cjk = Path(cvttf_NotoSansCJK_Regular.get_TTF_path())
    return {
        f"NotoSans-{REGULAR}": (_instance, latin, 400),
        f"NotoSans-{BOLD}": (_instance, latin, 700),
        f"NotoSansArabic-{REGULAR}": (_instance, arabic, 400),
        f"NotoSansArabic-{BOLD}": (_instance, arabic, 700),
        # One weight only: the CJK source is a single Regular; bold CJK text is drawn Regular.
        f"NotoSansCJK-{REGULAR}": (_cff_to_glyf, cjk, None),
    }


def ensure_fonts() -> dict[str, Path]:
    """Build any missing cached TrueType file; returns font name -> path."""
    directory = font_dir()
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    with _lock:
        for name, (build, source, arg) in _sources().items():
            target = directory / f"{name}-v{CACHE_VERSION}.ttf"
            if not target.exists():
                if arg is None:
                    build(source, target)
                else:
                    build(source, target, arg)
            paths[name] = target
    return paths


@cache
def _registered() -> dict[str, LabelFont]:
    from fontTools.ttLib import TTFont

    fonts = {}
    for name, path in ensure_fonts().items():
        pdfmetrics.registerFont(ReportlabTTFont(name, str(path)))
        cmap = TTFont(path, lazy=True)["cmap"].getBestCmap()
        fonts[name] = LabelFont(name=name, path=path, cmap=frozenset(cmap))
    return fonts


@cache
def chain(style: str = REGULAR) -> tuple[LabelFont, ...]:
    """The fallback chain for a style, first choice first (built once per style, as the fonts are registered)."""
    fonts = _registered()
    result = []
    for family in _FAMILIES:
        font = fonts.get(f"{family}-{style}") or fonts[f"{family}-{REGULAR}"]
        result.append(font)
    return tuple(result)


def font_by_name(name: str) -> LabelFont:
    return _registered()[name]


# Every character whose bidirectional class is R or AL is the right-to-left mark or lies in these blocks
# (Hebrew to Arabic Extended, the presentation forms, the right-to-left blocks of the supplementary
# planes): a text with none of them needs no per-character check (a test goes through every character).
_RTL_BLOCKS = re.compile("[\u200f\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufeff\U00010800-\U00010fff\U0001e800-\U0001efff]")


def _has_rtl(text: str) -> bool:
    if not _RTL_BLOCKS.search(text):
        return False
    return any(unicodedata.bidirectional(ch) in ("R", "AL") for ch in text)


def visual(text: str) -> str:
    """Shape Arabic and reorder right-to-left text for left-to-right drawing; other text only NFC-composed."""
    if text.isascii():
        return text  # already NFC, and no right-to-left letters
    # reportlab does not position combining marks: "e" + U+0301 is drawn as the precomposed "é".
    text = unicodedata.normalize("NFC", text)
    if not _has_rtl(text):
        return text
    import arabic_reshaper
    from bidi import get_display

    return get_display(arabic_reshaper.reshape(text))


# Drawn as "?" when no font has it, so a missing glyph is never a silent box.
REPLACEMENT = "?"


@lru_cache(maxsize=16384)
def runs(text: str, style: str = REGULAR) -> tuple[tuple[str, str], ...]:
    """Split already-visual text into (font name, text) runs, each font having every glyph of its run.

    Spaces and other characters every font has stay with the run they are in.
    """
    fonts = chain(style)
    if fonts[0].cmap.issuperset(map(ord, text)):
        # The first font has every character, so the loop below would give this one run: skip it.
        return ((fonts[0].name, text),) if text else ()
    result: list[tuple[str, str]] = []
    current: LabelFont | None = None
    buffer: list[str] = []
    for ch in text:
        code = ord(ch)
        # Spaces and punctuation stay in the current run; letters take the first font of the chain
        # that has them, so Cyrillic after a Japanese name is drawn in Noto Sans, not in the CJK font.
        if current is not None and code in current.cmap and unicodedata.category(ch)[0] in "ZP":
            buffer.append(ch)
            continue
        font = next((f for f in fonts if code in f.cmap), None)
        if font is not None and font is current:
            buffer.append(ch)
            continue
        if font is None:
            ch, font = REPLACEMENT, current or fonts[0]
            if current is font:
                buffer.append(ch)
                continue
        if buffer:
            result.append((current.name, "".join(buffer)))
        current, buffer = font, [ch]
    if buffer:
        result.append((current.name, "".join(buffer)))
    return tuple(result)


@lru_cache(maxsize=16384)
def _unit_width(text: str, style: str) -> float:
    # pdfmetrics.stringWidth(part, name, 1.0) summed over the runs, the characters' widths added in the same order,
    # without reportlab's per-character generator (a long document measures tens of thousands of new strings).
    total = 0.0
    for name, part in runs(text, style):
        width_of, default = _char_widths(name)
        total += 0.001 * sum(map(width_of, map(ord, part), repeat(default)))
    return total


@cache
def _char_widths(name: str):
    face = pdfmetrics.getFont(name).face
    return face.charWidths.get, face.defaultWidth


def width(text: str, size: float, style: str = REGULAR) -> float:
    # Widths scale linearly with size: fitting a box tries many sizes of the same text.
    return _unit_width(text, style) * size
