"""Writes of award notices, with what they need: numbering, the PDF's wording and context,
issuing, verification of an upload, the ZIP export. Reads are in ``awards.selectors``.

Flow (SPEC §7):

1. An officer approves an allocation run (``gpu_allocation.services``). The approval, or
   an officer pressing *Issue notices* (:func:`notice_issue_request`), enqueues the Celery
   task that calls :func:`notice_issue_for_run` in the worker, which renders one PDF per
   team, signs it (PAdES, ``awards.signing``; no usable key: nothing is
   issued, the failure is audited and shown), stores it through Django's storage API with
   its SHA-256 and a random verification code, and supersedes the notices of earlier
   approved runs.
2. Anyone holding a notice checks it at ``/verify/<code>/`` (number, date, team, digest;
   uploading the PDF compares digests and validates its signature).
3. An administrator builds a ZIP of every notice of a run with
   :func:`notice_export_start`, which publishes its build through the outbox; the Celery
   task runs :func:`notice_export_build`, which fills it and records progress on the
   ``NoticeExport`` row.

Invariants: one notice per allocation (OneToOne); a notice's PDF bytes never change after
issue (its digest is what verification compares); only notices of the run in force are
current — every other notice shows as superseded.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import secrets
import uuid
import zipfile
from dataclasses import dataclass
from datetime import date, datetime

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from awards.signing import field_box, notice_sign_pdf, notice_signer_load, timestamp_configured
from gpu_allocation.enums import ExportStatus, RunStatus
from gpu_allocation.models import Allocation, AllocationRun, AwardNotice, NoticeExport
from gpu_allocation.workflow import export_move
from portal.audit import audit_record
from portal.errors import DomainError
from portal.formatting import format_date_dotted, format_date_en, format_date_ko, format_number, krw, krw_korean
from portal.outbox import outbox_publish
from portal.pdf import render_pdf_with_anchors

logger = logging.getLogger(__name__)

NOTICE_TEMPLATE = "pdf/award_notice.html"
# Crockford's base32 alphabet: no I, L, O or U, so a code read aloud or typed is unambiguous.
_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CODE_GROUPS, _CODE_GROUP_LEN = 5, 4  # 20 symbols × 5 bits = 100 random bits


def notice_number(*, prefix: str, year: int, sequence: int) -> str:
    """``IAFM-2025-AN-0001``: programme prefix, programme year, AN (award notice), sequence."""
    return f"{prefix}-{year}-AN-{sequence:04d}"


def verification_code_new() -> str:
    """A random, unguessable code in groups: ``7KQ2-M9XD-...`` (100 bits from ``secrets``)."""
    symbols = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(_CODE_GROUPS * _CODE_GROUP_LEN))
    return "-".join(symbols[i : i + _CODE_GROUP_LEN] for i in range(0, len(symbols), _CODE_GROUP_LEN))


def verification_url(code: str) -> str:
    return settings.PORTAL_BASE_URL.rstrip("/") + reverse("verify:notice", kwargs={"code": code})


def qr_data_uri(url: str) -> str:
    """An SVG QR code of ``url`` as a data: URI (the PDF fetcher accepts only such URIs)."""
    import segno

    return segno.make(url, error="m").svg_data_uri(border=0, dark="#111111")


# --------------------------------------------------------------------------- context

_DECISION_WORDS = {
    "selected": ("선정", "Selected"),
    "kept": ("계속 지원", "Continued"),
    "reserve": ("예비", "Reserve"),
    "not_selected": ("미선정", "Not selected"),
    "eliminated": ("탈락", "Eliminated"),
}

CONDITIONS = [
    (
        "배정된 GPU와 데이터 예산은 이 통지서에 적힌 기간 동안 신청서에 기재된 파운데이션 모델 개발에만 사용해야 합니다.",
        "The GPUs and data budget may be used only for the foundation-model work described in the proposal, during the period stated in this notice.",
    ),
    (
        "데이터 예산은 데이터 구축·가공 목적으로 집행하며, 집행 내역과 증빙을 매 단계평가 전에 제출해야 합니다.",
        "The data budget is spent on data construction and processing; spending records and evidence are submitted before each stage evaluation.",
    ),
    (
        "배정은 단계평가 결과에 따라 조정·회수될 수 있으며, 새로운 배정이 승인되면 이 통지서는 효력을 잃습니다.",
        "The allocation may be adjusted or withdrawn after a stage evaluation; a newly approved allocation supersedes this notice.",
    ),
    (
        "GPU 자원은 제3자에게 양도하거나 재배정할 수 없습니다.",
        "GPU resources may not be transferred or re-allocated to third parties.",
    ),
]


def _team_members(allocation: Allocation) -> list[dict]:
    return [
        {"name_ko": m.organisation.name_ko, "name_en": m.organisation.name_en, "role": m.role}
        for m in allocation.consortium.members.all()
    ]


def notice_context(*, allocation: Allocation, number: str, code: str, issued_at: datetime) -> dict:
    """Everything the PDF template shows, as plain strings and lists (no lazy lookups).

    ``allocation`` should come from :func:`_allocations_for_notices` (related rows loaded).
    """
    run = allocation.run
    programme = run.programme
    consortium = allocation.consortium
    lead = consortium.lead_organisation
    local_issued = timezone.localtime(issued_at).date()

    grants = []
    period_start: date | None = None
    period_end: date | None = None
    for grant in allocation.grants.all():
        cluster = grant.cluster
        grants.append(
            {
                "cluster": cluster.name,
                "model": cluster.gpu_model,
                "nodes": f"{grant.nodes:,}",
                "gpus_per_node": f"{grant.gpus_per_node:,}",
                "gpus": f"{grant.gpus:,}",
                "period": f"{format_date_dotted(cluster.period_start)} ~ {format_date_dotted(cluster.period_end)}",
            }
        )
        period_start = min(period_start, cluster.period_start) if period_start else cluster.period_start
        period_end = max(period_end, cluster.period_end) if period_end else cluster.period_end

    phase = getattr(run, "_notice_phase", None)
    result = getattr(allocation, "_notice_result", None)
    decision_ko, decision_en = _DECISION_WORDS.get(getattr(result, "decision", ""), ("", ""))
    url = verification_url(code)
    return {
        "issuer_ko": settings.NOTICE_ISSUER_KO,
        "issuer_en": settings.NOTICE_ISSUER_EN,
        "programme_ko": programme.name,
        "programme_en": programme.name_en,
        "number": number,
        "issued_ko": format_date_ko(local_issued),
        "issued_en": format_date_en(local_issued),
        "consortium_ko": consortium.name,
        "consortium_en": consortium.name_en,
        "lead_ko": lead.name_ko,
        "lead_en": lead.name_en,
        "lead_business_number": lead.business_number_display,
        "members": _team_members(allocation),
        "phase_ko": phase.name if phase else "",
        "phase_en": (phase.name_en or phase.name) if phase else "",
        "decision_ko": decision_ko,
        "decision_en": decision_en,
        "rank": f"{allocation.rank}",
        "score": f"{result.score}" if result is not None else "",
        "grants": grants,
        "total_gpus": f"{allocation.total_gpus:,}",
        "equivalents": format_number(allocation.equivalents),
        "period_ko": f"{format_date_ko(period_start)} ~ {format_date_ko(period_end)}" if period_start else "",
        "period_en": f"{format_date_en(period_start)} – {format_date_en(period_end)}" if period_start else "",
        "budget_digits": krw(allocation.budget),
        "budget_words": krw_korean(allocation.budget),
        "conditions": CONDITIONS,
        "verification_code": code,
        "verification_url": url,
        "qr_data_uri": qr_data_uri(url),
        "run_id": run.pk,
    }


def _allocations_for_notices(run: AllocationRun) -> list[Allocation]:
    """The run's allocations with every row the notice shows, in a constant number of queries."""
    from evaluations.models import Phase, PhaseResult

    allocations = list(
        Allocation.objects.filter(run=run)
        .select_related("run__programme", "consortium__lead_organisation", "application")
        .prefetch_related("grants__cluster", "consortium__members__organisation")
        .order_by("rank", "id")
    )
    phase = Phase.objects.filter(pk=run.phase_id_snapshot).first() if run.phase_id_snapshot else None
    results = {}
    if phase is not None:
        results = {
            r.application_id: r
            for r in PhaseResult.objects.filter(phase=phase, application_id__in=[a.application_id for a in allocations])
        }
    for allocation in allocations:
        allocation.run._notice_phase = phase
        allocation._notice_result = results.get(allocation.application_id)
    return allocations


