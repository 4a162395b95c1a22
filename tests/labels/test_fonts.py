"""Font helpers: the right-to-left pre-check misses no right-to-left character."""

import sys
import unicodedata

from labels.fonts import _RTL_BLOCKS, visual


def test_every_right_to_left_character_is_in_the_blocks_the_pre_check_searches():
    missed = [
        hex(code)
        for code in range(sys.maxunicode + 1)
        if unicodedata.bidirectional(chr(code)) in ("R", "AL") and not _RTL_BLOCKS.match(chr(code))
    ]
    assert missed == []


def test_visual_reorders_hebrew_and_arabic_and_leaves_other_scripts():
    assert visual("שלום") == "םולש"
    assert visual("Zoë Ørsted 山田") == "Zoë Ørsted 山田"
    assert visual("e\u0301") == "é"
