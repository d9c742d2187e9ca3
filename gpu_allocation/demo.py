"""Demo data of the allocation part: the GPU pool and an approved allocation (idempotent).

The pool (see docs/allocation-runs.md for the equivalence figures):

* ``AI-HUB-A``: 64 nodes × 8 H100 = 512 GPUs, 1 H100-equivalent per GPU;
* ``AI-HUB-B``: 32 nodes × 8 H200 = 256 GPUs, 1.2 H100-equivalents per GPU.

Both serve the current half-year. If the evaluations demo left active teams (the latest
finalised phase), a run is executed in-process and approved by the demo officer, unless an
approved allocation is already in force; ``context["allocation_run_id"]`` names the allocation
in force (its award notices are issued by ``awards/demo.py``).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.utils import timezone

from gpu_allocation.models import AllocationRun, GpuCluster
from gpu_allocation.selectors import approved_run_in_force

DEMO_POOL = [
    {"name": "AI-HUB-A", "gpu_model": "H100", "nodes": 64, "gpus_per_node": 8, "equivalence": Decimal("1.00")},
    {"name": "AI-HUB-B", "gpu_model": "H200", "nodes": 32, "gpus_per_node": 8, "equivalence": Decimal("1.20")},
]


def current_half_year(today: date) -> tuple[date, date]:
    if today.month <= 6:
        return date(today.year, 1, 1), date(today.year, 6, 30)
    return date(today.year, 7, 1), date(today.year, 12, 31)


def seed_pool(programme) -> list[GpuCluster]:
    start, end = current_half_year(timezone.localdate())
    clusters = []
    for spec in DEMO_POOL:
        cluster = GpuCluster.objects.filter(programme=programme, name=spec["name"]).order_by("-period_end").first()
        if cluster is None:
            cluster = GpuCluster.objects.create(programme=programme, period_start=start, period_end=end, **spec)
        clusters.append(cluster)
    return clusters


def seed(context: dict) -> None:
    from gpu_allocation.services import allocation_run_approve, allocation_run_execute, allocation_run_start
    from portal.errors import DomainError

    programme = context["programme"]
    officer = context["users"]["officer"]
    seed_pool(programme)
    in_force = approved_run_in_force(programme=programme)
    if in_force is not None:
        context["allocation_run_id"] = in_force.pk
        return
    try:
        run = allocation_run_start(programme=programme, by=officer, enqueue=False)
    except DomainError:
        return  # no active teams yet (no finalised phase) or a run already active: nothing to approve
    if run.status != "succeeded":
        run = allocation_run_execute(run_id=run.pk, sleep=lambda seconds: None)
    run = AllocationRun.objects.get(pk=run.pk)
    if run.status == "succeeded":
        allocation_run_approve(run=run, by=officer, reason="Demo allocation")
        context["allocation_run_id"] = run.pk
