"""seed_demo's evaluation part, the audit trail, and query budgets of the list endpoints and pages."""

import pytest
from django.urls import reverse

from evaluations.enums import Decision, PhaseKind, PhaseStatus
from evaluations.models import Assignment, Phase, PhaseResult
from evaluations.tasks import phases_make_final_due_task
from portal.models import AuditEntry
from tests.factories_evaluations import assign, reviewers, selection_phase, submit_scores, submitted_application

pytestmark = pytest.mark.django_db


def test_seed_demo_builds_published_selection_and_open_stage_idempotently():
    from portal.demo import seed

    first = seed()
    counts = (Phase.objects.count(), Assignment.objects.count(), PhaseResult.objects.count())
    second = seed()

    assert (Phase.objects.count(), Assignment.objects.count(), PhaseResult.objects.count()) == counts
    assert first["phase_ids"] == second["phase_ids"]
    selection, stage = Phase.objects.order_by("order")
    assert (selection.kind, selection.status, stage.kind, stage.status) == (
        PhaseKind.SELECTION,
        PhaseStatus.FINAL,
        PhaseKind.STAGE,
        PhaseStatus.SCORING,
    )  # fmt: skip  (published, its appeal window closed: final)
    assert PhaseResult.objects.filter(phase=selection, decision=Decision.SELECTED).count() == 5
    assert sum(c.max_points for c in stage.criteria.filter(is_gate=False)) == 100
    assert stage.criteria.filter(is_gate=True, key="originality").exists()
    assert stage.objectives.exists()
    # no conflicted reviewer was ever assigned: no assignment of a reviewer affiliated with the consortium
    for a in Assignment.objects.select_related("application__consortium"):
        orgs = set(a.application.consortium.members.values_list("organisation_id", flat=True))
        assert not a.reviewer.affiliations.filter(organisation_id__in=orgs).exists()
    assert AuditEntry.objects.filter(action="phase.published").exists()


def test_state_changes_are_audited(programme, officer, api_for):
    phase = selection_phase(programme=programme, teams_to_keep=1)
    (me,) = reviewers(1)
    assignment = assign(phase, submitted_application(programme=programme), me, declared=False)
    client = api_for(me)
    client.post(f"/api/v1/assignments/{assignment.id}/conflict/", {"has_conflict": False}, format="json")
    client.put(f"/api/v1/assignments/{assignment.id}/scores/", {"scores": {"technology": 30}}, format="json")
    client.put(
        f"/api/v1/assignments/{assignment.id}/scores/",
        {"scores": {"capability": 25, "impact": 20}, "submit": True},
        format="json",
    )
    api_for(officer).post(f"/api/v1/phases/{phase.id}/finalise/")
    actions = list(AuditEntry.objects.order_by("id").values_list("action", "actor_id"))
    assert actions[-5:-1] == [
        ("assignment.declare", me.id),
        ("assignment.save_draft", me.id),
        ("assignment.submit", me.id),
        ("phase.finalised", officer.id),
    ]
    assert actions[-1] == ("phase.snapshot", officer.id)


def test_make_final_task_runs_for_due_phases(programme, officer):
    from datetime import timedelta

    from django.utils import timezone

    from evaluations import services

    phase = selection_phase(programme=programme, teams_to_keep=1)
    app = submitted_application(programme=programme)
    for r in reviewers(2):
        submit_scores(assign(phase, app, r), {"technology": 30, "capability": 25, "impact": 20})
    services.phase_finalise(phase=phase, by=officer)
    services.phase_publish(phase=phase, by=officer)
    assert phases_make_final_due_task.apply().get() == 0
    Phase.objects.filter(pk=phase.pk).update(published_at=timezone.now() - timedelta(days=8))
    assert phases_make_final_due_task.apply().get() == 1
    phase.refresh_from_db()
    assert phase.status == PhaseStatus.FINAL


def _data(programme, n):
    phase = selection_phase(programme=programme)
    pool = reviewers(2)
    for _ in range(n):
        app = submitted_application(programme=programme)
        for r in pool:
            submit_scores(assign(phase, app, r), {"technology": 30, "capability": 25, "impact": 20})
    return phase, pool


def _count(client, url):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url)  # warm sessions and tokens
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_assignment_list_api_and_pages_cost_the_same_queries_for_3_and_30(officer, api_for, client_for):
    from tests.factories import ProgrammeFactory

    measured = []
    for n in (3, 30):
        phase, pool = _data(ProgrammeFactory(), n)
        measured.append(
            (
                _count(api_for(officer), f"/api/v1/phases/{phase.id}/assignments/"),
                _count(api_for(pool[0]), f"/api/v1/phases/{phase.id}/assignments/"),
                _count(client_for(pool[0]), reverse("evaluations:reviewer_queue")),
                _count(client_for(officer), reverse("evaluations:phase_assignments", args=[phase.pk])),
                _count(client_for(officer), reverse("evaluations:phase_detail", args=[phase.pk])),
                _count(client_for(officer), reverse("evaluations:phase_list")),
            )
        )
    print("query counts", measured)
    assert measured[0] == measured[1]
    assert max(measured[0]) <= 20
