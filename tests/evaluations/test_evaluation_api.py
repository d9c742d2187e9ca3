"""The evaluations API: scoped lists, 404 for what a user may not see, 409 when not possible now."""

from datetime import timedelta

import pytest
from django.utils import timezone

from evaluations.enums import AssignmentStatus, PhaseStatus
from evaluations.models import Phase, PhaseResult
from tests.factories_evaluations import (
    affiliate,
    assign,
    bulk_selection_phase,
    reviewers,
    selection_phase,
    submit_scores,
    submitted_application,
)

pytestmark = pytest.mark.django_db


def test_reviewer_lists_only_own_assignments_officer_all(programme, officer, api_for):
    phase = selection_phase(programme=programme)
    me, other = reviewers(2)
    app = submitted_application(programme=programme)
    mine = assign(phase, app, me)
    assign(phase, app, other)

    as_reviewer = api_for(me).get(f"/api/v1/phases/{phase.id}/assignments/")
    as_officer = api_for(officer).get(f"/api/v1/phases/{phase.id}/assignments/")

    assert [a["id"] for a in as_reviewer.json()["results"]] == [mine.id]
    assert as_officer.json()["count"] == 2


def test_reviewer_cannot_read_other_reviewers_scores_or_phase(programme, api_for):
    phase = selection_phase(programme=programme)
    me, other = reviewers(2)
    app = submitted_application(programme=programme)
    assign(phase, app, me)
    theirs = submit_scores(assign(phase, app, other), {"technology": 30, "capability": 20, "impact": 20})
    client = api_for(me)

    assert client.get(f"/api/v1/assignments/{theirs.id}/").status_code == 404
    assert (
        client.put(f"/api/v1/assignments/{theirs.id}/scores/", {"scores": {"technology": 1}}, format="json").status_code
        == 404
    )
    assert client.get(f"/api/v1/phases/{phase.id}/ranking/").status_code == 404
    assert client.get(f"/api/v1/phases/{phase.id}/").status_code == 404
    own = client.get(f"/api/v1/phases/{phase.id}/assignments/").json()["results"]
    assert all(a["reviewer"] == me.id for a in own)


def test_reviewer_with_no_assignment_in_phase_gets_404(programme, api_for):
    phase = selection_phase(programme=programme)
    (stranger,) = reviewers(1)
    assert api_for(stranger).get(f"/api/v1/phases/{phase.id}/assignments/").status_code == 404


def test_declare_then_score_draft_then_submit(programme, api_for):
    phase = selection_phase(programme=programme)
    (me,) = reviewers(1)
    assignment = assign(phase, submitted_application(programme=programme), me, declared=False)
    client = api_for(me)

    early = client.put(f"/api/v1/assignments/{assignment.id}/scores/", {"scores": {"technology": 30}}, format="json")
    assert early.status_code == 409 and early.json()["code"] == "declare_first"
    assert (
        client.post(
            f"/api/v1/assignments/{assignment.id}/conflict/", {"has_conflict": False}, format="json"
        ).status_code
        == 200
    )
    draft = client.put(
        f"/api/v1/assignments/{assignment.id}/scores/",
        {"scores": [{"criterion": "technology", "value": 35.5, "comment": "독창적"}], "comment": "초안"},
        format="json",
    )
    assert draft.status_code == 200
    assert draft.json()["status"] == AssignmentStatus.ACTIVE
    assert draft.json()["scores"] == [{"criterion": "technology", "value": "35.5", "comment": "독창적"}]
    bad = client.put(f"/api/v1/assignments/{assignment.id}/scores/", {"scores": {"impact": 31}}, format="json")
    assert bad.status_code == 400
    done = client.put(
        f"/api/v1/assignments/{assignment.id}/scores/",
        {"scores": {"capability": 20, "impact": 25.1}, "submit": True},
        format="json",
    )
    assert done.status_code == 200 and done.json()["status"] == AssignmentStatus.SUBMITTED


def test_conflicted_reviewer_sees_nothing_afterwards(programme, api_for):
    phase = selection_phase(programme=programme)
    (me,) = reviewers(1)
    assignment = assign(phase, submitted_application(programme=programme), me, declared=False)
    client = api_for(me)
    response = client.post(
        f"/api/v1/assignments/{assignment.id}/conflict/", {"has_conflict": True, "reason": "자문"}, format="json"
    )
    assert response.status_code == 200 and response.json()["status"] == AssignmentStatus.CONFLICTED
    assert client.get(f"/api/v1/assignments/{assignment.id}/").status_code == 404
    assert client.put(f"/api/v1/assignments/{assignment.id}/scores/", {"scores": {}}, format="json").status_code == 404


