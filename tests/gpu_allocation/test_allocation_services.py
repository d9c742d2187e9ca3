"""Allocation runs through the services: inputs and digest, execution, reuse, failures, approval."""

from __future__ import annotations

import pytest

from gpu_allocation import policy
from gpu_allocation.enums import RunStatus
from gpu_allocation.models import Allocation, AllocationGrant, AllocationRun
from gpu_allocation.services import (
    MAX_ATTEMPTS,
    allocation_run_approve,
    allocation_run_execute,
    allocation_run_recover_stale,
    allocation_run_start,
    gpu_cluster_update,
)
from portal.errors import DomainError
from portal.models import AuditEntry
from tests.factories_allocation import allocation_setup, request_changed, stage_phase_eliminating

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english():
    """Messages in English, as the assertions are written (Korean is the portal's default)."""
    from django.utils import translation

    with translation.override("en"):
        yield


def rows_of(run: AllocationRun) -> list[tuple]:
    """The run's result rows as plain values: (application, GPUs, budget, ((cluster, nodes, gpus), ...))."""
    return [
        (a.application_id, a.total_gpus, a.budget, tuple((g.cluster_id, g.nodes, g.gpus) for g in a.grants.all()))
        for a in Allocation.objects.filter(run=run).prefetch_related("grants").order_by("rank")
    ]


def expected_rows(run: AllocationRun) -> list[tuple]:
    result = policy.allocate(*policy.inputs_from_dict(run.inputs))
    return [
        (t.team_id, t.total_gpus, t.budget, tuple((g.cluster_id, g.nodes, g.gpus) for g in t.grants))
        for t in result.teams
    ]


def start_and_execute(setup, officer) -> AllocationRun:
    run = allocation_run_start(programme=setup.programme, by=officer, enqueue=False)
    return allocation_run_execute(run_id=run.pk, sleep=lambda s: None)


def test_start_records_the_inputs_and_their_sha256(officer):
    setup = allocation_setup()
    run = allocation_run_start(programme=setup.programme, by=officer, enqueue=False)
    teams, clusters, settings = policy.inputs_from_dict(run.inputs)
    assert (run.status, run.progress, run.attempts, run.phase_id_snapshot) == (RunStatus.QUEUED, 0, 0, setup.phase.pk)
    assert run.inputs_sha256 == policy.inputs_digest(teams, clusters, settings)
    assert [t.id for t in sorted(teams, key=lambda t: t.rank)] == [a.pk for a in setup.applications]
    assert {c.name: (c.nodes, c.gpus_per_node, str(c.equivalence)) for c in clusters} == {
        "AI-HUB-A": (64, 8, "1"),
        "AI-HUB-B": (32, 8, "1.2"),
    }
    assert (settings.budget_envelope, settings.per_team_gpu_cap) == (22_000_000_000, 1000)
    assert AuditEntry.objects.filter(action="allocation_run.start", object_id=str(run.pk)).count() == 1


def test_execute_writes_one_allocation_per_team_equal_to_the_policy_result(officer):
    setup = allocation_setup()
    run = start_and_execute(setup, officer)
    assert (run.status, run.progress, run.attempts) == (RunStatus.SUCCEEDED, 100, 1)
    assert rows_of(run) == expected_rows(run)
    assert run.result == policy.allocate(*policy.inputs_from_dict(run.inputs)).to_dict()
    allocation = Allocation.objects.filter(run=run).order_by("rank").first()
    assert allocation.explanation_en and allocation.explanation_ko
    assert (allocation.gpu_cap, allocation.budget_min, allocation.budget_max) == (1000, 3_000_000_000, 5_000_000_000)
    # Per-cluster capacity holds: the pool has 64 + 32 nodes.
    for cluster in setup.clusters:
        used = sum(g.nodes for g in AllocationGrant.objects.filter(allocation__run=run, cluster=cluster))
        assert used <= cluster.nodes


def test_execute_twice_is_idempotent(officer):
    setup = allocation_setup()
    run = start_and_execute(setup, officer)
    again = allocation_run_execute(run_id=run.pk, sleep=lambda s: None)
    assert (again.status, again.attempts) == (RunStatus.SUCCEEDED, 1)
    assert Allocation.objects.filter(run=run).count() == 5
    assert rows_of(again) == expected_rows(run)


