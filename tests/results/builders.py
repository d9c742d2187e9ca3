"""Test data for the results app: a programme whose selection is published, a stage phase in
scoring with mapped objectives, and people whose names and addresses must never reach a
public page (each carries a marker the tests search for)."""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal
from pathlib import Path

from consortia.models import ConsortiumMember
from evaluations import services as evaluation_services
from evaluations.models import Assignment, Criterion
from results import services
from tests.factories import UserFactory
from tests.factories_evaluations import assign, selection_phase, stage_phase, submit_scores, submitted_application

FIXTURES = Path(__file__).resolve().parent / "fixtures"
HARNESS_FILE = FIXTURES / "lm_eval_results.json"
CARD_FILE = FIXTURES / "model_card_README.md"

SELECTED_NAMES = ["한강AI 컨소시엄", "백두 파운데이션 컨소시엄", "누리모델 컨소시엄"]
NOT_SELECTED_NAME = "미선정비공개 컨소시엄"


_worlds = itertools.count(1)


def person(role: str, marker: str):
    return UserFactory(
        role=role, username=f"{marker}-login", full_name=f"{marker}이름", email=f"{marker}@secret.example.kr"
    )


def set_mapping(phase, officer):
    kmmlu, haerae = phase.objectives.order_by("id")
    services.objective_mapping_set(
        phase=phase,
        by=officer,
        rows=[
            {"objective": kmmlu.id, "task": "kmmlu", "metric": "acc,none", "harness_scale": "100", "card_scale": "1"},
            {"objective": haerae.id, "task": "haerae", "metric": "acc_norm", "harness_scale": "100", "card_scale": "1"},
        ],
    )
    return kmmlu, haerae


class World:
    """What a test needs to reach: the phases, the teams and every private marker."""

    def __init__(self, programme, officer, *, teams: int = 3, not_selected: int = 1):
        self.programme = programme
        self.officer = officer
        n = next(_worlds)
        self.private: list[str] = []  # names, logins, e-mails, comments: never public
        self.selection = selection_phase(programme=programme, teams_to_keep=teams)
        self.reviewers = [person("reviewer", f"w{n}reviewer{i}x") for i in range(3)]
        self.private += [v for r in self.reviewers for v in (r.full_name, r.email, r.username)]
        self.apps = []
        for i in range(teams + not_selected):
            lead = person("applicant", f"w{n}leadcontact{i}x")
            if i >= teams:
                name = f"{NOT_SELECTED_NAME} {i}"
            else:
                name = SELECTED_NAMES[i] if i < len(SELECTED_NAMES) else f"가상팀{i} 컨소시엄"
            app = submitted_application(programme=programme, lead_contact=lead)
            app.consortium.name = name
            app.consortium.save(update_fields=["name"])
            member_contact = person("applicant", f"w{n}membercontact{i}x")
            ConsortiumMember.objects.filter(consortium=app.consortium, contact__isnull=True).update(
                contact=member_contact
            )
            self.private += [lead.full_name, lead.email, lead.username, member_contact.full_name, member_contact.email]
            self.private.append(app.versions.get().receipt_number)
            self.apps.append(app)
        # Selected teams score higher; the last applicants are not selected (and not named).
        for index, app in enumerate(self.apps):
            base = 38 - index
            for r in self.reviewers:
                a = assign(self.selection, app, r)
                submit_scores(a, {"technology": base, "capability": 25, "impact": 22})
                Assignment.objects.filter(pk=a.pk).update(comment=f"비공개총평{index}x")
                self.private.append(f"비공개총평{index}x")
        self.private += ["technology 의견", "capability 의견", "impact 의견", "expert 의견"]
        self.private.append(NOT_SELECTED_NAME)
        evaluation_services.phase_finalise(phase=self.selection, by=officer)
        evaluation_services.phase_publish(phase=self.selection, by=officer)
        self.teams = self.apps[:teams]
        self.stage = stage_phase(programme=programme, teams_to_keep=max(teams - 1, 1))
        self.kmmlu, self.haerae = set_mapping(self.stage, officer)

    def add_references(self):
        services.reference_model_save(
            phase=self.stage,
            by=self.officer,
            data={
                "name": "Global-A",
                "version": "2026-06",
                "source_url": "https://leaderboard.example.org/ko-llm",
                "source_title": "Korean LLM Leaderboard (example)",
            },
            scores={self.kmmlu.id: "80", self.haerae.id: "58.5"},
        )
        services.reference_model_save(
            phase=self.stage,
            by=self.officer,
            data={
                "name": "Global-B",
                "released_on": date(2026, 5, 20),
                "source_url": "https://papers.example.org/global-b",
            },
            scores={self.kmmlu.id: "79", self.haerae.id: "60"},
        )

    def next_stage(self):
        """A further stage phase of the teams the current one kept, with mapped objectives."""
        kept = {r.application_id for r in self.stage.results.filter(decision="kept")}
        self.teams = [a for a in self.teams if a.id in kept]
        self.stage = stage_phase(programme=self.programme, order=self.stage.order + 1, teams_to_keep=1)
        self.kmmlu, self.haerae = set_mapping(self.stage, self.officer)
        return self.stage

    def finish_stage(self, *, expert=("31", "27", "24"), panel=("21.5", "18", "15.25"), publish=True):
        """Expert sheets, panel points and gate decisions for every team; finalise (and publish)."""
        gate = Criterion.objects.get(phase=self.stage, key="originality")
        lines = ["receipt_number,criterion,points"]
        for index, app in enumerate(self.teams):
            for r in self.reviewers:
                a = assign(self.stage, app, r)
                submit_scores(a, {"expert": expert[index % len(expert)]})
            lines.append(f"{app.versions.get().receipt_number},user,{panel[index % len(panel)]}")
            evaluation_services.gate_decide(
                criterion=gate, application=app, by=self.officer, passed=True, reasons=f"게이트사유{index}x"
            )
            self.private.append(f"게이트사유{index}x")
        evaluation_services.panel_scores_import(phase=self.stage, by=self.officer, csv_text="\n".join(lines) + "\n")
        evaluation_services.phase_finalise(phase=self.stage, by=self.officer)
        if publish:
            evaluation_services.phase_publish(phase=self.stage, by=self.officer)
        self.stage.refresh_from_db()


def import_file(*, phase, application, path: Path, by=None):
    return services.benchmark_import(
        phase=phase,
        application=application,
        by=by or application.consortium.lead_contact,
        filename=path.name,
        data=path.read_bytes(),
    )


D = Decimal
