"""The ranking page's lazy frozen ranking and database-counted charts give the same
figures as building every row in Python (SPEC §10: pages do constant work per row shown)."""

import time
from decimal import Decimal

import pytest
from django.utils import timezone

from evaluations import services
from evaluations.enums import ACTIVE_DECISIONS, AssignmentStatus, CriterionSource, Decision, PhaseStatus
from evaluations.models import Assignment, PhaseResult, Score
from evaluations.ranking import (
    CachedLiveRanking,
    FrozenRanking,
    LiveRanking,
    criterion_score_distribution,
    phase_ranking_rows,
    phase_ranking_source,
)
from tests.factories_evaluations import (
    bulk_selection_phase,
    decide_all_ties,
    stage_phase,
    submitted_application,
)

pytestmark = pytest.mark.django_db


def reference_distribution(phase, criteria):
    """Every figure read into Python and banded one by one."""
    bands = {c.id: [0, 0, 0, 0, 0] for c in criteria}
    maxima = {c.id: c.max_points for c in criteria}

    def add(criterion_id, value):
        top = maxima.get(criterion_id)
        if top:
            bands[criterion_id][min(4, int(value / top * 5))] += 1

    for criterion_id, value in Score.objects.filter(
        assignment__phase=phase, assignment__status=AssignmentStatus.SUBMITTED
    ).values_list("criterion_id", "value"):
        add(criterion_id, value)
    for details in PhaseResult.objects.filter(phase=phase).values_list("details", flat=True):
        for c in criteria:
            if c.source != CriterionSource.EXPERT:
                figure = (details.get("criterion_means") or {}).get(c.key)
                if figure is not None:
                    add(c.id, Decimal(figure))
    return bands


def test_frozen_ranking_pages_and_summaries_match_the_full_rows(programme, officer):
    phase = bulk_selection_phase(programme=programme, applications=120)
    criteria = [c for c in phase.criteria.all() if not c.is_gate]
    live, snapshot = phase_ranking_source(phase=phase)
    assert isinstance(live, LiveRanking) and snapshot is not None
    assert criterion_score_distribution(phase=phase, criteria=criteria) == reference_distribution(phase, criteria)

    decide_all_ties(phase, officer)
    services.phase_finalise(phase=phase, by=officer)
    phase.refresh_from_db()
    full, _ = phase_ranking_rows(phase=phase)
    lazy, snapshot = phase_ranking_source(phase=phase)
    assert isinstance(lazy, FrozenRanking) and snapshot is None
    assert len(lazy) == len(full) == 120
    assert lazy[50:100] == full[50:100] and lazy[0] == full[0] and list(lazy) == full
    assert lazy.scored_top(50) == [r for r in full if r.score is not None][:50]
    active = [r for r in full if r.decision in ACTIVE_DECISIONS]
    assert active and lazy.last_active_id() == active[-1].application_id
    assert LiveRanking(full).last_active_id() == lazy.last_active_id()
    assert criterion_score_distribution(phase=phase, criteria=criteria) == reference_distribution(phase, criteria)
    assert sum(sum(b) for b in reference_distribution(phase, criteria).values()) == 120 * 5 * len(criteria)

    # The frozen phase's bands are cached; re-opening a sheet (an upheld appeal) and
    # re-submitting it with other scores give new figures at once.
    assignment = Assignment.objects.filter(phase=phase, status=AssignmentStatus.SUBMITTED).order_by("id").first()
    Assignment.objects.filter(pk=assignment.pk).update(status=AssignmentStatus.ACTIVE, submitted_at=None)
    reopened = criterion_score_distribution(phase=phase, criteria=criteria)
    assert reopened == reference_distribution(phase, criteria)
    assert sum(sum(b) for b in reopened.values()) == (120 * 5 - 1) * len(criteria)
    assignment.scores.update(value=Decimal("0"))
    Assignment.objects.filter(pk=assignment.pk).update(status=AssignmentStatus.SUBMITTED, submitted_at=timezone.now())
    resubmitted = criterion_score_distribution(phase=phase, criteria=criteria)
    assert resubmitted == reference_distribution(phase, criteria)
    assert all(resubmitted[c.id][0] >= 1 for c in criteria)


def test_distribution_of_frozen_benchmark_and_panel_figures_is_counted_in_the_database(programme):
    phase = stage_phase(programme=programme, status=PhaseStatus.FINAL)
    criteria = [c for c in phase.criteria.all() if not c.is_gate]
    figures = ["0", "7.9", "8.0", "8.1", "23.99", "24", "39.999", "40", None]
    for i, figure in enumerate(figures):
        application = submitted_application(programme=programme)
        means = {"expert": "30.0"}
        if figure is not None:
            means["benchmark"] = figure
            means["user"] = str(Decimal(figure) * Decimal("25") / Decimal("40"))
        PhaseResult.objects.create(
            phase=phase, application=application, rank=i + 1, score=Decimal("50"), passed=True,
            decision=Decision.SELECTED, details={"criterion_means": means},
        )  # fmt: skip
    got = criterion_score_distribution(phase=phase, criteria=criteria)
    assert got == reference_distribution(phase, criteria)
    benchmark = next(c for c in criteria if c.key == "benchmark")
    assert got[benchmark.id] == [2, 2, 1, 1, 2]


