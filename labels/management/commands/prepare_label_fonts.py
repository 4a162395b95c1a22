"""python manage.py prepare_label_fonts: build the label fonts now (once per machine or image), not in a request.

The CJK font is converted to TrueType outlines on first use (about a minute) and cached under
``var/fonts/`` (or ``LABEL_FONT_DIR``). Run this at deploy time, next to ``migrate``, so the
first pick list or label after a deploy is not the one that waits. Running it again is instant.
"""

import time

from django.core.management.base import BaseCommand

from labels import fonts


class Command(BaseCommand):
    help = "Build the label fonts (Noto Sans, Arabic, CJK as TrueType) into the font cache, if missing."

    def handle(self, *args, **options):
        start = time.perf_counter()
        paths = fonts.ensure_fonts()
        seconds = time.perf_counter() - start
        plural = "s" if len(paths) != 1 else ""
        self.stdout.write(f"{len(paths)} label font{plural} ready in {fonts.font_dir()} ({seconds:.1f} s)")
