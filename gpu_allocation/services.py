"""Writes of the allocation part of ``gpu_allocation``: the GPU pool, allocation runs, approval.

Every write is atomic and audited. The flow of a run (SPEC §6, docs/allocation-runs.md):

1. :func:`allocation_run_start` snapshots the policy inputs from the database (active teams of
   the latest finalised phase, the programme's active clusters, the programme's numbers), stores
   them as canonical JSON with their SHA-256 and either *reuses* the result of an earlier
   succeeded run with the same digest (a new succeeded run with ``reused_from``; no task) or
   creates a *queued* run and publishes :func:`gpu_allocation.tasks.allocation_run_execute_task`
   through the outbox (:func:`enqueue_run`). The partial unique constraint
   ``run_one_active_per_programme`` guarantees at most one queued or running run per
   programme; a second start is refused with a 409.
2. :func:`allocation_run_execute` (in the worker) is idempotent: it locks the run row, returns at
   once if the run is final, counts the attempt (failing the run after ``MAX_ATTEMPTS``), computes
   the policy from the *stored* inputs, reports progress on the row, and writes every
   ``Allocation``/``AllocationGrant`` row and the final state in one transaction that re-checks
   the run's state and each cluster's capacity under row locks. A worker killed mid-run leaves the
   run ``running`` with no result rows; the redelivered task recomputes the same result.
3. :func:`allocation_run_approve` supersedes the approved run in force (history kept).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import Q, Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from consortia.models import Application
from evaluations.selectors import active_teams_for_allocation
from gpu_allocation import policy, selectors
from gpu_allocation.enums import RUN_ACTIVE_STATES, RUN_FINAL_STATES, RunStatus
from gpu_allocation.models import Allocation, AllocationGrant, AllocationRun, GpuCluster, GpuReclaim, ReclaimState
from gpu_allocation.workflow import run_move
from portal.audit import audit_changes, audit_record, model_snapshot
from portal.errors import DomainError
from portal.korean import particles
from portal.models import Programme
from portal.outbox import outbox_publish, outbox_publish_now

logger = logging.getLogger(__name__)

#: A run is failed (and never retried again) once this many executions have started.
MAX_ATTEMPTS = 3
#: Test and demonstration hook: seconds to sleep between progress steps, read by the worker from
#: its environment, so that a test can kill a worker in the middle of a run. Unset in production.
STEP_DELAY_ENV = "ALLOCATION_TEST_DELAY_SECONDS"
#: A queued run not picked up after this long is re-enqueued by :func:`allocation_run_recover_stale`.
QUEUED_STALE_AFTER = timedelta(minutes=2)
#: PostgreSQL's SQLSTATE for ``lock_not_available`` (a ``NOWAIT`` lock held by another transaction).
LOCK_NOT_AVAILABLE = "55P03"

CLUSTER_FIELDS = [
    "name",
    "gpu_model",
    "nodes",
    "gpus_per_node",
    "equivalence",
    "period_start",
    "period_end",
    "is_active",
]


# --------------------------------------------------------------------------------------------
# GPU pool
# --------------------------------------------------------------------------------------------


def _granted_nodes_in_force(*, cluster: GpuCluster) -> int:
    """Nodes of ``cluster`` granted by the approved allocation in force of its programme."""
    total = AllocationGrant.objects.filter(
        cluster=cluster,
        allocation__run__approved_at__isnull=False,
        allocation__run__superseded_at__isnull=True,
    ).aggregate(n=Sum("nodes"))["n"]
    return total or 0


@transaction.atomic
def gpu_cluster_create(*, programme: Programme, by, data: dict[str, Any]) -> GpuCluster:
    """Add a cluster to the programme's pool. Capacity is ``nodes × gpus_per_node``."""
    cluster = GpuCluster(programme=programme, **data)
    cluster.full_clean()
    cluster.save()
    audit_record(action="gpu_cluster.create", obj=cluster, actor=by, after=model_snapshot(cluster, CLUSTER_FIELDS))
    return cluster


