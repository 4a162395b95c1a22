from django.core.management.base import BaseCommand, CommandError

from inventory.services import stock_verify


class Command(BaseCommand):
    help = "Recompute every stock level from the ledger and active reservations; exit non-zero on any mismatch."

    def handle(self, *args, **options):
        mismatches = stock_verify()
        for mismatch in mismatches:
            self.stderr.write(str(mismatch))
        if mismatches:
            raise CommandError(f"{len(mismatches)} stock mismatches")
        self.stdout.write(self.style.SUCCESS("Stock levels agree with the ledger."))
