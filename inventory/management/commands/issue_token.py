from django.core.management.base import BaseCommand, CommandError

from config.auth import token_issue
from config.permissions import ROLES


class Command(BaseCommand):
    help = "Create the user if needed, give it a role, and print a new API token as the last line."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=ROLES)

    def handle(self, *args, username: str, role: str, **options):
        username = username.strip()
        if not username:
            raise CommandError("username must not be empty")
        token = token_issue(username=username, role=role)
        self.stdout.write(f"Token for {username} ({role}); send it as this header:")
        self.stdout.write(f"Authorization: Token {token}")