@transaction.atomic
def gpu_cluster_update(*, cluster: GpuCluster, by, data: dict[str, Any]) -> GpuCluster:
    """Change a cluster. Under the cluster's row lock, refuses (409) to shrink it below the nodes
    the approved allocation in force grants on it, or to change its node size while it has grants."""
    cluster = GpuCluster.objects.select_for_update().get(pk=cluster.pk)
    before = model_snapshot(cluster, CLUSTER_FIELDS)
    for name, value in data.items():
        setattr(cluster, name, value)
    cluster.full_clean()
    granted = _granted_nodes_in_force(cluster=cluster)
    if granted and (cluster.nodes < granted or not cluster.is_active):
        raise DomainError(
            _(
                "%(cluster)s: the approved allocation in force grants %(nodes)s nodes on this cluster, so it cannot "
                "have fewer nodes or leave the pool. Approve a new allocation first."
            )
            % {"cluster": cluster.name, "nodes": granted},
            code="cluster_in_use",
        )
    if granted and cluster.gpus_per_node != before["gpus_per_node"]:
        raise DomainError(
            _(
                "%(cluster)s: the approved allocation in force grants whole nodes of %(size)s GPUs on this cluster, "
                "so its node size cannot change. Approve a new allocation first."
            )
            % {"cluster": cluster.name, "size": before["gpus_per_node"]},
            code="cluster_in_use",
        )
    cluster.save()
    audit_changes(
        action="gpu_cluster.update", obj=cluster, actor=by, before=before, after=model_snapshot(cluster, CLUSTER_FIELDS)
    )
    return cluster


# --------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------


def _refuse_undecided_ranks(active: list) -> None:
    """Refuse (409) while two or more active teams share a rank: the policy favours better ranks, so
    teams of equal rank would receive different GPUs for the same score. Names the tied teams and
    links to the phase's ranking page, where the officer records the order."""
    by_rank: dict[int, list] = defaultdict(list)
    for team in active:
        by_rank[team.rank].append(team)
    ties = [(rank, teams) for rank, teams in sorted(by_rank.items()) if len(teams) > 1]
    if not ties:
        return
    phase_id = active[0].phase_id
    url = reverse("evaluations:phase_ranking", args=[phase_id])
    described = "; ".join(
        _("rank %(rank)s: %(teams)s") % {"rank": rank, "teams": ", ".join(t.consortium_name for t in teams)}
        for rank, teams in ties
    )
    raise DomainError(
        _(
            "The ranks of the active teams are not decided (%(ties)s). Teams sharing a rank would receive "
            "different GPUs for the same score. Record the order of the tied teams on the phase's ranking page "
            "(%(url)s), then start the run again."
        )
        % {"ties": described, "url": url},
        code="ranks_undecided",
        details={
            "ranking_url": url,
            "phase_id": phase_id,
            "ties": [
                {
                    "rank": rank,
                    "teams": [{"application_id": t.application_id, "consortium": t.consortium_name} for t in teams],
                }
                for rank, teams in ties
            ],
        },
    )


