from django.core.management.base import BaseCommand, CommandError

from portal.models import User
from portal.totp import totp_code, totp_secret


class Command(BaseCommand):
    help = "Print the current TOTP code of a demo account (for trying the second factor)."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, **options):
        user = User.objects.filter(username=options["username"]).first()
        secret = totp_secret(user) if user is not None else None
        if secret is None:
            raise CommandError(f"No TOTP authenticator for {options['username']!r}.")
        self.stdout.write(totp_code(secret))
