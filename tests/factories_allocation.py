"""Factories for the allocation tests: a GPU pool and the active teams of a finalised phase.

Teams are built straight from the models (organisation, consortium, application, the version that
was evaluated with its requests, and a ``PhaseResult`` row of a finalised phase bound to it), which
is all that ``evaluations.selectors.active_teams_for_allocation`` reads.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from consortia.enums import OrganisationKind
from consortia.models import Application, ApplicationVersion, Consortium, Organisation
from evaluations.enums import Decision, PhaseKind, PhaseStatus
from evaluations.models import Phase, PhaseResult
from gpu_allocation.models import GpuCluster
from tests.factories import ProgrammeFactory, UserFactory

_seq = itertools.count(1)


class GpuClusterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = GpuCluster

    programme = factory.SubFactory(ProgrammeFactory)
    name = factory.Sequence(lambda n: f"AI-HUB-{n}")
    gpu_model = "H100"
    nodes = 64
    gpus_per_node = 8
    equivalence = Decimal("1.00")
    period_start = factory.LazyFunction(lambda: timezone.localdate() - timedelta(days=30))
    period_end = factory.LazyFunction(lambda: timezone.localdate() + timedelta(days=150))
    is_active = True


def demo_pool(programme) -> list[GpuCluster]:
    """The demo pool: 64 nodes of H100 ×8 and 32 nodes of H200 ×8 (1.2 H100-equivalents)."""
    return [
        GpuClusterFactory(programme=programme, name="AI-HUB-A", gpu_model="H100", nodes=64),
        GpuClusterFactory(programme=programme, name="AI-HUB-B", gpu_model="H200", nodes=32, equivalence=Decimal("1.2")),
    ]


def finalised_phase(programme, *, order: int = 1, kind: str = PhaseKind.SELECTION, teams_to_keep: int = 5) -> Phase:
    now = timezone.now()
    return Phase.objects.create(
        programme=programme,
        order=order,
        name=f"{order}차 평가",
        name_en=f"Phase {order}",
        kind=kind,
        status=PhaseStatus.FINALISED,
        teams_to_keep=teams_to_keep,
        scoring_opens_at=now - timedelta(days=20),
        scoring_closes_at=now - timedelta(days=10),
        finalised_at=now - timedelta(days=5),
    )


def team_application(
    programme, *, requested_gpus: int = 512, requested_budget: int = 4_000_000_000, supplier: bool = False
) -> Application:
    n = next(_seq)
    organisation = Organisation.objects.create(
        name_ko=f"배분테스트 {n}", name_en=f"Allocation Test {n}", kind=OrganisationKind.LARGE_ENTERPRISE,
        is_gpu_supplier=supplier,
    )  # fmt: skip
    consortium = Consortium.objects.create(
        programme=programme, name=f"배분 컨소시엄 {n}", name_en=f"Allocation Consortium {n}",
        lead_organisation=organisation, lead_contact=UserFactory(role="applicant"),
    )  # fmt: skip
    return Application.objects.create(
        consortium=consortium, programme=programme, title=f"파운데이션 모델 {n}",
        requested_gpus=requested_gpus, requested_budget=requested_budget,
    )  # fmt: skip


def evaluated_version(application: Application) -> ApplicationVersion:
    """A frozen version carrying the draft's requests: what the phase evaluated and the allocation reads
    (an allocation never reads the editable draft)."""
    n = application.versions.count() + 1
    requests = {"requested_gpus": application.requested_gpus, "requested_budget": application.requested_budget}
    return ApplicationVersion.objects.create(
        application=application, number=n, receipt_number=f"ALLOC-{application.pk}-{n}",
        submitted_at=timezone.now(), submitted_by=application.consortium.lead_contact,
        content={"fields": {"title": application.title, **requests}, **requests}, sha256="0" * 64,
    )  # fmt: skip


def request_changed(application: Application, *, requested_gpus: int) -> ApplicationVersion:
    """The team's request changes in a newly evaluated version (its phase results now bind that
    version); an edit of the draft alone changes no allocation input."""
    application.requested_gpus = requested_gpus
    application.save()
    version = evaluated_version(application)
    PhaseResult.objects.filter(application=application).update(version=version)
    return version


def phase_result(phase: Phase, application: Application, *, rank: int, score: str, decision=Decision.SELECTED):
    return PhaseResult.objects.create(
        phase=phase, application=application, version=evaluated_version(application), score=Decimal(score),
        rank=rank, passed=decision in (Decision.SELECTED, Decision.KEPT), decision=decision,
    )  # fmt: skip


@dataclass
class AllocationSetup:
    programme: object
    phase: Phase
    applications: list[Application]
    clusters: list[GpuCluster]


DEFAULT_TEAMS = [
    # (score, requested GPUs, requested budget)
    ("91.50", 1000, 5_000_000_000),
    ("88.20", 768, 4_500_000_000),
    ("84.00", 512, 4_000_000_000),
    ("80.75", 384, 3_500_000_000),
    ("76.10", 256, 3_000_000_000),
]


def allocation_setup(*, programme=None, teams=None, **programme_fields) -> AllocationSetup:
    """A programme with the demo pool and a finalised selection phase of five selected teams."""
    programme = programme or ProgrammeFactory(**programme_fields)
    clusters = demo_pool(programme)
    phase = finalised_phase(programme)
    applications = []
    for rank, (score, gpus, budget) in enumerate(teams or DEFAULT_TEAMS, start=1):
        application = team_application(programme, requested_gpus=gpus, requested_budget=budget)
        phase_result(phase, application, rank=rank, score=score)
        applications.append(application)
    return AllocationSetup(programme=programme, phase=phase, applications=applications, clusters=clusters)


def stage_phase_eliminating(setup: AllocationSetup, *, eliminated: int = 1) -> Phase:
    """A later finalised stage phase keeping all but the last ``eliminated`` teams."""
    phase = finalised_phase(setup.programme, order=setup.phase.order + 1, kind=PhaseKind.STAGE)
    keep = len(setup.applications) - eliminated
    for rank, application in enumerate(setup.applications, start=1):
        decision = Decision.KEPT if rank <= keep else Decision.ELIMINATED
        phase_result(phase, application, rank=rank, score=str(90 - rank), decision=decision)
    return phase