def allocation_inputs_build(*, programme: Programme) -> tuple[dict[str, Any], str, int | None]:
    """Snapshot the policy inputs of ``programme`` now: ``(inputs dict, sha256, phase id)``.

    Teams are identified by their application id. Only clusters in the pool (``is_active``)
    whose period contains today (Asia/Seoul) take part. Raises :class:`DomainError` when there is
    nothing to allocate, with what to do about it.
    """
    active = active_teams_for_allocation(programme=programme)
    if not active:
        raise DomainError(
            _("There are no active teams to allocate to: finalise a selection or stage phase first."), code="no_teams"
        )
    _refuse_undecided_ranks(active)
    today = timezone.localdate()
    clusters = list(
        GpuCluster.objects.filter(
            programme=programme, is_active=True, period_start__lte=today, period_end__gte=today
        ).order_by("id")
    )
    if not clusters:
        raise DomainError(
            _("The GPU pool has no cluster in service today: add one or correct its period on the GPU pool page."),
            code="empty_pool",
        )
    sizes = sorted({c.gpus_per_node for c in clusters})
    if len(sizes) > 1:
        raise DomainError(
            _(
                "The clusters in service have different node sizes (%(sizes)s GPUs per node); requests are made in "
                "whole nodes of one size. Correct the pool first."
            )
            % {"sizes": ", ".join(str(s) for s in sizes)},
            code="mixed_node_sizes",
        )
    tie_breaks = selectors.phase_tie_breaks(phase_id=active[0].phase_id)
    # GPUs reclaimed after low use went back to the pool: the team's request for the next run
    # is at most what it holds in the allocation in force less what was returned (its request
    # alone may be far above what it holds, so subtracting from it would change nothing).
    held: dict[int, int] = {}
    in_force = selectors.approved_run_in_force(programme=programme)
    for application_id, total, gpus in (
        (
            GpuReclaim.objects.filter(programme=programme, state=ReclaimState.APPLIED, allocation__run=in_force)
            .values_list("allocation__application_id", "allocation__total_gpus")
            .annotate(gpus=Sum("gpus"))
            .values_list("allocation__application_id", "allocation__total_gpus", "gpus")
        )
        if in_force
        else ()
    ):
        held[application_id] = max(0, total - gpus)
    teams = [
        policy.Team(
            id=t.application_id,
            rank=t.rank,
            score=t.score,
            requested_gpus=max(0, min(t.requested_gpus, held.get(t.application_id, t.requested_gpus))),
            requested_budget=max(0, t.requested_budget),
            gpu_supplier=t.gpu_supplier,
            gpu_supplier_members=t.gpu_supplier_members,
            tie_breaks=tie_breaks.get(t.application_id, ()),
        )
        for t in active
    ]
    pool = [
        policy.Cluster(
            id=c.id,
            name=c.name,
            gpu_model=c.gpu_model,
            nodes=c.nodes,
            gpus_per_node=c.gpus_per_node,
            equivalence=c.equivalence,
        )
        for c in clusters
    ]
    policy_settings = policy.PolicySettings(
        budget_envelope=programme.budget_envelope,
        per_team_gpu_cap=programme.gpu_cap_per_team,
        budget_min=programme.budget_min,
        budget_max=programme.budget_max,
    )
    inputs = policy.inputs_to_dict(teams, pool, policy_settings)
    # Not a policy input (they take no part): recorded with the run so its page can say why they get nothing.
    inputs["passing_not_selected"] = selectors.phase_passing_not_selected(phase_id=active[0].phase_id)
    return inputs, policy.inputs_digest(teams, pool, policy_settings), active[0].phase_id


# --------------------------------------------------------------------------------------------
# Starting a run
# --------------------------------------------------------------------------------------------


def _active_run_error(run: AllocationRun | None) -> DomainError:
    if run is None:
        message = _(
            "An allocation run for this programme is already queued or running. "
            "Wait for it to finish, then start a new one if needed."
        )
    else:
        message = _(
            "An allocation run for this programme is already queued or running (run #%(id)s, %(status)s). "
            "Wait for it to finish, then start a new one if needed."
        ) % {"id": run.pk, "status": run.get_status_display()}
    return DomainError(
        message,
        code="run_active",
        details={"active_run_id": run.pk} if run else {},
    )


def _copy_result_rows(*, source: AllocationRun, target: AllocationRun) -> None:
    """Copy the Allocation/AllocationGrant rows of ``source`` to ``target`` (same values)."""
    allocations = list(source.allocations.prefetch_related("grants").order_by("rank", "id"))
    for allocation in allocations:
        grants = list(allocation.grants.all())
        allocation.pk = None
        allocation.id = None
        allocation.run = target
        allocation.save(force_insert=True)
        AllocationGrant.objects.bulk_create(
            AllocationGrant(
                allocation=allocation,
                cluster_id=g.cluster_id,
                nodes=g.nodes,
                gpus_per_node=g.gpus_per_node,
                gpus=g.gpus,
            )
            for g in grants
        )


EXECUTE_TASK = "gpu_allocation.execute_run"


def run_outbox_key(run_id: int, attempt: int) -> str:
    """The outbox row of the message that asks for the run's ``attempt``-th execution."""
    return f"allocation-run:{run_id}:{attempt}"


