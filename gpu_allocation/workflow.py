"""The states of an allocation run and of a notice export, and the one function per machine that changes them.

Both are moved by the worker alone (:data:`~portal.workflow.SYSTEM`); a person only creates
the row (starting a run, asking for a ZIP), under the permission named on the creating edge.
:func:`run_move` and :func:`export_move` refuse any edge not in the table with a 409 and are
the only places ``AllocationRun.status`` and ``NoticeExport.status`` are assigned; they stamp
the times that go with the state and save the other fields the caller changed in the same
write. The services write the audit entries. ``docs/states.md`` draws both machines.
"""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from gpu_allocation.enums import RUN_FINAL_STATES, ExportStatus, RunStatus
from gpu_allocation.models import AllocationRun, NoticeExport
from portal.workflow import SYSTEM, Edge, Machine

R = RunStatus
E = ExportStatus

RUN = Machine(
    name="Allocation run",
    model="gpu_allocation.AllocationRun",
    states=RunStatus,
    created={
        R.QUEUED: Edge("gpu_allocation.add_allocationrun", via="allocation_run_start"),
        R.SUCCEEDED: Edge(
            "gpu_allocation.add_allocationrun",
            via="allocation_run_start",
            note="the inputs' SHA-256 matches a succeeded run: its result is reused",
        ),
    },
    edges={
        R.QUEUED: {R.RUNNING: Edge(SYSTEM, via="allocation_run_execute")},
        R.RUNNING: {
            R.RUNNING: Edge(SYSTEM, via="allocation_run_execute", note="a redelivered task counts a new attempt"),
            R.SUCCEEDED: Edge(SYSTEM, via="allocation_run_execute"),
            R.FAILED: Edge(
                SYSTEM,
                via="allocation_run_execute",
                note="infeasible inputs, the pool changed, the database refused the result, or attempts exhausted",
            ),
        },
    },
    terminal=(R.SUCCEEDED, R.FAILED),
    refusal=_("An allocation run cannot go from “%(from)s” to “%(to)s”."),
    code="invalid_transition",
    mover="run_move",
    notes=(
        "Approval is not a state: `allocation_run_approve` (`gpu_allocation.approve_allocationrun`) stamps "
        "`approved_at` on a succeeded run and `superseded_at` on the run it replaces. "
        "`allocation_run_recover_stale` (beat) re-enqueues a queued or running run without changing its state.",
    ),
)

EXPORT = Machine(
    name="Notice export",
    model="gpu_allocation.NoticeExport",
    states=ExportStatus,
    created={E.QUEUED: Edge("gpu_allocation.export_awardnotice", via="notice_export_start")},
    edges={
        E.QUEUED: {E.RUNNING: Edge(SYSTEM, via="notice_export_build")},
        E.RUNNING: {
            E.RUNNING: Edge(SYSTEM, via="notice_export_build", note="a redelivered task starts the build over"),
            E.SUCCEEDED: Edge(SYSTEM, via="notice_export_build"),
            E.FAILED: Edge(SYSTEM, via="notice_export_build"),
        },
    },
    terminal=(E.SUCCEEDED, E.FAILED),
    refusal=_("A notice export cannot go from “%(from)s” to “%(to)s”."),
    code="invalid_transition",
    mover="export_move",
    notes=(
        "The export is started and built by `awards/services.py`; its model and this table stay in `gpu_allocation`.",
    ),
)

MACHINES = (RUN, EXPORT)


def run_move(*, run: AllocationRun, to: str, fields: tuple[str, ...] | list[str] = ()) -> AllocationRun:
    """Move a locked ``run`` along an edge of :data:`RUN` and save it with the caller's ``fields``.

    Running stamps ``started_at`` and ``heartbeat_at``; a final state stamps ``finished_at``.
    """
    RUN.edge(run.status, to)
    run.status = to
    update = ["status", *fields]
    now = timezone.now()
    if to == R.RUNNING:
        run.started_at = run.heartbeat_at = now
        update += ["started_at", "heartbeat_at"]
    elif to in RUN_FINAL_STATES:
        run.finished_at = now
        update.append("finished_at")
    run.save(update_fields=update)
    return run


def export_move(*, export: NoticeExport, to: str, fields: tuple[str, ...] | list[str] = ()) -> NoticeExport:
    """Move a locked ``export`` along an edge of :data:`EXPORT` and save it with the caller's ``fields``.

    A final state stamps ``finished_at``.
    """
    EXPORT.edge(export.status, to)
    export.status = to
    update = ["status", *fields]
    if to in (E.SUCCEEDED, E.FAILED):
        export.finished_at = timezone.now()
        update.append("finished_at")
    export.save(update_fields=update)
    return export
