"""Settings, read from the environment (12-factor).

Every value an operator may change comes from an environment variable listed
in ``.env.example``. With ``DJANGO_DEBUG`` off, secrets have no default, so a
production process refuses to start half-configured.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
# A local .env is a convenience for development; real deployments set the environment.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)

if DEBUG:
    SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="insecure-dev-only-key-do-not-use-in-production")
else:
    SECRET_KEY = env.str("DJANGO_SECRET_KEY")

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
# Largest request body Django reads (a larger one is a 413); chunked bodies are held to it too (config/wsgi.py).
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DJANGO_DATA_UPLOAD_MAX_MEMORY_SIZE", default=2_621_440)
# Django answers a failed CSRF check itself (outside DRF): in the error shape, like every other error.
CSRF_FAILURE_VIEW = "config.api.csrf_failure"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_prometheus",
    "inventory",
    "fulfilment",
    "shipping",
    "labels",
    "outbox",
    "ops",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "config.middleware.HttpsRedirectMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "config.middleware.CommonMiddleware",
    "config.middleware.UnreadableBodyMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------
DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several processes (web + in-process tasks) share one file: wait on locks instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth, i18n, static -------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("DJANGO_STATIC_ROOT", default=str(VAR_DIR / "static"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve straight from app folders in development so `collectstatic` is optional there.
WHITENOISE_USE_FINDERS = DEBUG

# --- REST framework -----------------------------------------------------------
REST_FRAMEWORK = {
    # Tokens for scripts and terminals; the session lets staff logged into the admin browse the API.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "knox.auth.TokenAuthentication",
        "config.auth.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["config.permissions.IsAdminRole"],
    "DEFAULT_PAGINATION_CLASS": "config.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "config.api.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
_token_ttl_days = env.int("API_TOKEN_TTL_DAYS", default=0)
REST_KNOX = {
    # Warehouse terminals and storefront integrations hold long-lived tokens; 0 = no expiry.
    "TOKEN_TTL": None if _token_ttl_days == 0 else timedelta(days=_token_ttl_days),
    "AUTH_HEADER_PREFIX": "Token",
    "AUTO_REFRESH": False,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Insole fulfilment service",
    "DESCRIPTION": "Orders, stock by size, labels and shipments for a direct-to-consumer insole brand.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Several models have a "status" field; each choice set gets its own name in the schema.
    "ENUM_NAME_OVERRIDES": {
        "OrderStatusEnum": "fulfilment.models.OrderStatus",
        "PickWaveStatusEnum": "fulfilment.models.PickWave.Status",
        "InboxDeliveryStatusEnum": "fulfilment.models.InboxDelivery.Status",
        "ServiceLevelEnum": "fulfilment.models.ServiceLevel",
        "ShipmentStatusEnum": "shipping.models.ShipmentStatus",
        "OutboxMessageStatusEnum": "outbox.models.MessageStatus",
    },
    # The schema and docs need a token (or an admin session) like the rest of the API.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SERVE_AUTHENTICATION": [
        "knox.auth.TokenAuthentication",
        "config.auth.SessionAuthentication",
    ],
}

# --- Celery -------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
# Without a broker, tasks run in the calling process so a bare machine still works.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
# A task that is not acknowledged within this window is redelivered; countdowns must stay below it.
CELERY_VISIBILITY_TIMEOUT = env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
    "socket_connect_timeout": 3,
    "socket_timeout": 5,
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Celery closes the database connection after every task unless told to reuse it; a new
# PostgreSQL connection per task costs more than most tasks here.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=200)
# A drain task processes pending webhook deliveries for at most this long, then hands over to a fresh task.
INBOX_DRAIN_SECONDS = env.int("INBOX_DRAIN_SECONDS", default=60)
# Transient processing failures (deadlock, lock timeout, lost connection) are tried again after
# 2, 4, 8 ... seconds, at most this long apart, this many times; then the delivery is failed.
INBOX_RETRY_MAX_DELAY_SECONDS = env.int("INBOX_RETRY_MAX_DELAY_SECONDS", default=300)
INBOX_RETRY_LIMIT = env.int("INBOX_RETRY_LIMIT", default=20)
CELERY_BEAT_SCHEDULE = {
    "inbox-sweep": {"task": "fulfilment.tasks.inbox_sweep_task", "schedule": 60},
    "backorders-sweep": {
        "task": "fulfilment.tasks.backorders_sweep_task",
        "schedule": env.int("BACKORDER_SWEEP_EVERY_SECONDS", default=300),
    },
    "woocommerce-reconcile": {
        "task": "fulfilment.tasks.woocommerce_reconcile_task",
        "schedule": env.int("WOOCOMMERCE_RECONCILE_EVERY_SECONDS", default=300),
    },
    "outbox-sweep": {"task": "outbox.tasks.outbox_sweep_task", "schedule": 30},
    "verify-stock-nightly": {
        "task": "inventory.tasks.stock_verify_task",
        "schedule": env.int("VERIFY_STOCK_EVERY_SECONDS", default=24 * 3600),
    },
    # The safety net of the alert check that runs after every movement (inventory.alerts).
    "stock-alerts-sweep": {
        "task": "inventory.tasks.stock_alerts_sweep_task",
        "schedule": env.int("STOCK_ALERTS_SWEEP_EVERY_SECONDS", default=900),
    },
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# --- Storefronts --------------------------------------------------------------
# Lists allow secret rotation: old and new secrets both verify during the switch.
SHOPIFY_WEBHOOK_SECRETS = env.list("SHOPIFY_WEBHOOK_SECRET", default=[])
SHOPIFY_SHOP_DOMAIN = env.str("SHOPIFY_SHOP_DOMAIN", default="")
SHOPIFY_ADMIN_URL = env.str("SHOPIFY_ADMIN_URL", default="")
SHOPIFY_ACCESS_TOKEN = env.str("SHOPIFY_ACCESS_TOKEN", default="")
# The GraphQL Admin API version push-back speaks when SHOPIFY_ADMIN_URL does not name one (a bare
# https://shop.myshopify.com); which FulfillmentEventStatus values exist depends on it.
SHOPIFY_API_VERSION = env.str("SHOPIFY_API_VERSION", default="2025-10")
WOOCOMMERCE_WEBHOOK_SECRETS = env.list("WOOCOMMERCE_WEBHOOK_SECRET", default=[])
# Also under their environment names (comma-separated): one changed at run time counts
# (config/runtime.py).
SHOPIFY_WEBHOOK_SECRET = ",".join(SHOPIFY_WEBHOOK_SECRETS)
WOOCOMMERCE_WEBHOOK_SECRET = ",".join(WOOCOMMERCE_WEBHOOK_SECRETS)
# The shop's home URL (as in X-WC-Webhook-Source), and REST API keys with read access, for reconciliation.
WOOCOMMERCE_URL = env.str("WOOCOMMERCE_URL", default="")
WOOCOMMERCE_CONSUMER_KEY = env.str("WOOCOMMERCE_CONSUMER_KEY", default="")
WOOCOMMERCE_CONSUMER_SECRET = env.str("WOOCOMMERCE_CONSUMER_SECRET", default="")
WOOCOMMERCE_RECONCILE_LOOKBACK_SECONDS = env.int("WOOCOMMERCE_RECONCILE_LOOKBACK_SECONDS", default=900)

# --- Fulfilment ----------------------------------------------------------------
# When no single warehouse can fill an order: "backorder" keeps it in its best warehouse and
# backorders the short lines; "split" reserves across warehouses in zone priority order.
FULFILMENT_ALLOCATION = env.str("FULFILMENT_ALLOCATION", default="backorder")
# Plausibility limits for storefront orders: beyond them the order is held (implausible_quantity,
# too_many_lines) rather than reserved. 500 pairs on one line is already wholesale for insoles.
FULFILMENT_MAX_LINE_QUANTITY = env.int("FULFILMENT_MAX_LINE_QUANTITY", default=500)
FULFILMENT_MAX_LINES = env.int("FULFILMENT_MAX_LINES", default=100)
# A storefront webhook may be larger than an API request (an order with hundreds of lines): up to
# this many bytes it is stored and answered (held if implausible); beyond it, a JSON 413.
WEBHOOK_MAX_BODY_BYTES = env.int("WEBHOOK_MAX_BODY_BYTES", default=16 * 1024 * 1024)
if FULFILMENT_ALLOCATION not in ("backorder", "split"):
    raise ValueError("FULFILMENT_ALLOCATION must be 'backorder' or 'split'")
# The customer-facing packing slip: the brand it speaks for, the returns window and page, A5 or A4.
BRAND_NAME = env.str("BRAND_NAME", default="Solewise Insoles")
RETURNS_DAYS = env.int("RETURNS_DAYS", default=30)
RETURNS_URL = env.str("RETURNS_URL", default="")
PACKING_SLIP_PAGE_SIZE = env.str("PACKING_SLIP_PAGE_SIZE", default="A5").upper()
if PACKING_SLIP_PAGE_SIZE not in ("A5", "A4"):
    raise ValueError("PACKING_SLIP_PAGE_SIZE must be 'A5' or 'A4'")
# Days of cover (inventory.forecast): a reorder suggestion brings a SKU x warehouse to this many
# days of demand once the supplier delivers, STOCK_LEAD_TIME_DAYS after ordering (a SKU's own
# lead_time_days wins over it).
STOCK_TARGET_COVER_DAYS = env.int("STOCK_TARGET_COVER_DAYS", default=30)
STOCK_LEAD_TIME_DAYS = env.int("STOCK_LEAD_TIME_DAYS", default=14)
if STOCK_TARGET_COVER_DAYS < 0 or STOCK_LEAD_TIME_DAYS < 0:
    raise ValueError("STOCK_TARGET_COVER_DAYS and STOCK_LEAD_TIME_DAYS must not be negative")
# Called after commit whenever stock becomes available (receipt, release, count up).
INVENTORY_STOCK_AVAILABLE_HOOKS = ["fulfilment.services.backorders_fill"]
# Called after commit of every stock movement, after the hooks above: opens and closes stock alerts
# (in-process, or marked for one debounced check on a worker: inventory.dispatch).
INVENTORY_STOCK_CHANGED_HOOKS = ["inventory.dispatch.alerts_check_soon"]
# Where units waiting for stock (backorders) per SKU x warehouse come from, for the stock grid:
# each is called as f(sku_ids=..., warehouse_ids=...) -> {(sku_id, warehouse_id): units}, summed.
INVENTORY_BACKORDERED_SOURCES = ["fulfilment.selectors.backordered_units"]

# --- Email (stock alerts) -------------------------------------------------------
# Who gets an email when a stock alert opens or closes; empty: no alert emails (webhooks still go).
# In development one local address, so `make run` prints the alert emails on the console.
OPS_ALERT_EMAILS = env.list("OPS_ALERT_EMAILS", default=["ops@localhost"] if DEBUG else [])
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="fulfilment@localhost")
# Unset: emails are printed to the console (development); set the SMTP backend and EMAIL_* in production.
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)

# --- Outbox (every outbound call: our webhooks, later courier bookings and storefront push-back) ---
# A kind of message -> the handler that sends it (f(message), raising outbox.errors.DeliveryRetry
# or DeliveryFailed). A failed send is tried again after 2, 4, 8 ... s with jitter, at most
# OUTBOX_RETRY_MAX_DELAY_SECONDS apart; after OUTBOX_MAX_ATTEMPTS tries it is a dead letter.
OUTBOX_HANDLERS = {
    "webhook": "outbox.webhooks.webhook_deliver",
    "ops_email": "inventory.alerts.alert_email_send",
    "shipment_book": "shipping.services.shipment_book_message",
    # Push-back to the storefront (shipping/services/pushback.py): Shopify fulfillments and their
    # events, WooCommerce's tracking note and completion.
    "shopify_fulfillment": "shipping.services.pushback.shopify_fulfillment_push",
    "shopify_fulfillment_event": "shipping.services.pushback.shopify_fulfillment_event_push",
    "woocommerce_complete": "shipping.services.pushback.woocommerce_complete_push",
    # A booked shipment cancelled after its push: the fulfillment cancelled, the order reopened.
    "shopify_fulfillment_cancel": "shipping.services.pushback.shopify_fulfillment_cancel_push",
    "woocommerce_reopen": "shipping.services.pushback.woocommerce_reopen_push",
}
OUTBOX_MAX_ATTEMPTS = env.int("OUTBOX_MAX_ATTEMPTS", default=15)
OUTBOX_RETRY_MAX_DELAY_SECONDS = env.int("OUTBOX_RETRY_MAX_DELAY_SECONDS", default=900)
# An attempt holds its message this long; a worker killed mid-send frees it when the lease ends.
# Longer than the slowest handler (a booking: token, lookup, book, label, each within the timeouts).
OUTBOX_LEASE_SECONDS = env.int("OUTBOX_LEASE_SECONDS", default=300)
if OUTBOX_MAX_ATTEMPTS < 1 or OUTBOX_RETRY_MAX_DELAY_SECONDS < 1:
    raise ValueError("OUTBOX_MAX_ATTEMPTS and OUTBOX_RETRY_MAX_DELAY_SECONDS must be positive")

# --- Couriers -----------------------------------------------------------------
COURIERS = {
    name: {
        "BASE_URL": env.str(f"COURIER_{name}_BASE_URL", default=""),
        "KEY": env.str(f"COURIER_{name}_KEY", default=""),
        "SECRET": env.str(f"COURIER_{name}_SECRET", default=""),
        "ACCOUNT": env.str(f"COURIER_{name}_ACCOUNT", default=""),
        # The shared token bucket (shipping/couriers/ratelimit.py): calls per second, and the burst.
        "RATE_PER_SECOND": env.float(f"COURIER_{name}_RATE_PER_SECOND", default=10.0),
        "BURST": env.int(f"COURIER_{name}_BURST", default=20),
    }
    for name in ("DHL_EXPRESS", "AUSPOST", "FEDEX", "UPS")
}
# UPS puts its API version in the path (/api/shipments/{version}/ship).
COURIERS["UPS"]["VERSION"] = env.str("COURIER_UPS_VERSION", default="v2409")
# Tracking pushed to POST /webhooks/couriers/{courier}: UPS Track Alert sends back the `credential` we give
# it when subscribing; FedEx signs its webhooks (fdx-signature) with the project's security token.
# Comma-separated lists: during a rotation the old and the new value both verify.
COURIERS["UPS"]["WEBHOOK_CREDENTIAL"] = env.str("COURIER_UPS_WEBHOOK_CREDENTIAL", default="")
COURIERS["FEDEX"]["WEBHOOK_SECRET"] = env.str("COURIER_FEDEX_WEBHOOK_SECRET", default="")
# The same values under their environment names too (COURIER_FEDEX_BASE_URL, ...): a setting
# changed at run time under either name counts (shipping.couriers.courier_settings).
for _name, _values in COURIERS.items():
    for _field, _value in _values.items():
        globals()[f"COURIER_{_name}_{_field}"] = _value
# The shipper on courier bookings (the warehouse's address, the brand's phone and email), customs.
SHIPPER_PHONE = env.str("SHIPPER_PHONE", default="+61 2 9000 0000")
SHIPPER_EMAIL = env.str("SHIPPER_EMAIL", default="dispatch@example.com")
CUSTOMS_ORIGIN_COUNTRY = env.str("CUSTOMS_ORIGIN_COUNTRY", default="AU").upper()
SHIPPING_INCOTERM = env.str("SHIPPING_INCOTERM", default="DAP").upper()
SHIPPING_DEFAULT_CURRENCY = env.str("SHIPPING_DEFAULT_CURRENCY", default="AUD").upper()
# A shipment still moving is stale after this many hours without a scan.
TRACKING_STALE_HOURS = {
    "express": env.int("TRACKING_STALE_HOURS_EXPRESS", default=24),
    "standard": env.int("TRACKING_STALE_HOURS_STANDARD", default=72),
}
# Polling (shipping.services.tracking): beat fans out one task per configured courier this often; shipments
# booked longer ago than TRACKING_MAX_AGE_DAYS are no longer polled. A run holds a Redis lock per courier
# (expiring after TRACKING_POLL_LOCK_SECONDS unless the run extends it), so runs never overlap.
# TRACKING_QUEUE_PREFIX: "" sends the tasks to the default queue; "tracking" sends each courier's to its own
# queue "tracking.<courier>" (run a worker per queue: one slow courier then never holds another's worker).
TRACKING_POLL_EVERY_SECONDS = env.int("TRACKING_POLL_EVERY_SECONDS", default=900)
TRACKING_MAX_AGE_DAYS = env.int("TRACKING_MAX_AGE_DAYS", default=60)
TRACKING_POLL_LOCK_SECONDS = env.int("TRACKING_POLL_LOCK_SECONDS", default=300)
TRACKING_QUEUE_PREFIX = env.str("TRACKING_QUEUE_PREFIX", default="")
# Tracking calls of one courier's run in flight at once (couriers that track one number per call: UPS);
# the shared rate limit paces them all the same.
TRACKING_FETCH_CONCURRENCY = env.int("TRACKING_FETCH_CONCURRENCY", default=4)
if TRACKING_POLL_EVERY_SECONDS < 1 or TRACKING_MAX_AGE_DAYS < 1 or TRACKING_POLL_LOCK_SECONDS < 10:
    raise ValueError("TRACKING_POLL_EVERY_SECONDS, TRACKING_MAX_AGE_DAYS must be positive, the lock at least 10 s")
CELERY_BEAT_SCHEDULE["tracking-poll"] = {
    "task": "shipping.tasks.tracking_poll_all_task",
    "schedule": TRACKING_POLL_EVERY_SECONDS,
}
HTTP_CONNECT_TIMEOUT = env.float("HTTP_CONNECT_TIMEOUT", default=3.05)
HTTP_READ_TIMEOUT = env.float("HTTP_READ_TIMEOUT", default=15.0)

# --- Logging ------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- HTTPS (production: `manage.py check --deploy` is clean with the README's settings) ----
# Trust X-Forwarded-Proto only behind a proxy that sets it: without one, any client could
# claim HTTPS by sending the header itself.
if env.bool("DJANGO_BEHIND_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=False)
# Load balancers probe over plain HTTP inside the network; a redirect would fail every probe.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
# 0 sends no HSTS header. Once browsers have seen a non-zero value they refuse plain HTTP
# for that long: start small (300) and raise it to a year when HTTPS is known to work.
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=True)
if not DEBUG:
    SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=True)
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
