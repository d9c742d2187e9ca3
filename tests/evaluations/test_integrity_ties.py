"""SPEC §5: ties the tie-break criteria cannot break are settled by one recorded officer
decision ordering the whole tied block, whatever its size; finalisation never deadlocks."""

from __future__ import annotations

import pytest
from django.urls import reverse

from evaluations.models import PhaseResult
from portal.models import AuditEntry
from tests.factories_evaluations import assign, reviewers, selection_phase, submit_scores, submitted_application

pytestmark = pytest.mark.django_db

SAME = {"technology": 32, "capability": 24, "impact": 21}  # 77 for everyone


def _tied_phase(programme, *, size: int, teams_to_keep: int):
    phase = selection_phase(programme=programme, teams_to_keep=teams_to_keep)
    applications = [submitted_application(programme=programme) for _ in range(size)]
    (reviewer,) = reviewers(1)
    for application in applications:
        submit_scores(assign(phase, application, reviewer), SAME)
    return phase, applications


def test_a_three_way_tie_is_settled_on_the_ranking_page_and_the_phase_finalises(programme, officer, client_for):
    phase, (a, b, c) = _tied_phase(programme, size=3, teams_to_keep=2)
    client = client_for(officer)
    url = reverse("evaluations:phase_ranking", args=[phase.pk])
    assert client.get(url).status_code == 200

    refused = client.post(
        reverse("evaluations:phase_action", args=[phase.pk, "finalise"]), {"confirm": "yes"}, follow=True
    )
    assert not PhaseResult.objects.filter(phase=phase).exists()
    assert "동점" in refused.content.decode()

    decided = client.post(url, {"order": f"{c.pk}, {a.pk}, {b.pk}", "reason": "위원회 합의: 공개 계획의 구체성"})
    assert decided.status_code == 302
    entry = AuditEntry.objects.filter(action="tie_break.decide").latest("id")
    assert entry.reason == "위원회 합의: 공개 계획의 구체성"

    client.post(reverse("evaluations:phase_action", args=[phase.pk, "finalise"]), {"confirm": "yes"})
    results = {r.application_id: (r.rank, r.decision) for r in PhaseResult.objects.filter(phase=phase)}
    assert results == {c.pk: (1, "selected"), a.pk: (2, "selected"), b.pk: (3, "reserve")}


def test_a_four_way_tie_is_settled_through_the_api_and_the_phase_finalises(programme, officer, api_for):
    phase, apps = _tied_phase(programme, size=4, teams_to_keep=1)
    client = api_for(officer)
    order = [apps[2].pk, apps[0].pk, apps[3].pk, apps[1].pk]
    assert client.post(f"/api/v1/phases/{phase.pk}/finalise/", format="json").status_code == 409

    partial = client.post(
        f"/api/v1/phases/{phase.pk}/tie-break/",
        {"ordered_application_ids": order[:2], "reason": "두 팀만"},
        format="json",
    )
    assert partial.status_code == 400  # the whole block, not a pair

    done = client.post(
        f"/api/v1/phases/{phase.pk}/tie-break/",
        {"ordered_application_ids": order, "reason": "위원회 결정"},
        format="json",
    )
    assert done.status_code == 204
    assert client.post(f"/api/v1/phases/{phase.pk}/finalise/", format="json").status_code == 200
    ranked = list(
        PhaseResult.objects.filter(phase=phase)
        .order_by("rank")
        .values_list("application_id", "rank", "decision", "reserve_rank")
    )
    assert ranked == [
        (order[0], 1, "selected", None),
        (order[1], 2, "reserve", 1),
        (order[2], 3, "reserve", 2),
        (order[3], 4, "reserve", 3),
    ]


def test_selected_teams_sharing_a_score_need_an_order_before_finalising(programme, officer, api_for):
    """Both selected, but their rank decides their GPUs: an officer orders them too."""
    phase, (a, b) = _tied_phase(programme, size=2, teams_to_keep=5)
    client = api_for(officer)
    refused = client.post(f"/api/v1/phases/{phase.pk}/finalise/", format="json")
    assert refused.status_code == 409
    assert (
        client.post(
            f"/api/v1/phases/{phase.pk}/tie-break/",
            {"ordered_application_ids": [b.pk, a.pk], "reason": "결정"},
            format="json",
        ).status_code
        == 204
    )
    assert client.post(f"/api/v1/phases/{phase.pk}/finalise/", format="json").status_code == 200
    assert dict(PhaseResult.objects.filter(phase=phase).values_list("application_id", "rank")) == {b.pk: 1, a.pk: 2}
