"""Allocation runs and SPEC §6 through HTTP: a run refuses to start while active teams share a rank
(page and API, 409, nothing created), and a team with a GPU-supplier member organisation (not only
the lead) receives no GPUs, says why, and the drafting checklist shows the rule."""

from __future__ import annotations

from decimal import Decimal

import pytest

from consortia.enums import MemberRole
from evaluations.enums import Decision
from evaluations.models import PhaseResult, TieBreakDecision
from gpu_allocation.models import AllocationRun
from gpu_allocation.services import allocation_run_execute
from portal.enums import GpuSupplierRule
from portal.models import AuditEntry
from tests.factories import ProgrammeFactory, UserFactory
from tests.factories_allocation import demo_pool, finalised_phase
from tests.factories_consortia import ApplicationFactory, submitted_application

pytestmark = pytest.mark.django_db

TEAMS = [("91.50", 1000), ("88.20", 768), ("84.00", 512), ("80.75", 384)]


def evaluated_teams(programme, ranks, *, decisions=None, scores=None, means=None, reserve=None):
    """Submitted applications of ``programme`` (their versions carry the requests) with a finalised
    phase ranking them ``ranks``; all selected unless ``decisions`` says otherwise. ``scores`` and
    ``means`` (criterion means, for tie-breaks) override the defaults per application."""
    demo_pool(programme)
    applications = [
        submitted_application(programme=programme, requested_gpus=gpus, requested_budget=4_000_000_000)
        for _, gpus in TEAMS[: len(ranks)]
    ]
    phase = finalised_phase(programme)
    for i, (application, rank) in enumerate(zip(applications, ranks, strict=True)):
        decision = (decisions or {}).get(i, Decision.SELECTED)
        PhaseResult.objects.create(
            phase=phase,
            application=application,
            version=application.versions.get(),
            score=Decimal((scores or {}).get(i, TEAMS[i][0])),
            rank=rank,
            passed=True,
            decision=decision,
            reserve_rank=(reserve or {}).get(i),
            details={
                "criteria": [{"key": "technology", "name": "Technology"}, {"key": "data", "name": "Data"}],
                "criterion_means": (means or {}).get(i, {}),
            },
        )
    return phase, applications


def supplier_member(application):
    """Flag the consortium's non-lead member organisation (the university) as a GPU supplier."""
    member = application.consortium.members.exclude(role=MemberRole.LEAD).select_related("organisation").get()
    member.organisation.is_gpu_supplier = True
    member.organisation.save()
    assert not application.consortium.lead_organisation.is_gpu_supplier
    return member.organisation


# --------------------------------------------------------------------------------------------
# Undecided ranks
# --------------------------------------------------------------------------------------------


