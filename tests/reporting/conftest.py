"""A programme after the award: two active teams with an approved allocation in force and a
monthly reporting plan whose first period began three months ago."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from gpu_allocation.enums import RunStatus
from gpu_allocation.models import Allocation, AllocationGrant, AllocationRun
from reporting.models import ReportingPlan
from tests.factories_allocation import allocation_setup


def months_back(day: date, months: int) -> date:
    month = day.month - 1 - months
    return date(day.year + month // 12, month % 12 + 1, 1)


@dataclass
class Scene:
    programme: object
    setup: object
    run: object
    plan: object
    hub_a: object  # team 1 holds 16 nodes (128 GPUs) here
    hub_b: object  # team 2 holds 8 nodes (64 GPUs) here
    team1: object
    team2: object
    first_start: date

    def period(self, index: int) -> tuple[date, date]:
        start = self.first_start
        for _ in range(index):
            start = months_back(start, -1)
        end = date(start.year, start.month, calendar.monthrange(start.year, start.month)[1])
        return start, end


def build_scene(*, teams: int = 2, officer=None) -> Scene:
    from tests.factories import UserFactory

    spec = [(f"{90 - i}.00", 512, 4_000_000_000) for i in range(teams)]
    setup = allocation_setup(teams=spec)
    programme = setup.programme
    hub_a, hub_b = setup.clusters
    now = timezone.now()
    run = AllocationRun.objects.create(
        programme=programme, phase_id_snapshot=setup.phase.pk, status=RunStatus.SUCCEEDED, progress=100,
        inputs={"scene": "reporting"}, inputs_sha256="7" * 64, result={},
        created_by=officer or UserFactory(role="officer"), started_at=now, finished_at=now, approved_at=now,
    )  # fmt: skip
    for rank, application in enumerate(setup.applications, start=1):
        cluster, nodes = (hub_a, 16) if rank % 2 else (hub_b, 8)
        allocation = Allocation.objects.create(
            run=run, consortium=application.consortium, application=application, rank=rank,
            total_gpus=nodes * 8, requested_gpus=512, gpu_cap=1000, equivalents=Decimal(nodes * 8),
            budget=4_000_000_000, budget_min=3_000_000_000, budget_max=5_000_000_000,
        )  # fmt: skip
        AllocationGrant.objects.create(
            allocation=allocation, cluster=cluster, nodes=nodes, gpus_per_node=8, gpus=nodes * 8
        )
    first = months_back(timezone.localdate(), 3)
    plan = ReportingPlan.objects.create(programme=programme, first_period_start=first)
    return Scene(
        programme=programme, setup=setup, run=run, plan=plan, hub_a=hub_a, hub_b=hub_b,
        team1=setup.applications[0].consortium, team2=setup.applications[1].consortium, first_start=first,
    )  # fmt: skip


@pytest.fixture
def scene(db, officer):
    return build_scene(officer=officer)


def kst(day: date, hour: int = 0) -> str:
    return datetime.combine(day, time(hour)).isoformat()


def usage_csv(scene: Scene, start: date, end: date) -> bytes:
    """The hand-computed example's file for team 1 (see test_utilisation_equals_hand_computed)."""
    last_evening_utc = datetime.combine(end, time(12)).isoformat() + "+00:00"  # 21:00 KST on the last day
    after_end = datetime.combine(end + timedelta(days=1), time(3)).isoformat() + "+09:00"
    rows = [
        "JobID,Cluster,Start,End,AllocGPUs",
        f"1001,{scene.hub_a.name},{kst(start)},{kst(start + timedelta(days=10))},64",
        f"1002,{scene.hub_a.name},{kst(start - timedelta(days=1), 12)},{kst(start, 12)},32",
        f"1003,{scene.hub_a.name},{last_evening_utc},{after_end},8",
    ]
    return ("\n".join(rows) + "\n").encode()
