from django.core.management.base import BaseCommand

from inventory.demo import demo_seed


class Command(BaseCommand):
    help = "Load the demo catalogue (insoles in EU 35-48 with UK/US equivalents) and warehouses AU, EU, US. Idempotent."

    def handle(self, *args, **options):
        result = demo_seed()
        self.stdout.write(self.style.SUCCESS(f"Demo data ready: {result}"))
