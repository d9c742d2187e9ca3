from datetime import UTC, datetime, timedelta

from django.core.management.base import BaseCommand

from rows.models import Row


class Command(BaseCommand):
    help = "Fill the bare floor's table (default 2,000 rows; the page shows the first 50)."

    def add_arguments(self, parser):
        parser.add_argument("--rows", type=int, default=2000)

    def handle(self, *args, **options):
        Row.objects.all().delete()
        start = datetime(2025, 1, 1, tzinfo=UTC)
        Row.objects.bulk_create(
            Row(action=f"record.{i % 7}", at=start + timedelta(minutes=i)) for i in range(options["rows"])
        )