def test_scoring_after_window_is_409(programme, api_for):
    phase = selection_phase(
        programme=programme,
        scoring_opens_at=timezone.now() - timedelta(days=3),
        scoring_closes_at=timezone.now() - timedelta(seconds=1),
    )
    (me,) = reviewers(1)
    assignment = assign(phase, submitted_application(programme=programme), me)
    response = api_for(me).put(
        f"/api/v1/assignments/{assignment.id}/scores/", {"scores": {"technology": 30}}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "scoring_closed"
    assert "마감" in response.json()["detail"]  # the message names the closed window (Korean by default)
    assert not assignment.scores.exists()


def test_scoring_after_finalisation_is_409(programme, officer, api_for):
    phase = selection_phase(programme=programme, teams_to_keep=1)
    me, other = reviewers(2)
    app = submitted_application(programme=programme)
    mine = assign(phase, app, me)
    submit_scores(mine, {"technology": 30, "capability": 25, "impact": 20})
    submit_scores(assign(phase, app, other), {"technology": 30, "capability": 25, "impact": 20})
    assert api_for(officer).post(f"/api/v1/phases/{phase.id}/finalise/").status_code == 200
    mine.status = AssignmentStatus.ACTIVE
    mine.save()
    response = api_for(me).put(f"/api/v1/assignments/{mine.id}/scores/", {"scores": {"technology": 10}}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "scoring_closed"
    assert "확정" in response.json()["detail"]


def test_auto_assign_ranking_finalise_publish_flow(programme, officer, api_for):
    phase = selection_phase(programme=programme, reviewers_per_application=3, teams_to_keep=1)
    apps = [submitted_application(programme=programme) for _ in range(3)]
    pool = reviewers(4)
    affiliate(pool[0], apps[0])
    Phase.objects.get(pk=phase.pk).pool.create(reviewer=pool[0])
    for r in pool[1:]:
        phase.pool.create(reviewer=r)
    client = api_for(officer)

    summary = client.post(f"/api/v1/phases/{phase.id}/auto-assign/").json()
    assert summary["created"] == 9 and summary["spread"] <= 1 and summary["shortfalls"] == []
    assert not phase.assignments.filter(application=apps[0], reviewer=pool[0]).exists()
    assert client.post(f"/api/v1/phases/{phase.id}/finalise/").status_code == 409
    for n, assignment in enumerate(phase.assignments.order_by("application_id", "reviewer_id")):
        submit_scores(assignment, {"technology": 30 + n // 3, "capability": 25, "impact": 20})
    ranking = client.get(f"/api/v1/phases/{phase.id}/ranking/").json()
    assert ranking["count"] == 3 and [r["rank"] for r in ranking["results"]] == [1, 2, 3]
    assert client.post(f"/api/v1/phases/{phase.id}/publish/").status_code == 409
    assert client.post(f"/api/v1/phases/{phase.id}/finalise/").json()["status"] == PhaseStatus.FINALISED
    assert client.post(f"/api/v1/phases/{phase.id}/publish/").json()["status"] == PhaseStatus.PUBLISHED
    frozen = client.get(f"/api/v1/phases/{phase.id}/ranking/").json()["results"]
    assert frozen == ranking["results"]
    assert PhaseResult.objects.filter(phase=phase).count() == 3


def test_appeal_create_and_decide_through_api(programme, officer, api_for):
    phase = selection_phase(programme=programme, teams_to_keep=1)
    app = submitted_application(programme=programme)
    outsider_app = submitted_application(programme=programme)
    for r in reviewers(3):
        submit_scores(assign(phase, app, r), {"technology": 30, "capability": 25, "impact": 20})
        submit_scores(assign(phase, outsider_app, r), {"technology": 20, "capability": 25, "impact": 20})
    api_for(officer).post(f"/api/v1/phases/{phase.id}/finalise/")
    api_for(officer).post(f"/api/v1/phases/{phase.id}/publish/")
    applicant = app.consortium.lead_contact
    client = api_for(applicant)

    stranger = client.post(
        "/api/v1/appeals/",
        {"phase": phase.id, "application": outsider_app.id, "grounds": "misreading", "text": "x"},
        format="json",
    )
    assert stranger.status_code == 404
    filed = client.post(
        "/api/v1/appeals/",
        {"phase": phase.id, "application": app.id, "grounds": "misreading", "text": "오독"},
        format="json",
    )
    assert filed.status_code == 201
    again = client.post(
        "/api/v1/appeals/",
        {"phase": phase.id, "application": app.id, "grounds": "misreading", "text": "다시"},
        format="json",
    )
    assert again.status_code == 409
    assert (
        client.post(
            f"/api/v1/appeals/{filed.json()['id']}/decide/", {"upheld": False, "reasons": "x"}, format="json"
        ).status_code
        == 404
    )
    decided = api_for(officer).post(
        f"/api/v1/appeals/{filed.json()['id']}/decide/", {"upheld": False, "reasons": "근거 없음"}, format="json"
    )
    assert decided.json()["status"] == "dismissed"
    assert [a["id"] for a in client.get("/api/v1/appeals/").json()["results"]] == [filed.json()["id"]]
    assert api_for(outsider_app.consortium.lead_contact).get("/api/v1/appeals/").json()["count"] == 0


def test_phase_create_through_api(past_deadline_programme, officer, api_for):
    programme = past_deadline_programme
    now = timezone.now()
    payload = {
        "programme": programme.id,
        "name": "1차 선정평가",
        "teams_to_keep": 5,
        "scoring_opens_at": now.isoformat(),
        "scoring_closes_at": (now + timedelta(days=10)).isoformat(),
        "criteria": [
            {"key": "tech", "name": "기술성", "max_points": "60", "source": "expert"},
            {"key": "plan", "name": "계획", "max_points": "40", "source": "expert"},
        ],
    }
    created = api_for(officer).post("/api/v1/phases/", payload, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["kind"] == "selection" and len(created.json()["criteria"]) == 2
    opened = api_for(officer).post(f"/api/v1/phases/{created.json()['id']}/open-scoring/")
    assert opened.json()["status"] == PhaseStatus.SCORING


@pytest.mark.parametrize("size", [10, 120])
def test_ranking_api_query_count_is_constant(programme, officer, api_for, django_assert_max_num_queries, size):
    phase = bulk_selection_phase(programme=programme, applications=size)
    client = api_for(officer)
    with django_assert_max_num_queries(16):
        response = client.get(f"/api/v1/phases/{phase.id}/ranking/")
    assert response.json()["count"] == size