def notice_render(*, allocation: Allocation, number: str, code: str, issued_at: datetime, signer=None) -> bytes:
    """The PDF bytes of one notice (no database writes).

    With ``signer`` (from :func:`awards.signing.notice_signer_load`) the PDF is
    signed (PAdES), its visible signature field placed over the template's signature box.
    """
    context = notice_context(allocation=allocation, number=number, code=code, issued_at=issued_at)
    context["timestamped"] = timestamp_configured()
    pdf, anchors = render_pdf_with_anchors(template_name=NOTICE_TEMPLATE, context=context)
    if signer is None:
        return pdf
    page, box = field_box(anchors)
    return notice_sign_pdf(pdf, signer=signer, box=box, page=page)


# --------------------------------------------------------------------------- verification


@dataclass(frozen=True)
class NoticeCheck:
    matches: bool
    sha256: str
    size: int


def notice_check_upload(*, notice: AwardNotice, data: bytes) -> NoticeCheck:
    """Compare an uploaded file's SHA-256 with the digest stored when the notice was issued."""
    digest = hashlib.sha256(data).hexdigest()
    return NoticeCheck(matches=secrets.compare_digest(digest, notice.sha256), sha256=digest, size=len(data))


# --------------------------------------------------------------------------- services


def _run_in_force(run: AllocationRun) -> bool:
    return run.status == RunStatus.SUCCEEDED and run.approved_at is not None and run.superseded_at is None


