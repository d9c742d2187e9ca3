from django.core.management.base import BaseCommand

from portal.outbox import outbox_drain


class Command(BaseCommand):
    help = "Publish pending outbox messages to the broker (also runs periodically under beat)."

    def handle(self, *args, **options):
        self.stdout.write(f"published {outbox_drain()}")
