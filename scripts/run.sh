#!/usr/bin/env bash
# `make run`: migrate, load the demo, and serve. Embedded mode (SQLite, in-process tasks)
# unless DATABASE_URL points at PostgreSQL and REDIS_URL at a reachable Redis: then a Celery
# worker and beat start next to the web server, and one Ctrl-C stops all three.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
mkdir -p var

# First run on a laptop: write development settings to .env so manage.py commands typed
# later (issue_token, import_catalogue) see the same configuration as the server.
if [ ! -f .env ]; then
  key=$("$BIN/python" -c 'import secrets; print(secrets.token_urlsafe(50))')
  cat > .env <<ENV
# Written by make run for local development; see .env.example for every setting.
DJANGO_DEBUG=1
DJANGO_SECRET_KEY=$key
# Demo storefront secrets, so signed test webhooks can be sent (README: "Send a test order").
SHOPIFY_WEBHOOK_SECRET=demo-shopify-secret
SHOPIFY_SHOP_DOMAIN=demo-insoles.myshopify.com
WOOCOMMERCE_WEBHOOK_SECRET=demo-woo-secret
ENV
  echo "==> Wrote .env with development settings (DJANGO_DEBUG=1)"
fi
HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8000}"

redis_ok=0
if [ -n "${REDIS_URL:-}" ]; then
  if "$BIN/python" - <<'PY'
import os, sys, redis
try:
    redis.Redis.from_url(os.environ["REDIS_URL"], socket_connect_timeout=2).ping()
except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
    print(f"Redis at {os.environ['REDIS_URL']} is not reachable: {exc}", file=sys.stderr)
    sys.exit(1)
PY
  then redis_ok=1; fi
fi

workers=0
if [ "$redis_ok" = 1 ] && [[ "${DATABASE_URL:-}" == postgres* ]]; then
  workers=1
  export CELERY_TASK_ALWAYS_EAGER=0
  echo "==> PostgreSQL + Redis: starting web, Celery worker and beat"
else
  export CELERY_TASK_ALWAYS_EAGER=1
  echo "==> Tasks run in-process (set DATABASE_URL=postgres://... and a reachable REDIS_URL for real workers)"
  [ -z "${DATABASE_URL:-}" ] && echo "==> Database: SQLite at var/db.sqlite3"
fi

if [[ "${DATABASE_URL:-}" == postgres* ]]; then
  # Create the database on first run, like SQLite would create its file.
  "$BIN/python" - <<'PY'
import os, psycopg
from urllib.parse import urlparse
url = urlparse(os.environ["DATABASE_URL"])
name = url.path.lstrip("/")
args = dict(host=url.hostname, port=url.port or 5432, user=url.username, password=url.password, connect_timeout=5)
with psycopg.connect(dbname="postgres", autocommit=True, **args) as conn:
    if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
        conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name)))
        print(f"==> Created PostgreSQL database {name}")
PY
fi
"$BIN/python" manage.py migrate --noinput -v0
"$BIN/python" manage.py seed_demo
"$BIN/python" manage.py seed_courier_rules
"$BIN/python" manage.py collectstatic --noinput -v0
# Documents need the label fonts; the first build converts the CJK font (about a minute), so it
# happens here rather than in the first pick list a picker asks for.
if ! ls var/fonts/NotoSansCJK-regular-v*.ttf >/dev/null 2>&1 && [ -z "${LABEL_FONT_DIR:-}" ]; then
  echo "==> Building the label fonts once (about a minute; cached in var/fonts/)"
fi
"$BIN/python" manage.py prepare_label_fonts
# The dashboard's demo login: development only (the command refuses without DJANGO_DEBUG=1).
demo_login=$("$BIN/python" manage.py ops_demo_user 2>/dev/null || true)

