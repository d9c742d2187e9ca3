"""One shared world for the security tests: two teams (A and B) through every stage.

The world is built once per test module inside an outer transaction that is rolled back at
the end of the module; each test runs in its own savepoint (pytest-django's ``db``), so a
write that slips through in one test never leaks into the next.

Actors: ``anon``, ``a_owner`` (lead contact of A), ``a_member`` (member contact of A),
``b_owner`` (lead contact of B), ``rev_ok`` (assigned to A, declared no conflict),
``rev_conflicted`` (assigned to A, declared a conflict), ``rev_unassigned`` (not assigned
to A; assigned to B), ``officer``, ``admin``.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone

ACTORS = [
    "anon",
    "a_owner",
    "a_member",
    "b_owner",
    "rev_ok",
    "rev_conflicted",
    "rev_unassigned",
    "officer",
    "admin",
]


@dataclass
class World:
    users: dict
    programme: object
    open_programme: object
    consortium_a: object
    consortium_b: object
    org_a: object
    app_a: object
    app_b: object
    app_sealed: object
    version_a: object
    attachment_a: object
    attachment_sealed: object
    phase: object
    asg_ok: object
    asg_conflicted: object
    asg_other: object
    result_a: object
    appeal_a: object
    run: object
    cluster: object
    allocation_a: object
    notice_a: object
    notice_b: object
    export: object
    clients: dict = field(default_factory=dict)
    # Reports after the award: team A's report of the current period, a spending line, a reclaim.
    report_a: object = None
    spending_a: object = None
    reclaim_a: object = None


def _with_totp(user):
    from allauth.mfa.totp.internal.auth import TOTP

    TOTP.activate(user, "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
    return user


def _team(programme, *, lead_contact, name, name_en, title, org_en):
    from consortia import services
    from consortia.enums import MemberRole
    from tests.factories_consortia import ApplicationFactory, ConsortiumFactory, OrganisationFactory, pdf_bytes

    org = OrganisationFactory(name_en=org_en, name_ko=f"{org_en} 주식회사")
    consortium = ConsortiumFactory(
        programme=programme, lead_contact=lead_contact, lead_organisation=org, name=name, name_en=name_en
    )
    application = ApplicationFactory(consortium=consortium, title=title)
    attachment = services.attachment_add(
        application=application,
        by=lead_contact,
        uploaded=SimpleUploadedFile("plan.pdf", pdf_bytes(), content_type="application/pdf"),
        title="사업계획서",
    )
    services.application_submit(application=application, by=lead_contact, notify=False)
    application.refresh_from_db()
    member = consortium.members.get(role=MemberRole.MEMBER)
    return consortium, org, application, attachment, member.contact


def build_world() -> World:
    from consortia.models import Application
    from evaluations.enums import AssignmentStatus, Decision, PhaseStatus
    from evaluations.models import Appeal, ConflictDeclaration, PhaseResult
    from gpu_allocation.enums import ExportStatus, RunStatus
    from gpu_allocation.models import Allocation, AllocationGrant, AllocationRun, NoticeExport
    from portal.models import Programme
    from tests.factories import ProgrammeFactory, UserFactory
    from tests.factories_allocation import GpuClusterFactory
    from tests.factories_evaluations import assign, selection_phase, submit_scores
    from tests.factories_notices import stored_notices

    now = timezone.now()
    users = {
        "a_owner": UserFactory(role="applicant", username="sec-a-owner"),
        "b_owner": UserFactory(role="applicant", username="sec-b-owner"),
        "rev_ok": UserFactory(role="reviewer", username="sec-rev-ok"),
        "rev_conflicted": UserFactory(role="reviewer", username="sec-rev-conflicted"),
        "rev_unassigned": UserFactory(role="reviewer", username="sec-rev-unassigned"),
        "officer": _with_totp(UserFactory(role="officer", username="sec-officer")),
        "admin": _with_totp(UserFactory(role="admin", username="sec-admin", is_staff=True, is_superuser=True)),
    }
    programme = ProgrammeFactory(name="보안 검증 사업 2025", name_en="Security check programme")
    consortium_a, org_a, app_a, attachment_a, a_member = _team(
        programme, lead_contact=users["a_owner"], name="ALPHA 컨소시엄", name_en="ALPHA Consortium",
        title="ALPHA 파운데이션 모델", org_en="ALPHA Lead Org",
    )  # fmt: skip
    users["a_member"] = a_member
    consortium_b, _org_b, app_b, _att_b, _b_member = _team(
        programme, lead_contact=users["b_owner"], name="BRAVO 컨소시엄", name_en="BRAVO Consortium",
        title="BRAVO 파운데이션 모델", org_en="BRAVO Lead Org",
    )  # fmt: skip
    # A second, still open programme: team A's submission there is sealed for officers.
    open_programme = ProgrammeFactory(name="열린 사업 2026", name_en="Open programme", year=programme.year + 1)
    _c, _o, app_sealed, attachment_sealed, _m = _team(
        open_programme, lead_contact=users["a_owner"], name="ALPHA 봉인 컨소시엄", name_en="ALPHA Sealed",
        title="SEALED 제안서", org_en="ALPHA Sealed Org",
    )  # fmt: skip
    # The deadline of the first programme has passed.
    Programme.objects.filter(pk=programme.pk).update(
        opens_at=now - timedelta(days=90), closes_at=now - timedelta(days=30)
    )
    programme.refresh_from_db()

    phase = selection_phase(
        programme=programme,
        status=PhaseStatus.PUBLISHED,
        scoring_opens_at=now - timedelta(days=25),
        scoring_closes_at=now - timedelta(days=10),
        finalised_at=now - timedelta(days=3),
        published_at=now - timedelta(days=1),
    )
    asg_ok = submit_scores(assign(phase, app_a, users["rev_ok"]), {"technology": 35, "capability": 25, "impact": 24})
    asg_conflicted = assign(phase, app_a, users["rev_conflicted"], declared=False)
    ConflictDeclaration.objects.create(assignment=asg_conflicted, has_conflict=True, reason="전 직장")
    asg_conflicted.status = AssignmentStatus.CONFLICTED
    asg_conflicted.save(update_fields=["status"])
    asg_other = submit_scores(
        assign(phase, app_b, users["rev_unassigned"]), {"technology": 31, "capability": 22, "impact": 21}
    )
    result_a = PhaseResult.objects.create(
        phase=phase, application=app_a, version=app_a.versions.first(), score=Decimal("84.00"), rank=1,
        passed=True, decision=Decision.SELECTED,
    )  # fmt: skip
    PhaseResult.objects.create(
        phase=phase, application=app_b, version=app_b.versions.first(), score=Decimal("74.00"), rank=2,
        passed=True, decision=Decision.SELECTED,
    )  # fmt: skip
    appeal_a = Appeal.objects.create(
        phase=phase, application=app_a, grounds="misreading", text="ALPHA 이의신청 사유", filed_by=users["a_owner"]
    )

    cluster = GpuClusterFactory(programme=programme, name="SEC-HUB", nodes=64)
    run = AllocationRun.objects.create(
        programme=programme, phase_id_snapshot=phase.pk, status=RunStatus.SUCCEEDED, progress=100,
        inputs={"world": "security"}, inputs_sha256="5" * 64, result={}, created_by=users["officer"],
        started_at=now, finished_at=now, approved_at=now, approved_by=users["officer"],
    )  # fmt: skip
    allocations = []
    for rank, app in enumerate((app_a, app_b), start=1):
        allocation = Allocation.objects.create(
            run=run, consortium=app.consortium, application=app, rank=rank, total_gpus=256, requested_gpus=512,
            gpu_cap=1000, equivalents=Decimal("256"), budget=4_000_000_000, budget_min=3_000_000_000,
            budget_max=5_000_000_000,
        )  # fmt: skip
        AllocationGrant.objects.create(allocation=allocation, cluster=cluster, nodes=32, gpus_per_node=8, gpus=256)
        allocations.append(allocation)
    notice_a, notice_b = stored_notices(run)

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"{notice_a.number}.pdf", b"%PDF-1.7\n%%EOF\n")
    data = buffer.getvalue()
    export = NoticeExport(
        run=run, status=ExportStatus.SUCCEEDED, progress=100, sha256=hashlib.sha256(data).hexdigest(),
        created_by=users["admin"], finished_at=now,
    )  # fmt: skip
    export.file.save(f"sec-run-{run.pk}.zip", ContentFile(data), save=False)
    export.save()

    report_a, spending_a, reclaim_a = _reporting(programme, users, run, cluster, consortium_a)
    app_a = Application.objects.get(pk=app_a.pk)
    return World(
        report_a=report_a, spending_a=spending_a, reclaim_a=reclaim_a,
        users=users, programme=programme, open_programme=open_programme, consortium_a=consortium_a,
        consortium_b=consortium_b, org_a=org_a, app_a=app_a, app_b=app_b, app_sealed=app_sealed,
        version_a=app_a.versions.get(number=1), attachment_a=attachment_a, attachment_sealed=attachment_sealed,
        phase=phase, asg_ok=asg_ok, asg_conflicted=asg_conflicted, asg_other=asg_other, result_a=result_a,
        appeal_a=appeal_a, run=run, cluster=cluster, allocation_a=allocations[0], notice_a=notice_a,
        notice_b=notice_b, export=export,
    )  # fmt: skip


def _reporting(programme, users, run, cluster, consortium_a):
    """Team A's report for this period (with a spending line) and a reclaim proposed to A."""
    from gpu_allocation.models import GpuReclaim
    from reporting import services
    from reporting.models import ProgressReport, ReportingPlan
    from tests.factories_consortia import pdf_bytes

    ReportingPlan.objects.create(programme=programme, first_period_start=timezone.localdate().replace(day=1))
    services.reports_ensure(programme=programme)
    report_a = ProgressReport.objects.get(consortium=consortium_a)
    spending_a = services.report_add_spending(
        report=report_a, by=users["a_owner"], category="purchase", amount=120_000_000,
        description="말뭉치 구매", evidence=SimpleUploadedFile("invoice.pdf", pdf_bytes(), content_type="application/pdf"),
    )  # fmt: skip
    reclaim_a = GpuReclaim.objects.create(
        programme=programme, consortium=consortium_a, allocation=run.allocations.get(consortium=consortium_a),
        cluster=cluster, nodes=2, gpus=16, reason="SEC-RECLAIM-사유", proposed_by=users["officer"],
        respond_by=timezone.now() + timedelta(days=14),
    )  # fmt: skip
    return report_a, spending_a, reclaim_a


