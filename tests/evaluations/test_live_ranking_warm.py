"""A submitted sheet has a real worker recompute the live ranking into the cache, so the
officer's next look at the ranking page reads it instead of computing it (SPEC §10)."""

import time

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from evaluations import services
from evaluations.enums import AssignmentStatus
from evaluations.models import Assignment, Phase
from evaluations.ranking_cache import live_ranking_key
from evaluations.services.scores import _live_ranking_changed
from tests.factories_evaluations import bulk_selection_phase

pytestmark = pytest.mark.worker


def ranking_queries(client, phase) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(reverse("evaluations:phase_ranking", args=[phase.pk]))
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_a_submitted_sheet_has_the_worker_store_the_new_live_ranking(
    celery_worker_process, settings, programme, officer, client_for
):
    settings.EVALUATIONS_WARM_LIVE_RANKING = True
    phase = bulk_selection_phase(programme=programme, applications=40)
    client = client_for(officer)
    cache.clear()
    computed = ranking_queries(client, phase)  # nothing cached: the page computes
    cached = ranking_queries(client, phase)  # now read back
    assert cached < computed

    assignment = Assignment.objects.filter(phase=phase).order_by("id").first()
    Assignment.objects.filter(pk=assignment.pk).update(status=AssignmentStatus.ACTIVE, submitted_at=None)
    scores = {s.criterion.key: str(s.criterion.max_points) for s in assignment.scores.select_related("criterion")}
    services.assignment_save_scores(assignment=assignment, by=assignment.reviewer, scores=scores, submit=True)
    key = live_ranking_key(phase=Phase.objects.get(pk=phase.pk)).key  # as the page reads it
    deadline = time.monotonic() + 30
    while cache.get(key) is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert cache.get(key) is not None, "the worker did not store the ranking after the sheet was submitted"
    assert ranking_queries(client, phase) == cached


def test_nothing_is_queued_once_the_phase_is_frozen_or_when_switched_off(db, settings, programme):
    from portal.models import OutboxMessage

    phase = bulk_selection_phase(programme=programme, applications=2)
    settings.EVALUATIONS_WARM_LIVE_RANKING = False
    _live_ranking_changed(phase)
    assert not OutboxMessage.objects.filter(task_name="evaluations.warm_live_ranking").exists()
    settings.EVALUATIONS_WARM_LIVE_RANKING = True
    _live_ranking_changed(phase)
    assert OutboxMessage.objects.filter(task_name="evaluations.warm_live_ranking").count() == 1
    phase.status = "finalised"
    _live_ranking_changed(phase)
    assert OutboxMessage.objects.filter(task_name="evaluations.warm_live_ranking").count() == 1
