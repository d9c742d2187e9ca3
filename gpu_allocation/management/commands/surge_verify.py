"""After the surge: every accepted submit has exactly one version, every refusal none."""

import json

from django.core.management.base import BaseCommand
from django.db.models import Count, Max

from consortia.models import Application, ApplicationVersion


class Command(BaseCommand):
    help = "Check the database against the surge client's outcomes (JSON file {application_id: status})."

    def add_arguments(self, parser):
        parser.add_argument("outcomes")

    def handle(self, *args, **options):
        with open(options["outcomes"]) as handle:
            outcomes = {int(k): v for k, v in json.load(handle).items()}
        versions = dict(
            Application.objects.filter(pk__in=outcomes).annotate(n=Count("versions")).values_list("pk", "n")
        )
        closes_at = Application.objects.filter(pk__in=outcomes).values_list("programme__closes_at", flat=True).first()
        latest = ApplicationVersion.objects.filter(application_id__in=outcomes).aggregate(m=Max("submitted_at"))["m"]
        accepted_ok = sum(1 for pk, status in outcomes.items() if status == 200 and versions.get(pk) == 1)
        refused_ok = sum(1 for pk, status in outcomes.items() if status == 409 and versions.get(pk) == 0)
        duplicates = sum(1 for n in versions.values() if n > 1)
        mismatched = len(outcomes) - accepted_ok - refused_ok
        self.stdout.write(json.dumps({
            "accepted_with_one_version": accepted_ok, "refused_with_no_version": refused_ok,
            "duplicates": duplicates, "mismatched": mismatched,
            "latest_version_at_or_before_deadline": bool(latest is None or latest <= closes_at),
        }))  # fmt: skip