def _next_number(programme) -> str:
    prefix = f"{programme.receipt_prefix}-{programme.year}-AN-"
    count = AwardNotice.objects.filter(number__startswith=prefix).count()
    while True:
        count += 1
        number = notice_number(prefix=programme.receipt_prefix, year=programme.year, sequence=count)
        if not AwardNotice.objects.filter(number=number).exists():
            return number


def _issue_one(*, allocation: Allocation, by, now: datetime, signer) -> AwardNotice:
    """Render, sign, store and record one notice; supersede the team's older notices.
    Caller holds the run lock and has loaded ``signer``."""
    programme = allocation.run.programme
    number = _next_number(programme)
    code = verification_code_new()
    while AwardNotice.objects.filter(verification_code=code).exists():  # pragma: no cover - 100 random bits
        code = verification_code_new()
    pdf = notice_render(allocation=allocation, number=number, code=code, issued_at=now, signer=signer)
    digest = hashlib.sha256(pdf).hexdigest()
    notice = AwardNotice(
        allocation=allocation,
        number=number,
        verification_code=code,
        issued_at=now,
        issued_by=by if getattr(by, "pk", None) else None,
        sha256=digest,
        size=len(pdf),
        signer=signer.subject[:400],
        signer_fingerprint=signer.fingerprint_sha256,
        timestamped=timestamp_configured(),
    )
    # NOTE: the file is written before the row commits; if the transaction rolls back the
    # file stays behind unreferenced (harmless: nothing links to it, a re-issue writes anew).
    notice.pdf.save(f"{number}.pdf", ContentFile(pdf), save=False)
    notice.save()
    audit_record(
        action="award_notice.issue",
        obj=notice,
        actor=by,
        after={
            "number": number,
            "sha256": digest,
            "allocation": allocation.pk,
            "run": allocation.run_id,
            "signer": notice.signer,
            "signer_fingerprint": notice.signer_fingerprint,
            "timestamped": notice.timestamped,
        },
    )
    older = AwardNotice.objects.filter(
        allocation__consortium_id=allocation.consortium_id,
        allocation__run__programme_id=programme.pk,
        superseded_at__isnull=True,
    ).exclude(pk=notice.pk)
    for old in older.select_for_update():
        old.superseded_by = notice
        old.superseded_at = now
        old.save(update_fields=["superseded_by", "superseded_at"])
        audit_record(
            action="award_notice.supersede", obj=old, actor=by, after={"superseded_by": notice.number}, reason=number
        )
    return notice