def test_an_interrupted_run_is_recomputed_on_the_next_attempt(officer):
    setup = allocation_setup()
    run = allocation_run_start(programme=setup.programme, by=officer, enqueue=False)
    # As a killed worker leaves it: running, one attempt counted, no result rows.
    AllocationRun.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING, attempts=1, progress=30)
    done = allocation_run_execute(run_id=run.pk, sleep=lambda s: None)
    assert (done.status, done.attempts) == (RunStatus.SUCCEEDED, 2)
    assert rows_of(done) == expected_rows(done)
    assert AuditEntry.objects.filter(action="allocation_run.retry", object_id=str(run.pk)).count() == 1


def test_a_run_fails_after_the_maximum_number_of_attempts(officer):
    setup = allocation_setup()
    run = allocation_run_start(programme=setup.programme, by=officer, enqueue=False)
    AllocationRun.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING, attempts=MAX_ATTEMPTS)
    done = allocation_run_execute(run_id=run.pk, sleep=lambda s: None)
    assert (done.status, done.attempts, done.result["error"]["code"]) == (
        RunStatus.FAILED,
        MAX_ATTEMPTS,
        "attempts_exhausted",
    )
    assert Allocation.objects.filter(run=run).count() == 0


def test_a_second_start_while_one_is_queued_is_refused_with_a_clear_message(officer):
    setup = allocation_setup()
    first = allocation_run_start(programme=setup.programme, by=officer, enqueue=False)
    with pytest.raises(DomainError) as refused:
        allocation_run_start(programme=setup.programme, by=officer, enqueue=False)
    assert refused.value.status_code == 409
    assert f"already queued or running (run #{first.pk}, Queued)" in refused.value.message
    assert AllocationRun.objects.filter(programme=setup.programme).count() == 1


def test_resubmitting_unchanged_inputs_reuses_the_earlier_result(officer):
    setup = allocation_setup()
    first = start_and_execute(setup, officer)
    second = allocation_run_start(programme=setup.programme, by=officer, enqueue=False)
    assert (second.status, second.reused_from_id, second.inputs_sha256) == (
        RunStatus.SUCCEEDED,
        first.pk,
        first.inputs_sha256,
    )
    assert second.result == first.result
    assert rows_of(second) == rows_of(first)
    assert AuditEntry.objects.filter(action="allocation_run.reuse", object_id=str(second.pk)).count() == 1


def test_changed_inputs_start_a_new_computation(officer):
    setup = allocation_setup()
    first = start_and_execute(setup, officer)
    request_changed(setup.applications[4], requested_gpus=128)
    second = allocation_run_start(programme=setup.programme, by=officer, enqueue=False)
    assert (second.status, second.reused_from_id) == (RunStatus.QUEUED, None)
    assert second.inputs_sha256 != first.inputs_sha256


def test_an_envelope_too_small_fails_the_run_with_the_explanation(officer):
    setup = allocation_setup(budget_envelope=12_000_000_000)
    run = start_and_execute(setup, officer)
    assert run.status == RunStatus.FAILED
    assert run.error == (
        "The data-budget envelope of 12,000,000,000 KRW cannot give each of the 5 active teams the minimum of "
        "3,000,000,000 KRW: that needs 15,000,000,000 KRW, 3,000,000,000 KRW more. Raise the envelope or lower the "
        "minimum, then run the allocation again."
    )
    assert run.result["error"]["code"] == "envelope_below_minimum"
    assert "30억 원" in run.result["error"]["ko"]
    assert Allocation.objects.filter(run=run).count() == 0
    assert AuditEntry.objects.filter(action="allocation_run.fail", object_id=str(run.pk)).count() == 1


def test_no_active_teams_refuses_to_start(officer, programme):
    with pytest.raises(DomainError, match="no active teams"):
        allocation_run_start(programme=programme, by=officer, enqueue=False)


def test_a_pool_shrunk_during_the_run_fails_it_under_the_cluster_lock(officer):
    setup = allocation_setup()
    run = allocation_run_start(programme=setup.programme, by=officer, enqueue=False)
    cluster = setup.clusters[0]
    gpu_cluster_update(cluster=cluster, by=officer, data={"nodes": 2})
    done = allocation_run_execute(run_id=run.pk, sleep=lambda s: None)
    assert (done.status, done.result["error"]["code"]) == (RunStatus.FAILED, "pool_changed")
    assert "AI-HUB-A has 2 nodes" in done.error
    assert Allocation.objects.filter(run=run).count() == 0