# Couriers without a configured base URL ship through the courier sandbox (shipping/sandbox/),
# started here on COURIER_SANDBOX_PORT, so the demo books, labels and tracks offline. Their
# sandbox settings go into .env, so manage.py commands typed in another shell (manifest) reach
# it too; a real COURIER_<NAME>_BASE_URL (environment or .env) is left alone.
SANDBOX_PORT="${COURIER_SANDBOX_PORT:-8900}"
SANDBOX_URL="http://127.0.0.1:$SANDBOX_PORT"
couriers_where() {  # $1 = "unset" | "sandbox": the courier setting names whose base URL is that
  "$BIN/python" - "$1" "$SANDBOX_URL" <<'PY'
import os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
import django
django.setup()
from django.conf import settings
want, sandbox = sys.argv[1], sys.argv[2] + "/"
def matches(url):
    return not url if want == "unset" else url.startswith(sandbox)
print(" ".join(name for name, values in settings.COURIERS.items() if matches(values["BASE_URL"])))
PY
}
declare -A codes=([DHL_EXPRESS]=dhl_express [AUSPOST]=auspost [FEDEX]=fedex [UPS]=ups)
unset_couriers=$(couriers_where unset)
if [ -n "$unset_couriers" ]; then
  for name in $unset_couriers; do  # empty placeholders (copied from .env.example) would win over ours
    sed -i -E "/^COURIER_${name}_(BASE_URL|KEY|SECRET|ACCOUNT)=[[:space:]]*$/d" .env
  done
  {
    echo "# Written by make run: couriers without credentials ship through the local courier sandbox."
    for name in $unset_couriers; do
      echo "COURIER_${name}_BASE_URL=$SANDBOX_URL/${codes[$name]}"
      echo "COURIER_${name}_KEY=sandbox"
      echo "COURIER_${name}_SECRET=sandbox-secret"
      echo "COURIER_${name}_ACCOUNT=SANDBOX-${name}"
    done
  } >> .env
fi
sandboxed=$(couriers_where sandbox)
sandbox=0
if [ -n "$sandboxed" ]; then
  sandbox=1
  echo "==> Courier sandbox on $SANDBOX_URL for: $sandboxed (README: The courier sandbox)"
fi

cat <<MSG

==> Serving on http://$HOST:$PORT  (API docs: /api/docs/, admin: /admin/, health: /healthz)
MSG
if [ -n "$demo_login" ]; then
  cat <<MSG
    Dashboard:    http://$HOST:$PORT/ops/  demo login (development only): ${demo_login% *} / ${demo_login#* }
MSG
fi
cat <<MSG
    Get a token:  .venv/bin/python manage.py issue_token alice --role warehouse
    Try it:       curl -H "Authorization: Token <token>" "http://$HOST:$PORT/api/stock/?sku=ARCH-EU42"
    Stop with Ctrl-C.

MSG

# gunicorn reads ./gunicorn.conf.py (workers that survive slow clients; WEB_* variables), as in production.
trap 'trap - INT TERM EXIT; kill 0 2>/dev/null; wait' INT TERM EXIT
if [ "$sandbox" = 1 ]; then
  # The demo's parcels move along every COURIER_SANDBOX_ADVANCE_EVERY seconds; poll as often, so a
  # shipment booked in the demo reaches delivered by itself in a few minutes.
  export TRACKING_POLL_EVERY_SECONDS="${TRACKING_POLL_EVERY_SECONDS:-${COURIER_SANDBOX_ADVANCE_EVERY:-60}}"
  "$BIN/python" manage.py courier_sandbox --port "$SANDBOX_PORT" \
    --advance-every "${COURIER_SANDBOX_ADVANCE_EVERY:-60}" &
fi
if [ "$workers" = 1 ]; then
  # Workers yield the CPU to the web processes (nice): on a shared machine a burst of webhooks is
  # answered first and processed right after. CELERY_NICE=0 turns that off.
  nice -n "${CELERY_NICE:-10}" "$BIN/celery" -A config worker --loglevel=INFO --concurrency="${CELERY_CONCURRENCY:-2}" &
  "$BIN/celery" -A config beat --loglevel=INFO &
else
  # Embedded mode has no beat: poll the couriers for tracking from a loop instead.
  (
    while sleep "${TRACKING_POLL_EVERY_SECONDS:-900}"; do
      "$BIN/python" manage.py track_shipments >/dev/null 2>&1 || echo "track_shipments failed (run it by hand to see why)"
    done
  ) &
fi
"$BIN/gunicorn" --bind "$HOST:$PORT" &
wait -n
