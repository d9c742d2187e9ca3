"""Evaluation test data: submitted applications, phases with criteria, assignments and scores.

Applications are built with the consortia models directly so these tests do not depend on
the consortia services; ``bulk_selection_phase`` uses ``bulk_create`` for large data sets.
"""

from __future__ import annotations

import itertools
import random
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from consortia.enums import ApplicationState, MemberRole, OrganisationKind
from consortia.models import Affiliation, Application, ApplicationVersion, Consortium, ConsortiumMember, Organisation
from evaluations.enums import AssignmentStatus, CriterionSource, PhaseKind, PhaseStatus
from evaluations.models import Assignment, ConflictDeclaration, Criterion, Objective, Phase, PhaseReviewer, Score
from tests.factories import UserFactory

_seq = itertools.count(1)

SELECTION_CRITERIA = [
    {
        "key": "technology",
        "name": "기술성",
        "max_points": Decimal("40"),
        "rubric": "Novelty and feasibility of the approach.",
    },
    {
        "key": "capability",
        "name": "수행 역량",
        "max_points": Decimal("30"),
        "rubric": "Team, compute and data readiness.",
    },
    {
        "key": "impact",
        "name": "파급 효과",
        "max_points": Decimal("30"),
        "rubric": "Public access and ecosystem impact.",
    },
]


def submitted_application(*, programme, lead_contact=None, title=None, categories=("LLM",)) -> Application:
    """A consortium (lead company + a university) with a submitted application and one version."""
    n = next(_seq)
    lead_contact = lead_contact or UserFactory(role="applicant")
    lead = Organisation.objects.create(
        name_ko=f"가상기업{n}", name_en=f"Virtual Corp {n}", kind=OrganisationKind.LARGE_ENTERPRISE
    )
    university = Organisation.objects.create(
        name_ko=f"가상대학교{n}", name_en=f"Virtual University {n}", kind=OrganisationKind.UNIVERSITY
    )
    consortium = Consortium.objects.create(
        programme=programme, name=f"컨소시엄 {n}", lead_organisation=lead, lead_contact=lead_contact
    )
    ConsortiumMember.objects.create(
        consortium=consortium, programme=programme, organisation=lead, role=MemberRole.LEAD, contact=lead_contact
    )
    ConsortiumMember.objects.create(consortium=consortium, programme=programme, organisation=university)
    application = Application.objects.create(
        consortium=consortium,
        programme=programme,
        state=ApplicationState.SUBMITTED,
        title=title or f"파운데이션 모델 제안 {n}",
        summary="요약",
        model_categories=list(categories),
        requested_gpus=512,
        requested_budget=4_000_000_000,
    )
    # The version's content is built by the same function the submit service uses, so every
    # reader sees the shape real submissions have.
    from consortia.services import content_digest, version_content

    receipt = f"T-{programme.year}-{n:05d}"
    now = timezone.now()
    content = version_content(
        application=application,
        members=list(consortium.members.select_related("organisation").order_by("id")),
        attachments=[],
        number=1,
        receipt_number=receipt,
        submitted_at=now,
        by=lead_contact,
    )
    ApplicationVersion.objects.create(
        application=application,
        number=1,
        receipt_number=receipt,
        submitted_at=now,
        submitted_by=lead_contact,
        content=content,
        sha256=content_digest(content),
    )
    return application


def reviewers(count: int, **kwargs) -> list:
    return [UserFactory(role="reviewer", **kwargs) for _ in range(count)]


def affiliate(user, application: Application) -> Affiliation:
    return Affiliation.objects.create(user=user, organisation=application.consortium.lead_organisation)


def selection_phase(*, programme, status=PhaseStatus.SCORING, criteria=SELECTION_CRITERIA, **kwargs) -> Phase:
    now = timezone.now()
    defaults = {
        "order": 1,
        "name": "1차 선정평가",
        "kind": PhaseKind.SELECTION,
        "teams_to_keep": 5,
        "scoring_opens_at": now - timedelta(days=1),
        "scoring_closes_at": now + timedelta(days=7),
        "status": status,
    }
    defaults.update(kwargs)
    phase = Phase.objects.create(programme=programme, **defaults)
    for i, c in enumerate(criteria, 1):
        Criterion.objects.create(phase=phase, order=i, **c)
    return phase


