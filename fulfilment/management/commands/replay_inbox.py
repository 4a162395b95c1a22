from django.core.management.base import BaseCommand, CommandError

from fulfilment.models import InboxDelivery
from fulfilment.services import inbox_replay


class Command(BaseCommand):
    help = "Process stored webhook deliveries again: by id, or every failed one (the default)."

    def add_arguments(self, parser):
        parser.add_argument("ids", nargs="*", type=int, help="delivery ids; none = all failed deliveries")
        parser.add_argument("--status", default="failed", choices=[s.value for s in InboxDelivery.Status])

    def handle(self, *args, ids: list[int], status: str, **options):
        if not ids:
            ids = list(InboxDelivery.objects.filter(status=status).order_by("received_at").values_list("pk", flat=True))
        if not ids:
            self.stdout.write(f"No {status} deliveries.")
            return
        failed = 0
        for delivery_id in ids:
            result = inbox_replay(delivery_id=delivery_id)
            outcome = result.delivery.status
            order = f" order {result.order.pk} ({result.order.status})" if result.order else ""
            self.stdout.write(f"delivery {delivery_id}: {outcome}{order}")
            failed += outcome == InboxDelivery.Status.FAILED
        if failed:
            raise CommandError(f"{failed} deliveries still fail; see their errors in the admin")