def test_api_start_is_refused_with_the_tied_teams_and_the_ranking_link_while_ranks_are_shared(api_for, officer):
    programme = ProgrammeFactory()
    phase, applications = evaluated_teams(programme, [1, 2, 2, 4])
    audit_before = AuditEntry.objects.count()

    response = api_for(officer).post(f"/api/v1/programmes/{programme.pk}/allocation-runs/", HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "ranks_undecided"
    ranking = f"/evaluations/phases/{phase.pk}/ranking/"
    assert body["ranking_url"] == ranking
    tied = [applications[1].consortium.name, applications[2].consortium.name]
    assert f"rank 2: {tied[0]}, {tied[1]}" in body["detail"]
    assert ranking in body["detail"]
    assert applications[0].consortium.name not in body["detail"]
    assert body["ties"] == [
        {
            "rank": 2,
            "teams": [{"application_id": a.pk, "consortium": a.consortium.name} for a in applications[1:3]],
        }
    ]
    assert AllocationRun.objects.count() == 0
    assert AuditEntry.objects.count() == audit_before


def test_page_start_answers_409_naming_the_tie_and_linking_to_the_ranking(client_for, officer):
    programme = ProgrammeFactory()
    phase, applications = evaluated_teams(programme, [1, 1, 1, 4])

    response = client_for(officer).post(f"/allocation/programmes/{programme.pk}/runs/start/")

    assert response.status_code == 409
    page = response.content.decode()
    assert 'data-testid="run-refused"' in page
    for application in applications[:3]:
        assert application.consortium.name in page
    assert f'href="/evaluations/phases/{phase.pk}/ranking/"' in page
    assert AllocationRun.objects.count() == 0


def test_a_shared_rank_outside_the_active_teams_does_not_block_a_run(api_for, officer):
    """The reserve team shares rank 3 with nobody active: only the active teams' ranks matter."""
    programme = ProgrammeFactory()
    evaluated_teams(programme, [1, 2, 3, 3], decisions={3: Decision.RESERVE})

    response = api_for(officer).post(f"/api/v1/programmes/{programme.pk}/allocation-runs/")

    assert response.status_code == 202
    assert AllocationRun.objects.count() == 1


# --------------------------------------------------------------------------------------------
# GPU suppliers among the member organisations
# --------------------------------------------------------------------------------------------


def run_and_read(api, programme):
    started = api.post(f"/api/v1/programmes/{programme.pk}/allocation-runs/", HTTP_ACCEPT_LANGUAGE="en")
    assert started.status_code == 202, started.json()
    allocation_run_execute(run_id=started.json()["id"])  # what the worker does with the queued run
    detail = api.get(f"/api/v1/allocation-runs/{started.json()['id']}/", HTTP_ACCEPT_LANGUAGE="en")
    assert detail.status_code == 200 and detail.json()["status"] == "succeeded"
    return {a["application"]: a for a in detail.json()["allocations"]}


def test_a_team_whose_member_organisation_supplies_gpus_gets_none_and_is_told_why(api_for, officer):
    programme = ProgrammeFactory()
    _, applications = evaluated_teams(programme, [1, 2, 3, 4])
    organisation = supplier_member(applications[0])

    allocations = run_and_read(api_for(officer), programme)

    first = allocations[applications[0].pk]
    assert first["total_gpus"] == 0 and first["grants"] == []
    assert str(organisation) in first["explanation_en"]
    assert "any of its member organisations supplies GPUs" in first["explanation_en"]
    assert str(organisation) in first["explanation_ko"]
    assert first["budget"] >= programme.budget_min
    assert all(allocations[a.pk]["total_gpus"] > 0 for a in applications[1:])


def test_the_lead_only_setting_lets_a_team_with_a_supplier_member_receive_gpus(api_for, officer):
    programme = ProgrammeFactory(gpu_supplier_rule=GpuSupplierRule.LEAD_ONLY)
    _, applications = evaluated_teams(programme, [1, 2])
    supplier_member(applications[0])

    allocations = run_and_read(api_for(officer), programme)

    assert allocations[applications[0].pk]["total_gpus"] > 0
    assert "supplies GPUs" not in allocations[applications[0].pk]["explanation_en"]


def test_the_drafting_checklist_shows_the_supplier_rule_without_blocking(api_for, client_for):
    application = ApplicationFactory()
    organisation = supplier_member(application)
    lead = application.consortium.lead_contact

    checklist = api_for(lead).get(f"/api/v1/applications/{application.pk}/checklist/", HTTP_ACCEPT_LANGUAGE="en").json()

    item = next(i for i in checklist if i["key"] == "gpu_supplier")
    assert item["ok"] is False and item["blocking"] is False
    assert "any of its member organisations supplies GPUs" in item["label"]
    assert str(organisation) in item["message"]
    page = client_for(lead).get(f"/consortia/applications/{application.pk}/review/").content.decode()
    assert "참여 기관 중 하나라도 GPU를 공급하는 동안 팀은 GPU를 배분받지 않음" in page
    assert str(organisation) in page


# --------------------------------------------------------------------------------------------
# Tie-breaks and passing teams that were not selected, in the run's explanations
# --------------------------------------------------------------------------------------------


def test_a_tie_broken_by_a_criterion_is_explained_with_the_criterion_and_both_means(api_for, officer):
    programme = ProgrammeFactory()
    phase, applications = evaluated_teams(
        programme,
        [1, 2, 3],
        scores={0: "85.00", 1: "85.00"},
        means={0: {"technology": "30.12", "data": "20.1"}, 1: {"technology": "30.12", "data": "19.95"}},
    )
    phase.tie_break_criteria = ["technology", "data"]
    phase.save()

    allocations = run_and_read(api_for(officer), programme)

    first, second = (allocations[a.pk]["explanation_en"] for a in applications[:2])
    other, mine = applications[1].consortium.name, applications[0].consortium.name
    assert (
        f"Rank 1: its phase score of 85 equals that of 1 other application; against {other}, the tie-break "
        "criterion Data decided (mean 20.1 against 19.95), so it ranks above." in first
    )
    assert (
        f"against {mine}, the tie-break criterion Data decided (mean 19.95 against 20.1), so it ranks below" in second
    )
    assert "equals that of" not in allocations[applications[2].pk]["explanation_en"]


def test_a_tie_settled_by_the_officer_is_explained_with_the_recorded_reason(api_for, officer):
    programme = ProgrammeFactory()
    phase, applications = evaluated_teams(programme, [1, 2], scores={0: "85.00", 1: "85.00"})
    phase.tie_break_criteria = ["technology"]
    phase.save()
    TieBreakDecision.objects.create(
        phase=phase,
        ordered_application_ids=[applications[0].pk, applications[1].pk],
        reason="Stronger open-source plan in the presentation",
        decided_by=UserFactory(role="officer"),
    )

    allocations = run_and_read(api_for(officer), programme)

    second = allocations[applications[1].pk]["explanation_en"]
    assert (
        f"against {applications[0].consortium.name}, the tie-break criteria could not separate them and an "
        "officer's recorded decision set the order (reason: Stronger open-source plan in the presentation), so it "
        "ranks below" in second
    )
    assert "Stronger open-source plan" in allocations[applications[1].pk]["explanation_ko"]


def test_a_passing_team_that_was_not_selected_gets_its_own_sentence(api_for, client_for, officer):
    programme = ProgrammeFactory()
    _, applications = evaluated_teams(programme, [1, 2, 3], decisions={2: Decision.RESERVE}, reserve={2: 1})
    api = api_for(officer)

    allocations = run_and_read(api, programme)

    reserve = applications[2]
    assert reserve.pk not in allocations
    run = AllocationRun.objects.get()
    detail = api.get(f"/api/v1/allocation-runs/{run.pk}/").json()
    [entry] = detail["inputs"]["passing_not_selected"]
    assert entry["application_id"] == reserve.pk
    assert entry["en"] == (
        "It passed the phase with a score of 84 (rank 3) but is not among the 2 teams selected or kept (the phase "
        "keeps at most 5). It is number 1 on the reserve list and moves up only if a selected team withdraws. Only "
        "selected or kept teams take part in an allocation run, so it receives no GPUs and no data budget."
    )
    page = client_for(officer).get(f"/allocation/runs/{run.pk}/").content.decode()
    assert 'data-testid="passing-not-selected"' in page
    assert reserve.consortium.name in page and "예비 순위 1번" in page
