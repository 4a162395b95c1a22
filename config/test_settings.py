"""Settings for the test suite.

Tests run on PostgreSQL and Redis when they are reachable (``DATABASE_URL`` and
``REDIS_URL``, defaulting to the local servers). When one is absent the suite
falls back (SQLite, in-process tasks) and the tests that need it are skipped
with a reason, unless ``REQUIRE_SERVICES=1``: then an absent service fails the
run at start-up, which is what CI wants.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlparse

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/insoles"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"
REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=2):
            return True
    except OSError:
        return False


def _postgres_ready(url: str) -> bool:
    if not _reachable(url, 5432):
        return False
    import psycopg

    parsed = urlparse(url)
    try:
        # The test database does not exist yet; ask the maintenance database.
        psycopg.connect(
            host=parsed.hostname,
            port=parsed.port or 5432,
            user=parsed.username or "postgres",
            password=parsed.password,
            dbname="postgres",
            connect_timeout=3,
        ).close()
    except psycopg.Error:
        return False
    return True


_db_url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
_redis_url = os.environ.get("REDIS_URL", DEFAULT_REDIS_URL)

POSTGRES_AVAILABLE = _db_url.startswith("postgres") and _postgres_ready(_db_url)
REDIS_AVAILABLE = _reachable(_redis_url, 6379)

if REQUIRE_SERVICES and not POSTGRES_AVAILABLE:
    raise RuntimeError(f"REQUIRE_SERVICES=1 but PostgreSQL is not reachable at {_db_url}")
if REQUIRE_SERVICES and not REDIS_AVAILABLE:
    raise RuntimeError(f"REQUIRE_SERVICES=1 but Redis is not reachable at {_redis_url}")

os.environ["DATABASE_URL"] = _db_url if POSTGRES_AVAILABLE else "sqlite:///:memory:"
os.environ["REDIS_URL"] = _redis_url if REDIS_AVAILABLE else ""
# Tests run like production (DEBUG off), whatever a developer's .env says.
os.environ["DJANGO_DEBUG"] = "0"
os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-secret-key")


def _secrets_with_the_environments(name: str, ours: str) -> str:
    """Ours first (the payload builders sign with them), then any the environment brings."""
    theirs = [v.strip() for v in os.environ.get(name, "").split(",") if v.strip()]
    return ",".join(dict.fromkeys([*ours.split(","), *theirs]))


# Fixed values the payload builders in tests/fulfilment/payloads.py sign with (current, then a
# rotated-out secret). A secret exported in the environment verifies too, and an exported shop,
# shop URL or REST key is kept (a harness of its own can run against this configuration); a
# developer's .env never counts here (it is read after these, without overwriting).
os.environ["SHOPIFY_WEBHOOK_SECRET"] = _secrets_with_the_environments(
    "SHOPIFY_WEBHOOK_SECRET", "shpss_test_0f6c1c2b9a,shpss_test_previous_1b2c"
)
os.environ["WOOCOMMERCE_WEBHOOK_SECRET"] = _secrets_with_the_environments(
    "WOOCOMMERCE_WEBHOOK_SECRET", "wc_test_1d3e5a7c9b"
)
os.environ.setdefault("SHOPIFY_SHOP_DOMAIN", "insoles-test.myshopify.com")
os.environ.setdefault("WOOCOMMERCE_URL", "https://insoles-woo.example/")  # the X-WC-Webhook-Source of the test payloads
for _name in ("WOOCOMMERCE_CONSUMER_KEY", "WOOCOMMERCE_CONSUMER_SECRET"):
    os.environ.setdefault(_name, "")  # reconciliation is off unless a test configures it
os.environ["FULFILMENT_ALLOCATION"] = "backorder"
# Tests drive tasks synchronously; the broker itself is exercised by dedicated tests.
os.environ["CELERY_TASK_ALWAYS_EAGER"] = "1"

from config.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}  # noqa: F405
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
# No collected static files in tests; WhiteNoise would only warn about the missing folder.
MIDDLEWARE = [m for m in MIDDLEWARE if not m.startswith("whitenoise")]  # noqa: F405