def enqueue_run(run_id: int, *, attempt: int = 1, now: bool = False) -> None:
    """Publish the run's task through the outbox (row ``allocation-run:<id>:<attempt>``, one per
    execution asked for), after the caller's transaction commits; never blocks a request for
    long nor fails it.

    If the broker cannot be reached the row waits and the outbox sweep (Celery beat) publishes
    it. ``now`` (the recovery sweep, :func:`allocation_run_recover_stale`) publishes at once,
    also a row already recorded for that attempt. The task settles its row when the run is
    final; a run still executing when the row's lease (``OUTBOX_REPUBLISH_SECONDS``) runs out
    is delivered once more, which is harmless (execution is idempotent).
    """
    publish = outbox_publish_now if now else outbox_publish
    publish(task_name=EXECUTE_TASK, kwargs={"run_id": run_id}, dedupe_key=run_outbox_key(run_id, attempt))


def _programme_lock_nowait(programme: Programme) -> Programme:
    """Lock the programme row without waiting: while another transaction holds it (a start or
    an approval in progress) the caller gets a 409 at once instead of a request that hangs."""
    try:
        with transaction.atomic():  # a savepoint: the refused lock does not break the caller's transaction
            return Programme.objects.select_for_update(nowait=True).get(pk=programme.pk)
    except OperationalError as exc:
        if getattr(exc.__cause__, "pgcode", None) != LOCK_NOT_AVAILABLE:
            raise
        raise DomainError(
            _("Another allocation start or approval for this programme is in progress. Try again in a moment."),
            code="programme_busy",
        ) from exc


@transaction.atomic
def allocation_run_start(*, programme: Programme, by, enqueue: bool = True) -> AllocationRun:
    """Start an allocation run of ``programme``; returns the run row.

    Serialised per programme by locking the programme row. If a run is already queued or running,
    raises :class:`DomainError` (409). If a succeeded run has the same ``inputs_sha256``, returns a
    new *succeeded* run pointing at it (``reused_from``, result and rows copied) without executing
    anything. Otherwise creates a *queued* run and records its task in the outbox, published when
    the transaction commits (``enqueue=False`` leaves that to the caller, as the demo seeding does).
    """
    programme = _programme_lock_nowait(programme)
    active = AllocationRun.objects.filter(programme=programme, status__in=RUN_ACTIVE_STATES).first()
    if active is not None:
        raise _active_run_error(active)
    inputs, digest, phase_id = allocation_inputs_build(programme=programme)
    earlier = (
        AllocationRun.objects.filter(programme=programme, inputs_sha256=digest, status=RunStatus.SUCCEEDED)
        .order_by("id")
        .first()
    )
    now = timezone.now()
    if earlier is not None:
        run = AllocationRun.objects.create(
            programme=programme,
            phase_id_snapshot=phase_id,
            status=RunStatus.SUCCEEDED,
            progress=100,
            progress_message=gettext_noop("Same inputs as an earlier run: its result is reused."),
            inputs=inputs,
            inputs_sha256=digest,
            result=earlier.result,
            reused_from=earlier,
            created_by=by,
            started_at=now,
            finished_at=now,
        )
        _copy_result_rows(source=earlier, target=run)
        audit_record(
            action="allocation_run.reuse",
            obj=run,
            actor=by,
            after={"status": run.status, "inputs_sha256": digest, "reused_from": earlier.pk},
        )
        return run
    try:
        with transaction.atomic():
            run = AllocationRun.objects.create(
                programme=programme,
                phase_id_snapshot=phase_id,
                status=RunStatus.QUEUED,
                progress=0,
                progress_message=gettext_noop("Queued"),
                inputs=inputs,
                inputs_sha256=digest,
                created_by=by,
            )
    except IntegrityError as exc:
        # NOTE: the programme lock makes this unreachable in practice; the constraint is the backstop.
        raise _active_run_error(None) from exc
    audit_record(
        action="allocation_run.start", obj=run, actor=by, after={"status": run.status, "inputs_sha256": digest}
    )
    if enqueue:
        enqueue_run(run.pk)
    return run


# --------------------------------------------------------------------------------------------
# Executing a run (worker side)
# --------------------------------------------------------------------------------------------


def _step_delay() -> float:
    try:
        return max(0.0, float(os.environ.get(STEP_DELAY_ENV, "0") or 0))
    except ValueError:
        return 0.0