def test_live_ranking_is_cached_until_an_input_changes(programme, monkeypatch):
    import evaluations.ranking_cache

    monkeypatch.setattr(evaluations.ranking_cache, "LIVE_STAMP_SECONDS", 1)
    phase = bulk_selection_phase(programme=programme, applications=120)
    computed, snapshot = phase_ranking_source(phase=phase)
    assert isinstance(computed, LiveRanking) and snapshot is not None
    cached, summary = phase_ranking_source(phase=phase)
    assert isinstance(cached, CachedLiveRanking)
    assert len(cached) == len(computed) == 120
    assert cached[0:50] == computed[0:50] and cached[50:100] == computed[50:100]
    assert cached[30:75] == computed[30:75] and cached[100:150] == computed[100:120] and cached[7] == computed[7]
    assert list(cached) == list(computed)
    assert cached.scored_top(50) == computed.scored_top(50)
    assert cached.last_active_id() == computed.last_active_id()
    assert summary.result.ready_to_finalise == snapshot.result.ready_to_finalise
    assert summary.result.needs_officer_decision == snapshot.result.needs_officer_decision
    ids = [i for g in snapshot.result.needs_officer_decision for i in g.application_ids]
    assert cached.rows_by_id(ids) == computed.rows_by_id(ids)
    criteria = [c for c in phase.criteria.all() if not c.is_gate]
    assert cached.score_bands(phase=phase, criteria=criteria) == reference_distribution(phase, criteria)

    # A sheet re-opened behind the portal's back (no service forgets the inputs' stamp):
    # once the stamp's seconds have passed, the ranking is computed again and shows it.
    assignment = Assignment.objects.filter(phase=phase, status=AssignmentStatus.SUBMITTED).order_by("id").first()
    Assignment.objects.filter(pk=assignment.pk).update(status=AssignmentStatus.ACTIVE, submitted_at=None)
    time.sleep(1.2)
    recomputed, _ = phase_ranking_source(phase=phase)
    assert isinstance(recomputed, LiveRanking)
    row = recomputed.rows_by_id([assignment.application_id])[assignment.application_id]
    assert len(row.reviewer_totals) == 4
    assert cached.score_bands(phase=phase, criteria=criteria) != reference_distribution(phase, criteria)
    again, _ = phase_ranking_source(phase=phase)
    assert isinstance(again, CachedLiveRanking)
    assert again.score_bands(phase=phase, criteria=criteria) == reference_distribution(phase, criteria)


def test_live_chart_bands_count_benchmark_and_panel_points_as_the_frozen_chart_does(programme, officer):
    """The ranking page's distribution chart is counted from the live snapshot in memory
    (no second pass over the scores); finalising must not change what it shows."""
    from tests.factories_evaluations import assign, reviewers, selection_phase, submit_scores

    pool = reviewers(3)
    selection = selection_phase(programme=programme, teams_to_keep=4)
    apps = [submitted_application(programme=programme, title=f"팀 {i}") for i in range(4)]
    for i, app in enumerate(apps):
        for r in pool:
            submit_scores(assign(selection, app, r), {"technology": 35 - i, "capability": 20, "impact": 20})
    services.phase_finalise(phase=selection, by=officer)
    services.phase_publish(phase=selection, by=officer)
    stage = stage_phase(programme=programme, teams_to_keep=2)
    gate = stage.criteria.get(key="originality")
    kmmlu, haerae = stage.objectives.order_by("id")
    lines = ["receipt_number,criterion,points"]
    for i, (expert, kmmlu_score, haerae_score, panel) in enumerate(
        [("30", "76", "45", "20.5"), ("7", "20", "10", "4.9"), ("17.5", "80", "60", "25"), ("0", "0", "0", "0")]
    ):
        app = apps[i]
        for r in pool:
            submit_scores(assign(stage, app, r), {"expert": expert})
        lead = app.consortium.lead_contact
        services.benchmark_result_submit(objective=kmmlu, application=app, by=lead, score=kmmlu_score, evidence="log")
        services.benchmark_result_submit(objective=haerae, application=app, by=lead, score=haerae_score, evidence="l")
        services.gate_decide(criterion=gate, application=app, by=officer, passed=True, reasons="자체 개발 확인")
        lines.append(f"{app.versions.get().receipt_number},user,{panel}")
    services.panel_scores_import(phase=stage, by=officer, csv_text="\n".join(lines) + "\n")
    criteria = [c for c in stage.criteria.order_by("order", "id") if not c.is_gate]

    live, _snapshot = phase_ranking_source(phase=stage)
    assert isinstance(live, LiveRanking)
    live_bands = live.score_bands(phase=stage, criteria=criteria)
    cached, _summary = phase_ranking_source(phase=stage)
    assert isinstance(cached, CachedLiveRanking)
    assert cached.score_bands(phase=stage, criteria=criteria) == live_bands
    by_key = {c.key: live_bands[c.id] for c in criteria}
    assert by_key["expert"] == [3, 3, 3, 0, 3]  # 0, 7 (20 %), 17.5 (50 %), 30 (85.7 %): three sheets each
    assert by_key["user"] == [2, 0, 0, 0, 2]  # 0 and 4.9 (19.6 %) in the first fifth; 20.5 (82 %), 25
    assert sum(by_key["benchmark"]) == 4

    services.phase_finalise(phase=stage, by=officer)
    stage.refresh_from_db()
    frozen, snapshot = phase_ranking_source(phase=stage)
    assert isinstance(frozen, FrozenRanking) and snapshot is None
    assert frozen.score_bands(phase=stage, criteria=criteria) == live_bands
