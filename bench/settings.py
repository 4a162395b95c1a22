"""Service settings plus the bench baseline app; used by bench/ingest.py for gunicorn and manage.py."""

from config.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "bench.bareapp"]  # noqa: F405
ROOT_URLCONF = "bench.urls"