def _progress(run_id: int, percent: int, message: str) -> None:
    """Record progress on the row at once (autocommit), where the page and the API read it."""
    AllocationRun.objects.filter(pk=run_id, status=RunStatus.RUNNING).update(
        progress=percent, progress_message=message, heartbeat_at=timezone.now()
    )


@contextmanager
def _heartbeat(run_id: int):
    """While the block runs, a thread refreshes the run's ``heartbeat_at`` every
    ``ALLOCATION_HEARTBEAT_SECONDS`` (on its own database connection). It dies with the
    worker, so a stale heartbeat means the run lost its worker (:func:`allocation_run_recover_stale`)."""
    stop = threading.Event()
    interval = settings.ALLOCATION_HEARTBEAT_SECONDS

    def beat() -> None:
        try:
            while not stop.wait(interval):
                try:
                    AllocationRun.objects.filter(pk=run_id, status=RunStatus.RUNNING).update(
                        heartbeat_at=timezone.now()
                    )
                except Exception:  # noqa: BLE001 -- a missed beat only brings the reclaim closer
                    logger.warning("Heartbeat of allocation run %s not recorded.", run_id, exc_info=True)
        finally:
            connection.close()

    thread = threading.Thread(target=beat, name=f"allocation-run-{run_id}-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=interval + 5)


def _run_mark_failed(run: AllocationRun, *, error: str, detail: dict[str, Any] | None = None) -> AllocationRun:
    """Fail the locked ``run`` with ``error`` (and its bilingual ``detail``) and audit it."""
    run.error = error
    run.result = {"error": detail} if detail else None
    run.progress_message = gettext_noop("Failed")
    run_move(run=run, to=RunStatus.FAILED, fields=["error", "result", "progress_message"])
    audit_record(
        action="allocation_run.fail",
        obj=run,
        after={"status": run.status, "error": error, "attempts": run.attempts},
    )
    return run


@transaction.atomic
def _allocation_run_begin(run_id: int) -> AllocationRun | None:
    """Lock the run, count the attempt and mark it running; ``None`` if there is nothing to do."""
    run = AllocationRun.objects.select_for_update().filter(pk=run_id).first()
    if run is None or run.status in RUN_FINAL_STATES:
        return None
    if run.attempts >= MAX_ATTEMPTS:
        _run_mark_failed(
            run,
            error=f"The run was stopped after {run.attempts} attempts that did not finish (for example, workers that "
            "were killed). Start a new run.",
            detail={
                "code": "attempts_exhausted",
                "params": {"attempts": run.attempts},
                "en": f"The run was stopped after {run.attempts} attempts that did not finish. Start a new run.",
                "ko": f"완료되지 않은 시도가 {run.attempts}회에 이르러 실행을 중단했습니다. 새로 실행하십시오.",
            },
        )
        return None
    run.attempts += 1
    run.progress = 5
    run.progress_message = gettext_noop("Started")
    run_move(run=run, to=RunStatus.RUNNING, fields=["attempts", "progress", "progress_message"])
    if run.attempts == 1:
        audit_record(action="allocation_run.execute", obj=run, after={"status": run.status, "attempts": run.attempts})
    else:
        audit_record(action="allocation_run.retry", obj=run, after={"status": run.status, "attempts": run.attempts})
    return run


def _capacity_problems(
    *, grants_by_cluster: dict[int, int], clusters: dict[int, GpuCluster], node_sizes: dict[int, int] | None = None
) -> list[str]:
    """What stops these grants (nodes per cluster id) from fitting the locked cluster rows."""
    problems = []
    for cluster_id, nodes in sorted(grants_by_cluster.items()):
        cluster = clusters.get(cluster_id)
        if cluster is None:
            problems.append(f"cluster #{cluster_id} no longer exists")
        elif nodes > cluster.nodes:
            problems.append(f"{cluster.name} has {cluster.nodes} nodes but {nodes} would be granted")
        elif node_sizes and node_sizes.get(cluster_id, cluster.gpus_per_node) != cluster.gpus_per_node:
            problems.append(
                f"{cluster.name} now has {cluster.gpus_per_node} GPUs per node, not {node_sizes[cluster_id]}"
            )
    return problems


def _lock_clusters(cluster_ids) -> dict[int, GpuCluster]:
    """Lock the clusters' rows in id order (a fixed order, so two writers never deadlock)."""
    return {c.pk: c for c in GpuCluster.objects.select_for_update().filter(pk__in=sorted(cluster_ids)).order_by("pk")}


@transaction.atomic
def _allocation_run_write(run_id: int, result: policy.AllocationResult) -> AllocationRun:
    """Write the whole result in one transaction, or nothing: re-checks the run is not final and
    each cluster's capacity under row locks; the database checks the caps and budgets."""
    run = AllocationRun.objects.select_for_update().get(pk=run_id)
    if run.status in RUN_FINAL_STATES:
        return run  # another execution finished first: never a second set of rows
    grants_by_cluster: dict[int, int] = defaultdict(int)
    for team in result.teams:
        for grant in team.grants:
            grants_by_cluster[grant.cluster_id] += grant.nodes
    clusters = _lock_clusters(c["id"] for c in run.inputs["clusters"])
    node_sizes = {c["id"]: c["gpus_per_node"] for c in run.inputs["clusters"]}
    problems = _capacity_problems(grants_by_cluster=grants_by_cluster, clusters=clusters, node_sizes=node_sizes)
    if problems:
        text = "; ".join(problems)
        return _run_mark_failed(
            run,
            error=f"The GPU pool changed while the run was executing ({text}). Start a new run.",
            detail={
                "code": "pool_changed",
                "params": {"problems": text},
                "en": f"The GPU pool changed while the run was executing ({text}). Start a new run.",
                "ko": f"실행 중에 GPU 풀이 변경되었습니다({text}). 배분을 새로 실행하십시오.",
            },
        )
    teams = {t["id"]: t for t in run.inputs["teams"]}
    settings_ = run.inputs["settings"]
    consortium_of = dict(Application.objects.filter(pk__in=teams).values_list("pk", "consortium_id"))
    for team in result.teams:
        data = teams[team.team_id]
        allocation = Allocation.objects.create(
            run=run,
            consortium_id=consortium_of[team.team_id],
            application_id=team.team_id,
            rank=team.rank,
            total_gpus=team.total_gpus,
            requested_gpus=data["requested_gpus"],
            gpu_cap=settings_["per_team_gpu_cap"],
            equivalents=team.total_equivalents,
            budget=team.budget,
            budget_min=settings_["budget_min"],
            budget_max=settings_["budget_max"],
            explanation_en=team.explanation_en,
            explanation_ko=team.explanation_ko,
        )
        AllocationGrant.objects.bulk_create(
            AllocationGrant(
                allocation=allocation,
                cluster_id=g.cluster_id,
                nodes=g.nodes,
                gpus_per_node=clusters[g.cluster_id].gpus_per_node,
                gpus=g.gpus,
            )
            for g in team.grants
        )
    run.result = result.to_dict()
    run.progress = 100
    run.progress_message = gettext_noop("Done")
    run.error = ""
    run_move(run=run, to=RunStatus.SUCCEEDED, fields=["result", "progress", "progress_message", "error"])
    audit_record(
        action="allocation_run.succeed",
        obj=run,
        after={
            "status": run.status,
            "attempts": run.attempts,
            "teams": len(result.teams),
            "gpus": sum(t.total_gpus for t in result.teams),
            "budget_allocated": result.budget_allocated,
        },
    )
    return run


@transaction.atomic
def _allocation_run_fail_infeasible(run_id: int, exc: policy.PolicyError) -> AllocationRun:
    run = AllocationRun.objects.select_for_update().get(pk=run_id)
    if run.status in RUN_FINAL_STATES:
        return run
    if isinstance(exc, policy.PolicyInfeasible):
        return _run_mark_failed(run, error=exc.message_en, detail=exc.to_dict())
    text = str(exc)
    return _run_mark_failed(run, error=text, detail={"code": "invalid_inputs", "params": {}, "en": text, "ko": text})


@transaction.atomic
def _allocation_run_fail_refused(run_id: int, exc: IntegrityError) -> AllocationRun:
    run = AllocationRun.objects.select_for_update().get(pk=run_id)
    if run.status in RUN_FINAL_STATES:
        return run
    text = f"The database refused the result ({exc}). Correct the programme settings or the pool, then start a new run."
    return _run_mark_failed(
        run,
        error=text,
        detail={
            "code": "refused_by_database",
            "params": {},
            "en": text,
            "ko": f"데이터베이스가 결과를 거부했습니다({exc}). 사업 설정이나 GPU 풀을 바로잡은 뒤 새로 실행하십시오.",
        },
    )


def allocation_run_execute(*, run_id: int, sleep: Callable[[float], None] = time.sleep) -> AllocationRun | None:
    """Execute a queued (or interrupted) run; safe to call any number of times.

    Effects: at most one set of result rows per run, written together with the final state.
    A run that is already final is returned untouched. Progress goes to the row as it goes.
    """
    run = _allocation_run_begin(run_id)
    if run is None:
        return AllocationRun.objects.filter(pk=run_id).first()
    with _heartbeat(run_id):
        return _allocation_run_compute(run, sleep=sleep)


def _allocation_run_compute(run: AllocationRun, *, sleep: Callable[[float], None]) -> AllocationRun:
    run_id = run.pk
    delay = _step_delay()
    teams, clusters, policy_settings = policy.inputs_from_dict(run.inputs)
    _progress(run_id, 15, gettext_noop("Reading the frozen inputs"))
    sleep(delay)
    _progress(run_id, 30, gettext_noop("Checking the data-budget envelope"))
    sleep(delay)
    try:
        result = policy.allocate(teams, clusters, policy_settings)
    except policy.PolicyError as exc:
        return _allocation_run_fail_infeasible(run_id, exc)
    _progress(run_id, 55, gettext_noop("Sharing GPUs and budgets"))
    sleep(delay)
    _progress(run_id, 80, gettext_noop("Checking cluster capacity"))
    sleep(delay)
    try:
        return _allocation_run_write(run_id, result)
    except IntegrityError as exc:
        # A database constraint (team cap, request, budget range, whole nodes) refused the result:
        # nothing was written; retrying would fail the same way, so the run fails with the reason.
        return _allocation_run_fail_refused(run_id, exc)


def allocation_run_recover_stale(*, now=None) -> list[int]:
    """Publish again, through the outbox, the task of runs whose message was lost; returns their
    ids. Run by Celery beat.

    * queued runs older than ``QUEUED_STALE_AFTER`` (the broker was down when they started, or
      lost the message): the row of their first execution is published again at once;
    * running runs whose heartbeat is older than ``ALLOCATION_RUN_STALE_SECONDS``: their
      worker died (killed, machine lost). They are reclaimed at once, whatever the broker's
      visibility timeout: audited, the heartbeat reset (so the next sweep waits for the new
      worker) and handed to another worker through a row of the next attempt, which counts it.

    Re-enqueueing a run that is in fact still in the broker, or still executing, is harmless:
    execution is idempotent and the result is written once, under the run's row lock.
    """
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.ALLOCATION_RUN_STALE_SECONDS)
    queued = AllocationRun.objects.filter(status=RunStatus.QUEUED, created_at__lt=now - QUEUED_STALE_AFTER)
    lost = Q(heartbeat_at__lt=stale) | Q(heartbeat_at__isnull=True, started_at__lt=stale)
    attempts = dict(queued.values_list("pk", "attempts"))
    for run_id in AllocationRun.objects.filter(lost, status=RunStatus.RUNNING).values_list("pk", flat=True):
        with transaction.atomic():
            # SKIP LOCKED: a run whose worker is writing its result right now is not stale.
            run = AllocationRun.objects.select_for_update(skip_locked=True).filter(lost, pk=run_id).first()
            if run is None or run.status != RunStatus.RUNNING:
                continue
            last = run.heartbeat_at or run.started_at
            run.heartbeat_at = timezone.now()
            run.progress_message = gettext_noop("Its worker stopped; handed to another worker")
            run.save(update_fields=["heartbeat_at", "progress_message"])
            audit_record(
                action="allocation_run.reclaim",
                obj=run,
                after={"status": run.status, "attempts": run.attempts, "last_heartbeat": last.isoformat()},
            )
            logger.warning("Allocation run %s lost its worker (last heartbeat %s); re-enqueued.", run_id, last)
        attempts[run_id] = run.attempts
    for run_id in sorted(attempts):
        enqueue_run(run_id, attempt=attempts[run_id] + 1, now=True)
    return sorted(attempts)


