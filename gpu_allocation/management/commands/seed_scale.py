"""A large, fictional data set for benchmarks, written with bulk inserts.

    python manage.py seed_scale --applications 2000 --reviewers 100

Creates a closed programme with N submitted applications (versions and attachment
metadata), R reviewers, a finalised selection phase with five reviewers and full
scores per application, frozen phase results, a GPU pool and an approved allocation
of the selected teams. Prints the ids that benchmarks need as JSON.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from datetime import date, timedelta
from decimal import Decimal

from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from consortia.enums import ApplicationState, MemberRole, OrganisationKind
from consortia.models import (
    Affiliation,
    Application,
    ApplicationVersion,
    Attachment,
    Consortium,
    ConsortiumMember,
    Organisation,
)
from consortia.rules_application import CONTENT_FIELDS
from evaluations.enums import AssignmentStatus, CriterionSource, Decision, PhaseKind, PhaseStatus
from evaluations.models import Assignment, ConflictDeclaration, Criterion, Phase, PhaseResult, Score
from gpu_allocation.models import Allocation, AllocationGrant, AllocationRun, GpuCluster
from portal.enums import Role
from portal.models import Programme, User

BATCH = 2000
WEIGHTS = (1, 3, 7, 1, 3, 7, 1, 3, 5)
CRITERIA = [("tech", "기술력", 40), ("data", "데이터 전략", 25), ("team", "팀 역량", 20), ("open", "개방·확산", 15)]
PASSWORD = "Scale-Bench-2025!"  # noqa: S105 -- fictional benchmark accounts, printed for the load client


def business_number(serial: int) -> str:
    """A valid (fictional) business registration number, distinct for each serial below
    8,990,000: a tax office 101-999, the corporate code 81 and a serial 0001-9999 (never a
    reserved all-zero part, which the validator refuses)."""
    office, tail = 101 + (serial // 9999) % 899, serial % 9999 + 1
    digits = [int(c) for c in f"{office:03d}81{tail:04d}"]
    total = sum(d * w for d, w in zip(digits, WEIGHTS, strict=True)) + (digits[8] * 5) // 10
    return "".join(map(str, digits)) + str((10 - total % 10) % 10)


class Command(BaseCommand):
    help = "Create a large fictional data set for benchmarks (bulk inserts)."

    def add_arguments(self, parser):
        parser.add_argument("--applications", type=int, default=100)
        parser.add_argument("--reviewers", type=int, default=20)
        parser.add_argument("--seed", type=int, default=2025)

    def handle(self, *args, **options):
        started = time.monotonic()
        result = seed_scale(n=options["applications"], r=options["reviewers"], seed=options["seed"])
        result["seconds"] = round(time.monotonic() - started, 2)
        self.stdout.write(json.dumps(result))


@transaction.atomic
def seed_scale(*, n: int, r: int, seed: int = 2025) -> dict:
    rng = random.Random(seed)
    now = timezone.now()
    tag = f"S{n}-{int(now.timestamp())}"
    programme = Programme.objects.create(
        name=f"대규모 벤치마크 사업 {tag}", name_en=f"Scale benchmark programme {tag}", year=2025,
        receipt_prefix="SCALE", opens_at=now - timedelta(days=90), closes_at=now - timedelta(days=30),
        budget_envelope=25_000_000_000,
    )  # fmt: skip
    password = make_password(PASSWORD)
    users = User.objects.bulk_create(
        [User(username=f"{tag.lower()}-lead{i}", password=password, role=Role.APPLICANT, full_name=f"대표{i}") for i in range(n)]
        + [User(username=f"{tag.lower()}-rev{i}", password=password, role=Role.REVIEWER, full_name=f"위원{i}") for i in range(r)],
        batch_size=BATCH,
    )  # fmt: skip
    leads, reviewers = users[:n], users[n:]
    orgs = Organisation.objects.bulk_create(
        [Organisation(name_ko=f"가상기업 {tag}-{i}", name_en=f"Fictional Co {tag}-{i}", kind=OrganisationKind.STARTUP,
                      business_number=business_number(programme.id * 100_000 + i)) for i in range(n)]
        + [Organisation(name_ko=f"가상대학교 {tag}-{i}", name_en=f"Fictional University {tag}-{i}",
                        kind=OrganisationKind.UNIVERSITY) for i in range(n)],
        batch_size=BATCH,
    )  # fmt: skip
    companies, universities = orgs[:n], orgs[n:]
    Affiliation.objects.bulk_create(
        [Affiliation(user=leads[i], organisation=companies[i]) for i in range(n)], batch_size=BATCH
    )
    consortia = Consortium.objects.bulk_create(
        [Consortium(programme=programme, name=f"컨소시엄 {tag}-{i}", lead_organisation=companies[i], lead_contact=leads[i]) for i in range(n)],
        batch_size=BATCH,
    )  # fmt: skip
    ConsortiumMember.objects.bulk_create(
        [ConsortiumMember(consortium=c, programme=programme, organisation=companies[i], role=MemberRole.LEAD, contact=leads[i], confirmed_at=now)
         for i, c in enumerate(consortia)]
        + [ConsortiumMember(consortium=c, programme=programme, organisation=universities[i], role=MemberRole.MEMBER, confirmed_at=now)
           for i, c in enumerate(consortia)],
        batch_size=BATCH,
    )  # fmt: skip
    applications = Application.objects.bulk_create(
        [Application(consortium=c, programme=programme, state=ApplicationState.SUBMITTED, title=f"파운데이션 모델 제안 {i}",
                     summary="가상의 벤치마크용 제안서입니다.", model_categories=["LLM"], technical_approach="...",
                     data_strategy="...", compute_plan="...", requested_gpus=8 * rng.randint(32, 125),
                     requested_budget=rng.randint(30, 50) * 100_000_000, team_plan="...", open_source_plan="...",
                     saved_at=now - timedelta(days=31)) for i, c in enumerate(consortia)],
        batch_size=BATCH,
    )  # fmt: skip
    versions = []
    attachments = []
    for i, application in enumerate(applications):
        digest = hashlib.sha256(f"{tag}-{i}-attachment".encode()).hexdigest()
        content = {"version": 1, "fields": {name: getattr(application, name) for name in CONTENT_FIELDS},
                   "requested_gpus": application.requested_gpus, "requested_budget": application.requested_budget,
                   "attachments": [{"original_name": "proposal.pdf", "sha256": digest}]}  # fmt: skip
        body = json.dumps(content, sort_keys=True, ensure_ascii=False)
        versions.append(ApplicationVersion(
            application=application, number=1, receipt_number=f"SCALE-{tag}-{i + 1:05d}", submitted_at=now - timedelta(days=31),
            submitted_by=leads[i], content=content, sha256=hashlib.sha256(body.encode()).hexdigest(),
        ))  # fmt: skip
        attachments.append(Attachment(application=application, title="제안서", file=f"attachments/{application.id}/scale.pdf",
                                      original_name="proposal.pdf", size=1_048_576, sha256=digest, page_count=20,
                                      uploaded_by=leads[i]))  # fmt: skip
    versions = ApplicationVersion.objects.bulk_create(versions, batch_size=BATCH)
    Attachment.objects.bulk_create(attachments, batch_size=BATCH)

    phase = Phase.objects.create(
        programme=programme, order=1, name="1차 선정 평가", name_en="Selection", kind=PhaseKind.SELECTION,
        status=PhaseStatus.PUBLISHED, teams_to_keep=programme.max_teams, scoring_opens_at=now - timedelta(days=29),
        scoring_closes_at=now - timedelta(days=10), finalised_at=now - timedelta(days=9), published_at=now - timedelta(days=8),
        tie_break_criteria=["tech"],
    )  # fmt: skip
    criteria = Criterion.objects.bulk_create(
        [Criterion(phase=phase, key=key, order=k, name=name, name_en=key, rubric="평가 기준 설명", source=CriterionSource.EXPERT,
                   max_points=Decimal(points)) for k, (key, name, points) in enumerate(CRITERIA)]
    )  # fmt: skip
    per_app = min(5, r)
    assignments = Assignment.objects.bulk_create(
        [Assignment(phase=phase, application=a, version=versions[i], reviewer=reviewers[(i * per_app + k) % r],
                    status=AssignmentStatus.SUBMITTED, submitted_at=now - timedelta(days=11), comment="가상 평가 의견")
         for i, a in enumerate(applications) for k in range(per_app)],
        batch_size=BATCH,
    )  # fmt: skip
    ConflictDeclaration.objects.bulk_create(
        [ConflictDeclaration(assignment=a, has_conflict=False) for a in assignments], batch_size=BATCH
    )
    scores, totals = [], {}
    for a in assignments:
        quality = rng.uniform(0.45, 0.97)
        for c in criteria:
            value = (c.max_points * Decimal(str(round(quality + rng.uniform(-0.05, 0.05), 3)))).quantize(Decimal("0.1"))
            value = max(Decimal("0"), min(c.max_points, value))
            scores.append(Score(assignment=a, criterion=c, value=value, comment=""))
            totals.setdefault(a.application_id, []).append(value)
    Score.objects.bulk_create(scores, batch_size=BATCH)
    ranked = sorted(applications, key=lambda a: (-sum(totals[a.id]), a.id))
    results, selected = [], []
    for rank, application in enumerate(ranked, start=1):
        score = (sum(totals[application.id]) / per_app).quantize(Decimal("0.01"))
        passed = score >= phase.pass_threshold
        decision = Decision.SELECTED if passed and len(selected) < phase.teams_to_keep else (
            Decision.RESERVE if passed else Decision.NOT_SELECTED)  # fmt: skip
        if decision == Decision.SELECTED:
            selected.append((rank, application, score))
        results.append(PhaseResult(phase=phase, application=application, score=score, rank=rank, passed=passed, decision=decision,
                                   details={"reviewers": per_app}))  # fmt: skip
    PhaseResult.objects.bulk_create(results, batch_size=BATCH)

    clusters = [
        GpuCluster.objects.create(programme=programme, name="AI-HUB-A", gpu_model="H100", nodes=64, gpus_per_node=8,
                                  equivalence=Decimal("1.00"), period_start=date(2025, 7, 1), period_end=date(2025, 12, 31)),
        GpuCluster.objects.create(programme=programme, name="AI-HUB-B", gpu_model="H200", nodes=32, gpus_per_node=8,
                                  equivalence=Decimal("1.50"), period_start=date(2025, 7, 1), period_end=date(2025, 12, 31)),
    ]  # fmt: skip
    run = _approved_run(programme=programme, phase=phase, clusters=clusters, selected=selected, by=leads[0])
    return {
        "programme_id": programme.id, "phase_id": phase.id, "allocation_run_id": run.id,
        "applications": n, "reviewers": r, "reviewer_username": reviewers[0].username,
        "applicant_username": leads[0].username, "application_id": applications[0].id,
        "assignment_id": next(a.id for a in assignments if a.reviewer_id == reviewers[0].id), "password": PASSWORD,
    }  # fmt: skip


def _approved_run(*, programme, phase, clusters, selected, by) -> AllocationRun:
    """An approved run for the selected teams, split evenly in whole nodes (bench data only)."""
    now = timezone.now()
    run = AllocationRun.objects.create(
        programme=programme, phase_id_snapshot=phase.id, status="succeeded", progress=100, inputs={"bench": True},
        inputs_sha256=hashlib.sha256(b"bench").hexdigest(), result={"bench": True}, created_by=by,
        started_at=now, finished_at=now, approved_at=now, approved_by=by,
    )  # fmt: skip
    free = {c.id: c.nodes for c in clusters}
    for rank, application, _score in selected:
        want_nodes = min(application.requested_gpus, programme.gpu_cap_per_team) // 8
        grants, total = [], 0
        for cluster in clusters:
            take = min(free[cluster.id], want_nodes - total // 8)
            if take > 0:
                free[cluster.id] -= take
                grants.append((cluster, take))
                total += take * cluster.gpus_per_node
        allocation = Allocation.objects.create(
            run=run, consortium_id=application.consortium_id, application=application, rank=rank, total_gpus=total,
            requested_gpus=application.requested_gpus, gpu_cap=programme.gpu_cap_per_team,
            equivalents=sum((Decimal(t * c.gpus_per_node) * c.equivalence for c, t in grants), Decimal("0")),
            budget=programme.budget_min, budget_min=programme.budget_min, budget_max=programme.budget_max,
            explanation_en="Benchmark data.", explanation_ko="벤치마크용 데이터입니다.",
        )  # fmt: skip
        AllocationGrant.objects.bulk_create(
            [AllocationGrant(allocation=allocation, cluster=c, nodes=t, gpus_per_node=c.gpus_per_node, gpus=t * c.gpus_per_node)
             for c, t in grants]
        )  # fmt: skip
    return run