def stage_phase(*, programme, order=2, status=PhaseStatus.SCORING, **kwargs) -> Phase:
    now = timezone.now()
    phase = Phase.objects.create(
        programme=programme,
        order=order,
        name=f"{order - 1}차 단계평가",
        kind=PhaseKind.STAGE,
        teams_to_keep=kwargs.pop("teams_to_keep", 4),
        scoring_opens_at=now - timedelta(days=1),
        scoring_closes_at=now + timedelta(days=7),
        status=status,
        **kwargs,
    )
    Criterion.objects.create(
        phase=phase,
        order=1,
        key="benchmark",
        name="벤치마크",
        source=CriterionSource.BENCHMARK,
        max_points=Decimal("40"),
    )
    Criterion.objects.create(
        phase=phase, order=2, key="expert", name="전문가 평가", source=CriterionSource.EXPERT, max_points=Decimal("35")
    )
    Criterion.objects.create(
        phase=phase,
        order=3,
        key="user",
        name="사용자 평가",
        source=CriterionSource.USER_PANEL,
        max_points=Decimal("25"),
    )
    Criterion.objects.create(
        phase=phase, order=4, key="originality", name="독자성", is_gate=True, max_points=Decimal("0")
    )
    Objective.objects.create(
        phase=phase, model_category="LLM", benchmark="KMMLU", reference_model="Global-A", reference_score=Decimal("80")
    )
    Objective.objects.create(
        phase=phase, model_category="LLM", benchmark="HAERAE", reference_model="Global-B", reference_score=Decimal("60")
    )
    return phase


def assign(phase: Phase, application: Application, reviewer, *, declared: bool = True) -> Assignment:
    PhaseReviewer.objects.get_or_create(phase=phase, reviewer=reviewer)
    assignment = Assignment.objects.create(
        phase=phase,
        application=application,
        reviewer=reviewer,
        version=application.versions.order_by("-number").first(),
        status=AssignmentStatus.ACTIVE if declared else AssignmentStatus.AWAITING_DECLARATION,
    )
    if declared:
        ConflictDeclaration.objects.create(assignment=assignment, has_conflict=False)
    return assignment


def submit_scores(assignment: Assignment, values: dict) -> Assignment:
    """Store submitted scores directly (criterion key → points)."""
    criteria = {c.key: c for c in assignment.phase.criteria.all()}
    for key, value in values.items():
        Score.objects.create(
            assignment=assignment, criterion=criteria[key], value=Decimal(str(value)), comment=f"{key} 의견"
        )
    assignment.status = AssignmentStatus.SUBMITTED
    assignment.submitted_at = timezone.now()
    assignment.save(update_fields=["status", "submitted_at"])
    return assignment


def bulk_selection_phase(*, programme, applications: int, reviewer_count: int = 5) -> Phase:
    """A scoring selection phase with ``applications`` submitted applications, each scored by
    ``reviewer_count`` reviewers, built with ``bulk_create`` (a few queries per table)."""
    phase = selection_phase(programme=programme)
    criteria = list(phase.criteria.all())
    pool = reviewers(reviewer_count)
    lead_contact = UserFactory(role="applicant")
    start = next(_seq) * 100_000
    orgs = Organisation.objects.bulk_create(
        [
            Organisation(name_ko=f"대량기업{start + i}", name_en=f"Bulk {start + i}", kind=OrganisationKind.SME)
            for i in range(applications)
        ]
    )
    consortia = Consortium.objects.bulk_create(
        [
            Consortium(
                programme=programme, name=f"대량 컨소시엄 {start + i}", lead_organisation=o, lead_contact=lead_contact
            )
            for i, o in enumerate(orgs)
        ]
    )
    ConsortiumMember.objects.bulk_create(
        [
            ConsortiumMember(consortium=c, programme=programme, organisation=o, role=MemberRole.LEAD)
            for c, o in zip(consortia, orgs, strict=True)
        ]
    )
    apps = Application.objects.bulk_create(
        [
            Application(consortium=c, programme=programme, state=ApplicationState.SUBMITTED, title=f"제안 {i}")
            for i, c in enumerate(consortia)
        ]
    )
    ApplicationVersion.objects.bulk_create(
        [
            ApplicationVersion(
                application=a, number=1, receipt_number=f"B-{start + i}", submitted_at=timezone.now(),
                submitted_by=lead_contact, content={"version": 1, "fields": {"title": a.title}}, sha256="0" * 64,
            )
            for i, a in enumerate(apps)
        ]
    )  # fmt: skip
    PhaseReviewer.objects.bulk_create([PhaseReviewer(phase=phase, reviewer=r) for r in pool])
    assignments = Assignment.objects.bulk_create(
        [
            Assignment(
                phase=phase, application=a, reviewer=r, status=AssignmentStatus.SUBMITTED, submitted_at=timezone.now()
            )
            for a in apps
            for r in pool
        ]
    )
    rng = random.Random(applications)  # deterministic, fictional scores
    Score.objects.bulk_create(
        [
            Score(
                assignment=s,
                criterion=c,
                value=(c.max_points * Decimal(rng.randint(550, 1000)) / 1000).quantize(Decimal("0.1")),
            )
            for s in assignments
            for c in criteria
        ]
    )
    return phase


def decide_all_ties(phase: Phase, officer) -> None:
    """Record an officer's order (by id) for every tie the criteria left open."""
    from evaluations import services
    from evaluations.ranking_snapshot import phase_snapshot

    for group in phase_snapshot(phase=phase).result.needs_officer_decision:
        services.tie_break_decide(
            phase=phase,
            by=officer,
            ordered_application_ids=sorted(group.application_ids),
            reason="추첨 없이 위원회 결정",
        )