# --------------------------------------------------------------------------------------------
# Approval
# --------------------------------------------------------------------------------------------


@transaction.atomic
def allocation_run_approve(*, run: AllocationRun, by, reason: str = "") -> AllocationRun:
    """Approve a succeeded run: it becomes the allocation in force and the previous one is
    superseded (kept, with ``superseded_at``). Refused (409) for a run that did not succeed, is
    already approved, was computed for an earlier phase, or no longer fits the pool (checked under
    the clusters' row locks)."""
    from evaluations.selectors import phase_latest_finalised

    programme = Programme.objects.select_for_update().get(pk=run.programme_id)
    run = AllocationRun.objects.select_for_update().get(pk=run.pk)
    if run.status != RunStatus.SUCCEEDED:
        raise DomainError(
            _("Only a succeeded run can be approved; run #%(id)s is %(status)s.")
            % {"id": run.pk, "status": run.get_status_display()},
            code="not_succeeded",
        )
    if run.approved_at is not None:
        if run.superseded_at:
            message = _("Run #%(id)s was superseded; start a new run to change the allocation.")
        else:
            message = _("Run #%(id)s is already the approved allocation; start a new run to change the allocation.")
        raise DomainError(particles(message % {"id": run.pk}), code="already_approved")
    latest = phase_latest_finalised(programme=programme)
    if latest is not None and run.phase_id_snapshot not in (None, latest.pk):
        raise DomainError(
            particles(
                _(
                    "Run #%(id)s was computed for an earlier phase; phase “%(phase)s” has been finalised since. "
                    "Start a new run."
                )
                % {"id": run.pk, "phase": latest.name}
            ),
            code="stale_phase",
        )
    grants = defaultdict(int)
    for cluster_id, nodes in AllocationGrant.objects.filter(allocation__run=run).values_list("cluster_id", "nodes"):
        grants[cluster_id] += nodes
    clusters = _lock_clusters(grants)
    problems = _capacity_problems(grants_by_cluster=grants, clusters=clusters)
    if problems:
        raise DomainError(
            particles(
                _("Run #%(id)s no longer fits the GPU pool (%(problems)s). Start a new run.")
                % {"id": run.pk, "problems": "; ".join(problems)}
            ),
            code="pool_changed",
        )
    now = timezone.now()
    previous = (
        AllocationRun.objects.select_for_update()
        .filter(programme=programme, approved_at__isnull=False, superseded_at__isnull=True)
        .first()
    )
    if previous is not None:
        previous.superseded_at = now
        previous.save(update_fields=["superseded_at"])
        audit_record(
            action="allocation_run.supersede",
            obj=previous,
            actor=by,
            before={"superseded_at": None},
            after={"superseded_at": now, "superseded_by_run": run.pk},
            reason=reason,
        )
    run.approved_at = now
    run.approved_by = by
    run.save(update_fields=["approved_at", "approved_by"])
    audit_record(
        action="allocation_run.approve",
        obj=run,
        actor=by,
        before={"approved_run_in_force": previous.pk if previous else None},
        after={"approved_at": now, "inputs_sha256": run.inputs_sha256},
        reason=reason,
    )
    # The award notices of the approved allocation are issued in the background, through
    # the outbox so that approval never waits on the broker (idempotent per run).
    outbox_publish(
        task_name="gpu_allocation.notice_issue_for_run",
        kwargs={"run_id": run.pk, "by_id": getattr(by, "pk", None)},
        dedupe_key=f"notices:run:{run.pk}",
    )
    return run


__all__ = [
    "MAX_ATTEMPTS",
    "allocation_inputs_build",
    "allocation_run_approve",
    "allocation_run_execute",
    "allocation_run_recover_stale",
    "allocation_run_start",
    "enqueue_run",
    "gpu_cluster_create",
    "gpu_cluster_update",
]