@transaction.atomic
def notice_issue_for_run(*, run: AllocationRun, by) -> list[AwardNotice]:
    """Issue a notice for every team of ``run`` (the approved run in force). Idempotent.

    Effects: locks the run row; for each allocation without a notice, renders and stores
    the PDF, records number, code and SHA-256, and marks the same consortium's earlier
    notices of this programme superseded; notices of earlier runs for teams no longer in
    this run are marked superseded too. Audited. Returns the run's notices, rank order.
    Raises DomainError when the run is not the approved allocation in force, and
    :class:`~awards.signing.SigningUnavailable` (a DomainError) before
    anything is rendered when the signing key cannot be used: nothing is issued unsigned.
    """
    run = AllocationRun.objects.select_for_update().select_related("programme").get(pk=run.pk)
    if not _run_in_force(run):
        raise DomainError(
            "Notices are issued only for the approved allocation in force; approve this run first.",
            code="run_not_in_force",
        )
    now = timezone.now()
    allocations = _allocations_for_notices(run)
    existing = {n.allocation_id: n for n in AwardNotice.objects.filter(allocation__run=run)}
    signer = notice_signer_load() if any(a.pk not in existing for a in allocations) else None
    notices = []
    for allocation in allocations:
        notice = existing.get(allocation.pk) or _issue_one(allocation=allocation, by=by, now=now, signer=signer)
        notices.append(notice)
    # Teams of earlier approved runs that are not in this run: their notices lapse.
    teams = [a.consortium_id for a in allocations]
    lapsed = (
        AwardNotice.objects.select_for_update()
        .filter(allocation__run__programme_id=run.programme_id, superseded_at__isnull=True)
        .exclude(allocation__run=run)
        .exclude(allocation__consortium_id__in=teams)
    )
    for old in lapsed:
        old.superseded_at = now
        old.save(update_fields=["superseded_at"])
        audit_record(
            action="award_notice.supersede", obj=old, actor=by, after={"superseded_by": None}, reason=f"run {run.pk}"
        )
    return notices


ISSUE_TASK = "gpu_allocation.notice_issue_for_run"


def notice_issue_request(*, run: AllocationRun, by):
    """Ask the worker to issue the missing notices of ``run`` (the *Issue notices* button).

    The signing key lives with the worker only, so pages never render or sign: this checks
    that the run is in force, audits the request and records an outbox row whose task
    (``gpu_allocation.notice_issue_for_run``) is published after commit. Returns the row.
    Raises DomainError when the run is not the approved allocation in force.
    """
    with transaction.atomic():
        run = AllocationRun.objects.select_for_update().get(pk=run.pk)
        if not _run_in_force(run):
            raise DomainError(
                "Notices are issued only for the approved allocation in force; approve this run first.",
                code="run_not_in_force",
            )
        audit_record(action="award_notice.issue_request", obj=run, actor=by, after={"run": run.pk})
        return outbox_publish(
            task_name=ISSUE_TASK,
            kwargs={"run_id": run.pk, "by_id": getattr(by, "pk", None)},
            dedupe_key=f"notices:run:{run.pk}:request:{uuid.uuid4().hex}",
        )


def notice_issue_failed(*, run: AllocationRun, by, error: str) -> None:
    """Record that issuing the notices of ``run`` failed (audited; shown on the notices page)."""
    logger.error("award notices of run %s were not issued: %s", run.pk, error)
    audit_record(action="award_notice.issue_fail", obj=run, actor=by, after={"error": error[:1000]})


def notice_issue_for_allocation(*, allocation_id: int, by) -> AwardNotice | None:
    """Issue the notice of one allocation if missing (used by the ZIP task for progress). Idempotent.

    Returns None when the allocation's run is not in force and it has no notice; raises
    :class:`~awards.signing.SigningUnavailable` when it would have to sign
    and cannot.
    """
    with transaction.atomic():
        allocation = Allocation.objects.select_related("run").get(pk=allocation_id)
        run = AllocationRun.objects.select_for_update().get(pk=allocation.run_id)
        existing = AwardNotice.objects.filter(allocation_id=allocation_id).first()
        if existing is not None or not _run_in_force(run):
            return existing
        signer = notice_signer_load()
        loaded = next(a for a in _allocations_for_notices(run) if a.pk == allocation_id)
        return _issue_one(allocation=loaded, by=by, now=timezone.now(), signer=signer)


# --------------------------------------------------------------------------- ZIP export


def zip_member_name(notice: AwardNotice) -> str:
    """``IAFM-2025-AN-0001_한빛AI컨소시엄.pdf``: number, then the consortium name with only
    letters, digits, ``-`` and ``_`` kept (no path separators, no dots)."""
    name = re.sub(r"[^\w-]+", "_", notice.allocation.consortium.name, flags=re.UNICODE).strip("_")[:60]
    return f"{notice.number}_{name or notice.allocation.consortium_id}.pdf"


EXPORT_TASK = "gpu_allocation.notice_export_build"


