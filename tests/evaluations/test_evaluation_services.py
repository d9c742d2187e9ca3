"""Evaluation services end to end on real rows: scoring, ranking, ties, finalise, appeals, imports."""

from datetime import timedelta

import pytest
from django.utils import timezone, translation

from evaluations import services
from evaluations.enums import AppealStatus, AssignmentStatus, Decision, PhaseStatus
from evaluations.models import Assignment, Criterion, GateDecision, PhaseResult, TieBreakDecision
from portal.errors import DomainError, InvalidInput
from portal.models import AuditEntry
from tests.factories import UserFactory
from tests.factories_evaluations import (
    affiliate,
    assign,
    reviewers,
    selection_phase,
    stage_phase,
    submit_scores,
    submitted_application,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english():
    """Messages are matched in English here; pages and the API speak Korean by default."""
    with translation.override("en"):
        yield


def score_through_service(phase, application, pool, sheets):
    """Each reviewer declares no conflict and submits through the services."""
    for reviewer, values in zip(pool, sheets, strict=True):
        assignment = assign(phase, application, reviewer, declared=False)
        services.assignment_declare(assignment=assignment, by=reviewer, has_conflict=False)
        services.assignment_save_scores(assignment=assignment, by=reviewer, scores=values, comment="총평", submit=True)


def sheet(t, c, i):
    return {"technology": t, "capability": c, "impact": i}


def test_five_reviewers_trimmed_mean_through_services_and_finalise(programme, officer):
    phase = selection_phase(programme=programme, teams_to_keep=1)
    pool = reviewers(5)
    a = submitted_application(programme=programme)
    b = submitted_application(programme=programme)
    # totals a: 60, 75, 80, 85, 99 -> drop 60 and 99 -> mean(75, 80, 85) = 80.00
    score_through_service(
        phase, a, pool,
        [sheet(20, 20, 20), sheet(30, 25, 20), sheet(30, 25, 25), sheet(35, 25, 25), sheet(40, 29.5, 29.5)],
    )  # fmt: skip
    # totals b: 70, 71, 72, 73, 74 -> mean(71, 72, 73) = 72.00
    score_through_service(
        phase, b, pool,
        [sheet(30, 20, 20), sheet(31, 20, 20), sheet(32, 20, 20), sheet(33, 20, 20), sheet(34, 20, 20)],
    )  # fmt: skip

    results = services.phase_finalise(phase=phase, by=officer)

    got = {(r.application_id, str(r.score), r.rank, r.decision, r.reserve_rank) for r in results}
    assert got == {(a.id, "80.00", 1, Decision.SELECTED, None), (b.id, "72.00", 2, Decision.RESERVE, 1)}
    frozen = PhaseResult.objects.get(phase=phase, application=a)
    assert frozen.details["dropped_totals"] == ["60.0", "99.0"]
    assert frozen.version == a.versions.get()
    phase.refresh_from_db()
    assert phase.status == PhaseStatus.FINALISED
    assert AuditEntry.objects.filter(action="phase.finalised", object_id=str(phase.id)).exists()


def test_three_reviewers_plain_mean_and_tie_broken_by_criterion(programme, officer):
    phase = selection_phase(programme=programme, teams_to_keep=1, tie_break_criteria=["technology", "capability"])
    pool = reviewers(3)
    a = submitted_application(programme=programme)
    b = submitted_application(programme=programme)
    # both 80.00; a has the higher technology mean
    score_through_service(phase, a, pool, [sheet(36, 22, 22), sheet(36, 22, 22), sheet(36, 22, 22)])
    score_through_service(phase, b, pool, [sheet(30, 25, 25), sheet(30, 25, 25), sheet(30, 25, 25)])

    results = {r.application_id: r for r in services.phase_finalise(phase=phase, by=officer)}

    assert (results[a.id].rank, results[a.id].decision) == (1, Decision.SELECTED)
    assert (results[b.id].rank, results[b.id].decision) == (2, Decision.RESERVE)
    assert results[a.id].details["tie_break"] == "criteria"


def test_seven_reviewers_tie_needs_officer_decision_before_finalise(programme, officer):
    phase = selection_phase(programme=programme, teams_to_keep=1, tie_break_criteria=["technology"])
    pool = reviewers(7)
    a = submitted_application(programme=programme)
    b = submitted_application(programme=programme)
    same = [sheet(30, 25, 20)] * 7  # 75.00 each, same technology mean
    score_through_service(phase, a, pool, same)
    score_through_service(phase, b, pool, same)

    with pytest.raises(DomainError) as refused:
        services.phase_finalise(phase=phase, by=officer)
    assert refused.value.code == "tie_undecided"
    assert not PhaseResult.objects.filter(phase=phase).exists()
    with pytest.raises(InvalidInput):
        services.tie_break_decide(phase=phase, by=officer, ordered_application_ids=[b.id], reason="incomplete")

    services.tie_break_decide(phase=phase, by=officer, ordered_application_ids=[b.id, a.id], reason="위원회 결정")
    results = {r.application_id: r for r in services.phase_finalise(phase=phase, by=officer)}

    assert (results[b.id].rank, results[b.id].decision, results[b.id].details["tie_break"]) == (
        1,
        Decision.SELECTED,
        "officer_decision",
    )
    assert (results[a.id].rank, results[a.id].decision) == (2, Decision.RESERVE)
    assert TieBreakDecision.objects.filter(phase=phase).count() == 1


def test_scoring_refused_after_window_and_after_finalisation(programme, officer):
    phase = selection_phase(programme=programme)
    pool = reviewers(1)
    app = submitted_application(programme=programme)
    assignment = assign(phase, app, pool[0])
    phase.scoring_closes_at = timezone.now() - timedelta(minutes=1)
    phase.scoring_opens_at = timezone.now() - timedelta(days=2)
    phase.save()
    with pytest.raises(DomainError, match="closed"):
        services.assignment_save_scores(assignment=assignment, by=pool[0], scores={"technology": "10"})
    phase.scoring_closes_at = timezone.now() + timedelta(days=1)
    phase.status = PhaseStatus.FINALISED
    phase.save()
    with pytest.raises(DomainError, match="finalised"):
        services.assignment_save_scores(assignment=assignment, by=pool[0], scores={"technology": "10"})
    assert not assignment.scores.exists()


@pytest.mark.parametrize("value", ["40.1", "-1", "12.25", "abc"])
def test_bad_points_are_refused_and_nothing_changes(programme, value):
    phase = selection_phase(programme=programme)
    (reviewer,) = reviewers(1)
    assignment = assign(phase, submitted_application(programme=programme), reviewer)
    with pytest.raises(InvalidInput):
        services.assignment_save_scores(assignment=assignment, by=reviewer, scores={"technology": value, "impact": "5"})
    assert not assignment.scores.exists()


def test_submit_needs_every_criterion_but_a_draft_does_not(programme):
    phase = selection_phase(programme=programme)
    (reviewer,) = reviewers(1)
    assignment = assign(phase, submitted_application(programme=programme), reviewer)
    services.assignment_save_scores(assignment=assignment, by=reviewer, scores={"technology": "33.3"})
    with pytest.raises(InvalidInput):
        services.assignment_save_scores(assignment=assignment, by=reviewer, scores={}, submit=True)
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.ACTIVE
    assert [str(s.value) for s in assignment.scores.all()] == ["33.3"]


def test_auto_assign_never_assigns_a_conflicted_reviewer_and_balances(programme, officer):
    phase = selection_phase(programme=programme, reviewers_per_application=5)
    apps = [submitted_application(programme=programme) for _ in range(6)]
    pool = reviewers(8)
    affiliate(pool[0], apps[0])
    affiliate(pool[0], apps[1])
    affiliate(pool[1], apps[2])
    services.phase_invite_reviewers(phase=phase, by=officer, reviewers=pool)

    summary = services.phase_auto_assign(phase=phase, by=officer)

    pairs = set(Assignment.objects.filter(phase=phase).values_list("application_id", "reviewer_id"))
    assert len(pairs) == 30 and summary.created == 30 and not summary.shortfalls
    assert (apps[0].id, pool[0].id) not in pairs and (apps[1].id, pool[0].id) not in pairs
    assert (apps[2].id, pool[1].id) not in pairs
    for app in apps:
        assert sum(1 for a, _ in pairs if a == app.id) == 5
    loads = [sum(1 for _, r in pairs if r == reviewer.id) for reviewer in pool]
    assert max(loads) - min(loads) <= 1
    # running again changes nothing
    assert services.phase_auto_assign(phase=phase, by=officer).created == 0


def test_manual_assignment_of_affiliated_reviewer_refused(programme, officer):
    phase = selection_phase(programme=programme)
    app = submitted_application(programme=programme)
    (reviewer,) = reviewers(1)
    affiliate(reviewer, app)
    with pytest.raises(DomainError, match="affiliated"):
        services.assignment_create(phase=phase, application=app, reviewer=reviewer, by=officer)
    assert not Assignment.objects.exists()


def test_declared_conflict_is_replaced_by_automatic_assignment(programme, officer):
    phase = selection_phase(programme=programme, reviewers_per_application=1)
    app = submitted_application(programme=programme)
    first, second = reviewers(2)
    services.phase_invite_reviewers(phase=phase, by=officer, reviewers=[first, second])
    assignment = services.assignment_create(phase=phase, application=app, reviewer=first, by=officer)
    with pytest.raises(InvalidInput):
        services.assignment_declare(assignment=assignment, by=first, has_conflict=True, reason=" ")
    services.assignment_declare(assignment=assignment, by=first, has_conflict=True, reason="전 직장")

    replacement = services.assignment_replace(assignment=assignment, by=officer)

    assert replacement.reviewer == second
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.REPLACED


def test_affiliated_reviewer_declaring_no_conflict_is_recorded_conflicted(programme):
    phase = selection_phase(programme=programme)
    app = submitted_application(programme=programme)
    (reviewer,) = reviewers(1)
    assignment = assign(phase, app, reviewer, declared=False)
    affiliate(reviewer, app)
    services.assignment_declare(assignment=assignment, by=reviewer, has_conflict=False)
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.CONFLICTED
    assert assignment.declaration.automatic is True


def finalised_published(programme, officer):
    phase = selection_phase(programme=programme, teams_to_keep=1)
    pool = reviewers(3)
    app = submitted_application(programme=programme)
    for r in pool:
        submit_scores(assign(phase, app, r), sheet(30, 25, 20))
    services.phase_finalise(phase=phase, by=officer)
    services.phase_publish(phase=phase, by=officer)
    phase.refresh_from_db()
    return phase, app, pool


def test_appeal_upheld_reopens_scoring_then_refinalise(programme, officer, admin_user):
    phase, app, pool = finalised_published(programme, officer)
    applicant = app.consortium.lead_contact
    appeal = services.appeal_file(phase=phase, application=app, by=applicant, grounds="misreading", text="오독")
    with pytest.raises(DomainError):
        services.appeal_file(phase=phase, application=app, by=applicant, grounds="misreading", text="다시")
    services.appeal_decide(appeal=appeal, by=officer, upheld=True, reasons="평가 오류 확인")
    appeal.refresh_from_db()
    assert appeal.status == AppealStatus.UPHELD
    assignment = Assignment.objects.filter(phase=phase, reviewer=pool[0]).get()
    assert assignment.status == AssignmentStatus.ACTIVE

    services.assignment_save_scores(assignment=assignment, by=pool[0], scores={"technology": "40"}, submit=True)
    with pytest.raises(DomainError, match="not submitted"):
        services.phase_finalise(phase=phase, by=officer)
    for other in pool[1:]:  # the others confirm their sheets unchanged
        mine = Assignment.objects.get(phase=phase, reviewer=other)
        services.assignment_save_scores(assignment=mine, by=other, scores={}, submit=True)
    results = services.phase_finalise(phase=phase, by=officer)

    assert str(results[0].score) == "78.33"  # totals 85, 75, 75
    appeal.refresh_from_db()
    assert appeal.applied_at is not None
    phase.refresh_from_db()
    assert phase.status == PhaseStatus.FINALISED


def test_appeal_decided_only_by_officer_who_was_not_reviewer_and_window(programme, officer):
    phase, app, pool = finalised_published(programme, officer)
    other_officer = UserFactory(role="officer")
    Assignment.objects.create(phase=phase, application=app, reviewer=other_officer, status=AssignmentStatus.REPLACED)
    appeal = services.appeal_file(
        phase=phase, application=app, by=app.consortium.lead_contact, grounds="administrative", text="행정 오류"
    )
    with pytest.raises(DomainError, match="reviewer"):
        services.appeal_decide(appeal=appeal, by=other_officer, upheld=False, reasons="기각")
    services.appeal_decide(appeal=appeal, by=officer, upheld=False, reasons="근거 없음")
    with pytest.raises(DomainError):
        services.phase_make_final(phase=phase)
    phase.published_at = timezone.now() - timedelta(days=8)
    phase.save()
    services.phase_make_final(phase=phase)
    phase.refresh_from_db()
    assert phase.status == PhaseStatus.FINAL


def test_appeal_after_window_refused(programme, officer):
    phase, app, _pool = finalised_published(programme, officer)
    phase.published_at = timezone.now() - timedelta(days=7, minutes=1)
    phase.save()
    with pytest.raises(DomainError, match="closed"):
        services.appeal_file(
            phase=phase, application=app, by=app.consortium.lead_contact, grounds="misreading", text="x"
        )


def test_stage_phase_benchmark_panel_gate_end_to_end(programme, officer):
    selection, app, _pool = finalised_published(programme, officer)
    stage = stage_phase(programme=programme, teams_to_keep=1)
    pool = reviewers(3)
    for r in pool:
        submit_scores(assign(stage, app, r), {"expert": "30"})
    kmmlu, haerae = stage.objectives.order_by("id")
    services.benchmark_result_submit(
        objective=kmmlu, application=app, by=app.consortium.lead_contact, score="76", evidence="run log"
    )
    services.benchmark_result_submit(
        objective=haerae, application=app, by=app.consortium.lead_contact, score="45", evidence="run log"
    )
    with pytest.raises(InvalidInput) as bad:
        services.panel_scores_import(
            phase=stage, by=officer, csv_text="receipt_number,criterion,points\nNOPE,user,10\nX,user,99\n"
        )
    assert len(bad.value.details["errors"]) == 2
    receipt = app.versions.get().receipt_number
    assert (
        services.panel_scores_import(
            phase=stage, by=officer, csv_text=f"receipt_number,criterion,points\n{receipt},user,20.5\n"
        )
        == 1
    )
    with pytest.raises(DomainError, match="missing"):
        services.phase_finalise(phase=stage, by=officer)
    gate = Criterion.objects.get(phase=stage, key="originality")
    services.gate_decide(criterion=gate, application=app, by=officer, passed=False, reasons="해외 모델 미세조정")

    (result,) = services.phase_finalise(phase=stage, by=officer)

    # KMMLU 76/80 = 0.95 (met) -> share 1; HAERAE 45/60 = 0.75 -> 0.75/0.95; 40 * (1 + 0.789473..)/2 = 35.79
    assert result.details["criterion_means"]["benchmark"] == "35.79"
    assert [a["met"] for a in result.details["attainment"]] == [True, False]
    assert str(result.score) == "86.29"  # 30 + 35.79 + 20.5
    assert (result.passed, result.decision, result.details["gate_failed"]) == (False, Decision.ELIMINATED, True)
    assert GateDecision.objects.count() == 1


def test_selection_scoring_opens_only_after_the_deadline(programme, past_deadline_programme, officer):
    data = {
        "name": "선정",
        "teams_to_keep": 5,
        "scoring_opens_at": timezone.now(),
        "scoring_closes_at": timezone.now() + timedelta(days=3),
    }
    criteria = [{"key": "all", "name": "종합", "max_points": 100}]
    early = services.phase_create(programme=programme, by=officer, data=data, criteria=criteria)
    with pytest.raises(DomainError, match="deadline"):
        services.phase_open_scoring(phase=early, by=officer)
    late = services.phase_create(programme=past_deadline_programme, by=officer, data=data, criteria=criteria)
    assert services.phase_open_scoring(phase=late, by=officer).status == PhaseStatus.SCORING


def test_invited_reviewers_get_an_email(programme, officer, django_capture_on_commit_callbacks):
    from django.core import mail

    phase = selection_phase(programme=programme)
    pool = reviewers(2)
    with django_capture_on_commit_callbacks(execute=True):
        services.phase_invite_reviewers(phase=phase, by=officer, reviewers=pool)
    assert sorted(m.to[0] for m in mail.outbox) == sorted(r.email for r in pool)
    with django_capture_on_commit_callbacks(execute=True):
        services.phase_invite_reviewers(phase=phase, by=officer, reviewers=pool)  # already in the pool
    assert len(mail.outbox) == 2
