"""Settings that exist under two names: a nested or parsed one the code reads, and the flat
environment name DESIGN.md and ``.env.example`` use (``COURIER_FEDEX_BASE_URL``,
``SHOPIFY_WEBHOOK_SECRET``). Both hold the same value at start-up; one changed at run time
(``override_settings``, a test's ``settings`` fixture) is told apart from its start-up value by
comparing it with the settings module itself, which those never touch.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from django.conf import settings

UNSET: Any = object()


def changed_at_run_time(name: str) -> Any:
    """The flat setting ``name`` if it now differs from its start-up value, else ``UNSET``."""
    current = getattr(settings, name, UNSET)
    if current is UNSET:
        return UNSET
    # Not settings.SETTINGS_MODULE: under override_settings that reads None.
    loaded = sys.modules.get(os.environ.get("DJANGO_SETTINGS_MODULE", ""))
    return current if current != getattr(loaded, name, UNSET) else UNSET