def world_snapshot() -> dict:
    """The rows a write could touch, as plain values (compared before/after a refused write)."""
    from consortia.models import (
        Affiliation,
        Application,
        ApplicationVersion,
        Attachment,
        Consortium,
        ConsortiumMember,
        Invitation,
        Organisation,
    )
    from evaluations.models import Appeal, Assignment, ConflictDeclaration, Phase, PhaseResult, Score
    from gpu_allocation.models import Allocation, AllocationRun, AwardNotice, GpuReclaim, NoticeExport
    from portal.models import AuditEntry, Programme
    from reporting.models import GpuUsage, ProgressReport, Spending

    models = [ProgressReport, GpuUsage, Spending, GpuReclaim, Programme, Organisation, Affiliation, ApplicationVersion, Consortium, ConsortiumMember, Invitation, Application, Attachment, Phase, Assignment,
              ConflictDeclaration, Score, PhaseResult, Appeal, AllocationRun, Allocation, AwardNotice,
              NoticeExport]  # fmt: skip
    snap = {m.__name__: sorted(map(repr, m.objects.order_by("pk").values())) for m in models}
    # Refused attempts are themselves audited (access.refused); every other entry is a change.
    snap["AuditEntry"] = AuditEntry.objects.exclude(action="access.refused").count()
    return snap


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """The shared world, rolled back when the module's tests are done."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            built = build_world()
            built.clients = _clients(built)
            yield built
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


def _clients(world: World) -> dict:
    """A logged-in page client and a token API client per actor, made once with the world
    (their sessions and tokens live as long as the world)."""
    from django.test import Client
    from rest_framework.test import APIClient

    from tests.conftest import mark_reauthenticated, token_client

    clients = {}
    for name in ACTORS:
        user = world.users.get(name)
        api, page = APIClient(), Client()
        if user is not None:
            api = token_client(user)
            page.force_login(user)
            mark_reauthenticated(page, user)
        clients[(name, True)], clients[(name, False)] = api, page
    return clients


@pytest.fixture
def as_actor(world, db):
    """``as_actor(name, api=False)``: the actor's client (a token APIClient when ``api``)."""

    def make(name: str, *, api: bool = False):
        return world.clients[(name, api)]

    return make


@pytest.fixture
def folders(settings, tmp_path):
    """Upload tests: ``(media, temporary uploads)``: the storage's folder and Django's temporary-file folder."""
    media, temporary = tmp_path / "media", tmp_path / "upload-tmp"
    media.mkdir()
    temporary.mkdir()
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {**settings.STORAGES["default"], "OPTIONS": {"location": str(media)}},
    }
    settings.MEDIA_ROOT = str(media)
    settings.FILE_UPLOAD_TEMP_DIR = str(temporary)
    return media, temporary
