"""An approved allocation built straight from the models, for the award-notice tests.

``approved_run(teams=5)`` creates: a programme, a finalised selection phase, ``teams``
consortia (lead company + university member, each with a contact user), their
applications and phase results, a two-cluster GPU pool, and a succeeded, approved
``AllocationRun`` with one ``Allocation`` and its ``AllocationGrant`` rows per team.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.utils import timezone

from consortia.enums import MemberRole, OrganisationKind
from consortia.models import Application, Consortium, ConsortiumMember, Organisation
from evaluations.enums import Decision, PhaseKind, PhaseStatus
from evaluations.models import Phase, PhaseResult
from gpu_allocation.enums import RunStatus
from gpu_allocation.models import Allocation, AllocationGrant, AllocationRun, GpuCluster
from tests.factories import ProgrammeFactory, UserFactory

_seq = itertools.count(1)

KOREAN_TEAM_NAMES = [
    "한빛 파운데이션 컨소시엄",
    "누리 AI 연합",
    "세종 멀티모달 컨소시엄",
    "가람 언어모델 연합",
    "미르 액션모델 컨소시엄",
]
BUDGETS = [3_000_000_000, 3_500_000_000, 4_000_000_000, 4_500_000_000, 5_000_000_000]


@dataclass
class ApprovedRun:
    programme: object
    phase: Phase
    run: AllocationRun
    allocations: list[Allocation]
    clusters: list[GpuCluster]
    officer: object


def _business_number(n: int) -> str:
    from consortia.validators import make_business_number

    return make_business_number(str(200_000_000 + n * 7919)[:9])


def team(programme, *, name: str | None = None, name_en: str | None = None, lead_name: str | None = None):
    """One consortium (lead company + university) with its application and contacts."""
    n = next(_seq)
    lead = Organisation.objects.create(
        name_ko=lead_name or f"한빛인공지능 {n}", name_en=f"Hanbit AI {n}", kind=OrganisationKind.LARGE_ENTERPRISE,
        business_number=_business_number(n),
    )  # fmt: skip
    university = Organisation.objects.create(
        name_ko=f"한국과학대학교 {n}", name_en=f"Korea Science University {n}", kind=OrganisationKind.UNIVERSITY
    )
    lead_contact = UserFactory(role="applicant")
    member_contact = UserFactory(role="applicant")
    consortium = Consortium.objects.create(
        programme=programme, name=name or f"한빛 컨소시엄 {n}", name_en=name_en or f"Hanbit Consortium {n}",
        lead_organisation=lead, lead_contact=lead_contact,
    )  # fmt: skip
    now = timezone.now()
    ConsortiumMember.objects.create(
        consortium=consortium, programme=programme, organisation=lead, role=MemberRole.LEAD, contact=lead_contact,
        confirmed_at=now,
    )  # fmt: skip
    ConsortiumMember.objects.create(
        consortium=consortium, programme=programme, organisation=university, role=MemberRole.MEMBER,
        contact=member_contact, confirmed_at=now,
    )  # fmt: skip
    application = Application.objects.create(
        consortium=consortium, programme=programme, title=f"파운데이션 모델 {n}", requested_gpus=1000,
        requested_budget=5_000_000_000,
    )  # fmt: skip
    return consortium, application, member_contact


def approved_run(
    *, teams: int = 5, programme=None, names: list[str] | None = None, approved: bool = True, officer=None
) -> ApprovedRun:
    programme = programme or ProgrammeFactory()
    officer = officer or UserFactory(role="officer")
    now = timezone.now()
    phase = Phase.objects.filter(programme=programme, order=1).first() or Phase.objects.create(
        programme=programme, order=1, name="1차 선정평가", name_en="Selection evaluation", kind=PhaseKind.SELECTION,
        status=PhaseStatus.FINALISED, teams_to_keep=5, scoring_opens_at=now - timedelta(days=20),
        scoring_closes_at=now - timedelta(days=10), finalised_at=now - timedelta(days=5),
    )  # fmt: skip
    clusters = list(GpuCluster.objects.filter(programme=programme).order_by("name"))
    if not clusters:
        clusters = [
            GpuCluster.objects.create(
                programme=programme, name="광주 AI 데이터센터 A", gpu_model="H100", nodes=400, gpus_per_node=8,
                period_start=date(2025, 7, 1), period_end=date(2025, 12, 31),
            ),
            GpuCluster.objects.create(
                programme=programme, name="대전 슈퍼컴퓨팅 B", gpu_model="B200", nodes=64, gpus_per_node=8,
                equivalence=Decimal("2.00"), period_start=date(2025, 7, 1), period_end=date(2025, 12, 31),
            ),
        ]  # fmt: skip
    run = AllocationRun.objects.create(
        programme=programme, phase_id_snapshot=phase.pk, status=RunStatus.SUCCEEDED, progress=100,
        inputs={"teams": teams}, inputs_sha256="0" * 64, result={}, created_by=officer, started_at=now,
        finished_at=now,
    )  # fmt: skip
    allocations = []
    for rank in range(1, teams + 1):
        name = (names or KOREAN_TEAM_NAMES)[(rank - 1) % len(names or KOREAN_TEAM_NAMES)]
        if names is None and teams > len(KOREAN_TEAM_NAMES):
            name = f"{name} {rank}"
        consortium, application, _ = team(programme, name=name)
        PhaseResult.objects.create(
            phase=phase, application=application, score=Decimal("90.00") - rank, rank=rank, passed=True,
            decision=Decision.SELECTED,
        )  # fmt: skip
        h100_nodes, b200_nodes = (64, 8) if rank <= 2 else (48, 0)
        total = (h100_nodes + b200_nodes) * 8
        allocation = Allocation.objects.create(
            run=run, consortium=consortium, application=application, rank=rank, total_gpus=total,
            requested_gpus=1000, gpu_cap=1000, equivalents=Decimal(h100_nodes * 8 + b200_nodes * 16),
            budget=BUDGETS[(rank - 1) % len(BUDGETS)], budget_min=3_000_000_000, budget_max=5_000_000_000,
        )  # fmt: skip
        AllocationGrant.objects.create(
            allocation=allocation, cluster=clusters[0], nodes=h100_nodes, gpus_per_node=8, gpus=h100_nodes * 8
        )
        if b200_nodes:
            AllocationGrant.objects.create(
                allocation=allocation, cluster=clusters[1], nodes=b200_nodes, gpus_per_node=8, gpus=b200_nodes * 8
            )
        allocations.append(allocation)
    if approved:
        approve(run, officer)
    return ApprovedRun(programme, phase, run, allocations, clusters, officer)


def approve(run: AllocationRun, officer) -> AllocationRun:
    """Approve ``run``, superseding the programme's approved run in force (as the allocation service does)."""
    now = timezone.now()
    AllocationRun.objects.filter(
        programme=run.programme, approved_at__isnull=False, superseded_at__isnull=True
    ).exclude(pk=run.pk).update(superseded_at=now)
    run.approved_at = now
    run.approved_by = officer
    run.save(update_fields=["approved_at", "approved_by"])
    return run


