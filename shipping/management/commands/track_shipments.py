"""Poll the couriers for tracking now, in this process: ``python manage.py track_shipments [--courier CODE]``."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from shipping import couriers, services


class Command(BaseCommand):
    help = "Poll couriers for tracking now (beat does it every TRACKING_POLL_EVERY_SECONDS) and print counts."

    def add_arguments(self, parser):
        parser.add_argument("--courier", choices=couriers.COURIER_CODES, help="Only this courier (default: all)")
        parser.add_argument("--limit", type=int, default=None, help="At most this many shipments per courier")

    def handle(self, *args, courier=None, limit=None, **options):
        codes = [courier] if courier else list(couriers.COURIER_CODES)
        for code in codes:
            stats = services.tracking_poll(courier=code, limit=limit)
            if stats.skipped:
                self.stdout.write(f"{code}: skipped ({stats.skipped})")
                continue
            reached = ", ".join(f"{s} {n}" for s, n in sorted(stats.statuses.items())) or "none"
            line = (
                f"{code}: {stats.shipments} shipments, {stats.calls} calls, {stats.events} new events, "
                f"{stats.changed} changed (reached: {reached}), {stats.not_found} not found in {stats.seconds:.1f} s"
            )
            if stats.stopped:
                after = f", retry after {stats.retry_after:g} s" if stats.retry_after else ""
                line += f"; stopped early: {stats.stopped}{after}"
                self.stdout.write(self.style.WARNING(line))
            else:
                self.stdout.write(self.style.SUCCESS(line))