def test_approval_supersedes_the_previous_approved_run_and_keeps_history(officer):
    setup = allocation_setup()
    first = start_and_execute(setup, officer)
    allocation_run_approve(run=first, by=officer)
    request_changed(setup.applications[0], requested_gpus=640)
    second = start_and_execute(setup, officer)
    allocation_run_approve(run=second, by=officer, reason="요청 변경 반영")
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.approved_at is not None and first.superseded_at is not None
    assert second.approved_at is not None and second.superseded_at is None
    assert list(
        AuditEntry.objects.filter(action__in=["allocation_run.approve", "allocation_run.supersede"])
        .order_by("id")
        .values_list("action", "object_id")
    ) == [
        ("allocation_run.approve", str(first.pk)),
        ("allocation_run.supersede", str(first.pk)),
        ("allocation_run.approve", str(second.pk)),
    ]


@pytest.mark.parametrize("state", ["queued", "failed", "approved"])
def test_approval_is_refused_for_runs_that_cannot_be_approved(officer, state):
    setup = allocation_setup()
    if state == "queued":
        run = allocation_run_start(programme=setup.programme, by=officer, enqueue=False)
    elif state == "failed":
        setup.programme.budget_envelope = 1
        setup.programme.save()
        run = start_and_execute(setup, officer)
    else:
        run = start_and_execute(setup, officer)
        allocation_run_approve(run=run, by=officer)
    with pytest.raises(DomainError):
        allocation_run_approve(run=run, by=officer)


def test_a_run_of_an_earlier_phase_cannot_be_approved(officer):
    setup = allocation_setup()
    run = start_and_execute(setup, officer)
    stage_phase_eliminating(setup)
    with pytest.raises(DomainError, match="earlier phase"):
        allocation_run_approve(run=run, by=officer)


def test_after_an_elimination_a_new_run_redistributes_the_gpus(officer):
    setup = allocation_setup()
    first = start_and_execute(setup, officer)
    allocation_run_approve(run=first, by=officer)
    stage_phase_eliminating(setup, eliminated=2)
    second = start_and_execute(setup, officer)
    kept = {a.application_id for a in Allocation.objects.filter(run=second)}
    assert kept == {a.pk for a in setup.applications[:3]}
    before = {a.application_id: a.total_gpus for a in Allocation.objects.filter(run=first)}
    after = {a.application_id: a.total_gpus for a in Allocation.objects.filter(run=second)}
    assert sum(after.values()) >= sum(before[k] for k in kept)
    assert any(after[k] > before[k] for k in kept)


def test_shrinking_a_cluster_below_the_approved_grants_is_refused(officer):
    setup = allocation_setup()
    run = start_and_execute(setup, officer)
    allocation_run_approve(run=run, by=officer)
    with pytest.raises(DomainError, match="cannot have fewer nodes"):
        gpu_cluster_update(cluster=setup.clusters[1], by=officer, data={"nodes": 1})


@pytest.fixture
def eager_celery():
    """Tasks run in-process for this test, whether or not a broker is configured."""
    from portal.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


def test_recovery_re_enqueues_queued_runs_left_behind(officer, eager_celery):
    from datetime import timedelta

    from django.utils import timezone

    setup = allocation_setup()
    run = allocation_run_start(programme=setup.programme, by=officer, enqueue=False)
    assert allocation_run_recover_stale() == []
    # In-process Celery: the re-enqueued task executes the run at once.
    ids = allocation_run_recover_stale(now=timezone.now() + timedelta(minutes=5))
    run.refresh_from_db()
    assert (ids, run.status) == ([run.pk], RunStatus.SUCCEEDED)


def test_a_node_size_changed_during_the_run_fails_it_cleanly(officer):
    setup = allocation_setup()
    run = allocation_run_start(programme=setup.programme, by=officer, enqueue=False)
    gpu_cluster_update(cluster=setup.clusters[0], by=officer, data={"gpus_per_node": 4})
    done = allocation_run_execute(run_id=run.pk, sleep=lambda s: None)
    assert (done.status, done.result["error"]["code"]) == (RunStatus.FAILED, "pool_changed")
    assert "AI-HUB-A now has 4 GPUs per node, not 8" in done.error
    assert Allocation.objects.filter(run=run).count() == 0
