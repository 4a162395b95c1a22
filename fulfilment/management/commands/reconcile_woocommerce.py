from datetime import datetime

from django.core.management.base import BaseCommand, CommandError

from fulfilment.errors import ChannelUnavailable
from fulfilment.services import woocommerce_reconcile


def _moment(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError("give a UTC offset, e.g. 2026-11-20T00:00:00+00:00")
    return moment


class Command(BaseCommand):
    help = (
        "Read WooCommerce orders modified since the last run (or --since) into the webhook inbox; "
        "versions a webhook already delivered are skipped. Celery beat runs this every few minutes."
    )

    def add_arguments(self, parser):
        parser.add_argument("--since", type=_moment, help="ISO-8601 moment with offset; default: the stored cursor")

    def handle(self, *args, since: datetime | None, **options):
        try:
            result = woocommerce_reconcile(since=since)
        except ChannelUnavailable as exc:
            raise CommandError(f"{exc.detail} {exc.extra}") from exc
        if not result.configured:
            raise CommandError("Set WOOCOMMERCE_URL, WOOCOMMERCE_CONSUMER_KEY and WOOCOMMERCE_CONSUMER_SECRET first.")
        position = result.position.isoformat() if result.position else "unchanged"
        self.stdout.write(
            f"read {result.read}: {result.accepted} new, {result.duplicates} already delivered, "
            f"{result.rejected} unreadable; read up to {position}"
        )
