"""The pages and API lists the benchmark measures, resolved for one seeded data set."""

import json

from django.core.management.base import BaseCommand
from django.urls import NoReverseMatch, reverse

from consortia.models import Application


def targets_for(scale: dict, demo: dict) -> list[dict]:
    officer = next(a["username"] for a in demo["accounts"] if a["role"] == "officer")
    application = Application.objects.get(pk=scale["application_id"])
    wanted = [
        ("floor: tiny page", "bench:floor_tiny", {}, scale["applicant_username"]),
        ("floor: 50-row list", "bench:floor_list", {}, scale["applicant_username"]),
        ("applicant dashboard", "consortia:my_applications", {}, scale["applicant_username"]),
        (
            "application form",
            "consortia:application_step",
            {"pk": application.pk, "step": 1},
            scale["applicant_username"],
        ),
        ("reviewer queue", "evaluations:reviewer_queue", {}, scale["reviewer_username"]),
        ("scoring form", "evaluations:assignment_score", {"pk": scale["assignment_id"]}, scale["reviewer_username"]),
        ("officer ranking", "evaluations:phase_ranking", {"pk": scale["phase_id"]}, officer),
        ("allocation run", "gpu_allocation:run_detail", {"pk": scale["allocation_run_id"]}, officer),
        # Public results (no login needed; measured with the applicant's cookie like the others).
        ("public programme", "results:public_programme", {"pk": scale["programme_id"]}, scale["applicant_username"]),
        (
            "public phase results",
            "results:public_phase",
            {"pk": scale["programme_id"], "phase": scale["phase_id"]},
            scale["applicant_username"],
        ),
        ("API applications", None, "/api/v1/applications/", officer),
        ("API ranking", None, f"/api/v1/phases/{scale['phase_id']}/ranking/", officer),
    ]
    out = []
    for name, url_name, kwargs, user in wanted:
        if url_name is None:
            out.append({"name": name, "path": kwargs, "user": user})
            continue
        try:
            out.append({"name": name, "path": reverse(url_name, kwargs=kwargs or None), "user": user})
        except NoReverseMatch:
            out.append({"name": name, "path": None, "user": user})
    return out


class Command(BaseCommand):
    help = "Print benchmark targets as JSON for the seed_scale and seed_demo outputs given."

    def add_arguments(self, parser):
        parser.add_argument("scale_json")
        parser.add_argument("demo_json")

    def handle(self, *args, **options):
        with open(options["scale_json"]) as s, open(options["demo_json"]) as d:
            self.stdout.write(json.dumps(targets_for(json.load(s), json.load(d))))
