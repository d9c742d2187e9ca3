"""SPEC §5 through pages and the API: objectives are met by the exact ratio, and tie-breaks
compare exact criterion figures, not the two-place figures shown."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from evaluations import services
from tests.factories_evaluations import (
    assign,
    reviewers,
    selection_phase,
    stage_phase,
    submit_scores,
    submitted_application,
)

pytestmark = pytest.mark.django_db


def test_a_ratio_of_0_89996_is_not_met_and_0_9_exactly_is(past_deadline_programme, officer, client_for, api_for):
    programme = past_deadline_programme
    selection = selection_phase(programme=programme, teams_to_keep=2)
    team = submitted_application(programme=programme)
    for r in reviewers(3):
        submit_scores(assign(selection, team, r), {"technology": 30, "capability": 25, "impact": 20})
    services.phase_finalise(phase=selection, by=officer)
    stage = stage_phase(programme=programme)
    kmmlu, haerae = stage.objectives.order_by("benchmark").reverse()  # KMMLU (80), HAERAE (60)
    kmmlu.reference_score, kmmlu.target_ratio = Decimal("100"), Decimal("0.9")
    kmmlu.save()
    haerae.target_ratio = Decimal("0.9")
    haerae.save()

    lead = client_for(team.consortium.lead_contact)
    url = reverse("evaluations:benchmarks", args=[stage.pk, team.pk])
    for objective, score in ((kmmlu, "89.996"), (haerae, "54")):  # 0.89996 and exactly 0.9
        saved = lead.post(url, {"objective": objective.pk, "score": score, "evidence": "lm-eval 실행 기록"})
        assert saved.status_code == 302

    rows = api_for(officer).get(f"/api/v1/phases/{stage.pk}/ranking/").json()["results"]
    attainment = {a["benchmark"]: a for a in rows[0]["attainment"]}
    assert attainment["KMMLU"]["ratio"] == "0.9000" and attainment["KMMLU"]["met"] is False
    assert attainment["HAERAE"]["ratio"] == "0.9000" and attainment["HAERAE"]["met"] is True

    page = client_for(officer).get(reverse("evaluations:phase_ranking", args=[stage.pk])).content.decode()
    assert 'KMMLU 0.9000 <span class="text-danger">✘' in page
    assert 'HAERAE 0.9000 <span class="text-success">✔' in page


def test_means_that_differ_only_past_the_second_place_break_the_tie_the_right_way(
    past_deadline_programme, officer, api_for
):
    """Both teams total 75.00 and both technology figures show as 30.00; the exact figures are
    30.004 and 30.000, so the first team ranks higher (a two-place comparison would call it a
    tie waiting for an officer)."""
    phase = selection_phase(
        programme=past_deadline_programme,
        teams_to_keep=1,
        aggregation_method="mean",
        tie_break_criteria=["technology"],
        reviewers_per_application=25,
    )
    ahead, behind = (
        submitted_application(programme=past_deadline_programme),
        submitted_application(programme=past_deadline_programme),
    )
    people = reviewers(25)
    for i, reviewer in enumerate(people):
        nudge = i == 0
        submit_scores(
            assign(phase, ahead, reviewer),
            {"technology": 30.1 if nudge else 30, "capability": 24.9 if nudge else 25, "impact": 20},
        )
        submit_scores(assign(phase, behind, reviewer), {"technology": 30, "capability": 25, "impact": 20})

    rows = api_for(officer).get(f"/api/v1/phases/{phase.pk}/ranking/").json()["results"]
    by_id = {r["application_id"]: r for r in rows}
    assert by_id[ahead.pk]["score"] == by_id[behind.pk]["score"] == "75.00"
    assert by_id[ahead.pk]["criterion_means"]["technology"] == by_id[behind.pk]["criterion_means"]["technology"]
    assert (by_id[ahead.pk]["rank"], by_id[behind.pk]["rank"]) == (1, 2)
    assert by_id[ahead.pk]["tie_break"] == "criteria"
    assert (by_id[ahead.pk]["decision"], by_id[behind.pk]["decision"]) == ("selected", "reserve")
    assert api_for(officer).post(f"/api/v1/phases/{phase.pk}/finalise/", format="json").status_code == 200
