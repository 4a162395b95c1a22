from django.core.management.base import BaseCommand, CommandError

from ops.demo import demo_user_ensure


class Command(BaseCommand):
    help = "Development only (DJANGO_DEBUG=1): create or reset the dashboard's demo operations login and print it."

    def handle(self, *args, **options):
        try:
            username, password = demo_user_ensure()
        except RuntimeError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"{username} {password}")