def rerun_same_teams(previous: ApprovedRun, *, budget_delta: int = 0) -> AllocationRun:
    """A new succeeded run for the same consortia (not yet approved)."""
    now = timezone.now()
    run = AllocationRun.objects.create(
        programme=previous.programme, phase_id_snapshot=previous.phase.pk, status=RunStatus.SUCCEEDED, progress=100,
        inputs={"rerun": previous.run.pk}, inputs_sha256="1" * 64, result={}, created_by=previous.officer,
        started_at=now, finished_at=now,
    )  # fmt: skip
    for old in previous.allocations:
        allocation = Allocation.objects.create(
            run=run, consortium=old.consortium, application=old.application, rank=old.rank, total_gpus=old.total_gpus,
            requested_gpus=old.requested_gpus, gpu_cap=old.gpu_cap, equivalents=old.equivalents,
            budget=min(old.budget + budget_delta, old.budget_max), budget_min=old.budget_min, budget_max=old.budget_max,
        )  # fmt: skip
        for grant in old.grants.all():
            AllocationGrant.objects.create(
                allocation=allocation, cluster=grant.cluster, nodes=grant.nodes, gpus_per_node=grant.gpus_per_node,
                gpus=grant.gpus,
            )  # fmt: skip
    return run


def stored_notices(run: AllocationRun) -> list:
    """Notice rows for every allocation of ``run`` with a small stand-in PDF (no rendering):
    for tests about lists, permissions and query counts, where the PDF's content is not the point."""
    import hashlib

    from django.core.files.base import ContentFile

    from awards.services import verification_code_new
    from gpu_allocation.models import AwardNotice

    rows = []
    for allocation in run.allocations.order_by("rank"):
        data = f"%PDF-1.7\n% stand-in notice {allocation.pk}\n%%EOF\n".encode()
        number = f"TEST-{run.pk}-AN-{allocation.rank:04d}"
        notice = AwardNotice(
            allocation=allocation, number=number, verification_code=verification_code_new(),
            issued_at=timezone.now(), sha256=hashlib.sha256(data).hexdigest(), size=len(data),
        )  # fmt: skip
        notice.pdf.save(f"{number}.pdf", ContentFile(data), save=False)
        notice.save()
        rows.append(notice)
    return rows