def notice_export_outbox_key(export_id: int) -> str:
    """The outbox row that asks for the build of one export (settled by the task once final)."""
    return f"notice-export:{export_id}"


def notice_export_start(*, run: AllocationRun, by) -> NoticeExport:
    """Create a ZIP export of ``run``'s notices; its build is published through the outbox
    (row ``notice-export:<id>``) after commit.

    Idempotent while one is queued or running: that export is returned (the database
    allows one active export per run). Raises DomainError if the run has no allocations or
    is neither in force nor already issued.
    """
    with transaction.atomic():
        run = AllocationRun.objects.select_for_update().get(pk=run.pk)
        active = NoticeExport.objects.filter(run=run, status__in=[ExportStatus.QUEUED, ExportStatus.RUNNING]).first()
        if active is not None:
            return active
        if not run.allocations.exists():
            raise DomainError("This run has no allocations to export.", code="nothing_to_export")
        if not _run_in_force(run) and not AwardNotice.objects.filter(allocation__run=run).exists():
            raise DomainError(
                "No notices were issued for this run, and it is not the approved allocation in force.",
                code="run_not_in_force",
            )
        export = NoticeExport.objects.create(run=run, created_by=by)
        audit_record(action="notice_export.start", obj=export, actor=by, after={"run": run.pk})
        outbox_publish(
            task_name=EXPORT_TASK, kwargs={"export_id": export.pk}, dedupe_key=notice_export_outbox_key(export.pk)
        )
    return export


def _set_progress(export_id: int, progress: int) -> None:
    NoticeExport.objects.filter(pk=export_id).update(progress=min(progress, 100))


def notice_export_build(*, export_id: int) -> NoticeExport:
    """Build the ZIP: one PDF per team of the run (issuing missing notices of a run in force).

    Idempotent: returns at once when the export already finished; a redelivered task
    (killed worker) starts the build over and overwrites nothing already final. Progress
    is written to the row after every notice; the ZIP and its SHA-256 are saved at the end.
    """
    with transaction.atomic():
        export = NoticeExport.objects.select_for_update().get(pk=export_id)
        if export.status in (ExportStatus.SUCCEEDED, ExportStatus.FAILED):
            return export
        export.attempts += 1
        export.progress = 0
        export_move(export=export, to=ExportStatus.RUNNING, fields=["attempts", "progress"])
    try:
        allocation_ids = list(
            Allocation.objects.filter(run_id=export.run_id).order_by("rank", "id").values_list("id", flat=True)
        )
        buffer = io.BytesIO()
        total = len(allocation_ids) or 1
        names: list[str] = []
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for index, allocation_id in enumerate(allocation_ids, start=1):
                notice = notice_issue_for_allocation(allocation_id=allocation_id, by=export.created_by)
                if notice is not None:
                    notice = AwardNotice.objects.select_related("allocation__consortium").get(pk=notice.pk)
                    with notice.pdf.open("rb") as handle:
                        data = handle.read()
                    name = zip_member_name(notice)
                    archive.writestr(name, data)
                    names.append(name)
                _set_progress(export_id, int(95 * index / total))
        if not names:
            raise DomainError("No notice could be issued for this run.", code="nothing_to_export")
        payload = buffer.getvalue()
    except Exception as exc:
        with transaction.atomic():
            export = NoticeExport.objects.select_for_update().get(pk=export_id)
            # NOTE: a final export never changes again (another delivery of the task finished it first).
            if export.status == ExportStatus.RUNNING:
                export.error = f"{type(exc).__name__}: {exc}"[:2000]
                export_move(export=export, to=ExportStatus.FAILED, fields=["error"])
                audit_record(action="notice_export.fail", obj=export, actor=None, after={"error": export.error})
        raise
    with transaction.atomic():
        export = NoticeExport.objects.select_for_update().select_related("run").get(pk=export_id)
        if export.status != ExportStatus.RUNNING:  # pragma: no cover - another delivery finished first
            return export
        export.file.save(f"notices-run-{export.run_id}-{export.pk}.zip", ContentFile(payload), save=False)
        export.sha256 = hashlib.sha256(payload).hexdigest()
        export.progress = 100
        export_move(export=export, to=ExportStatus.SUCCEEDED, fields=["file", "sha256", "progress"])
        audit_record(
            action="notice_export.finish", obj=export, actor=None, after={"sha256": export.sha256, "files": names}
        )
    return export
