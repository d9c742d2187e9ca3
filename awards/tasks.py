"""Celery tasks for award notices: thin wrappers around idempotent services (STYLE §6).

Both are published through the outbox, whose rows store the task's name, so they keep the
names they were registered under when notices lived in ``gpu_allocation``
(``gpu_allocation.notice_export_build``, ``gpu_allocation.notice_issue_for_run``): rows
recorded before the move are still delivered.
"""

from celery import shared_task
from django.contrib.auth import get_user_model
from django.db import OperationalError

from awards import services
from awards.signing import SigningUnavailable
from gpu_allocation.enums import ExportStatus
from gpu_allocation.models import AllocationRun, NoticeExport
from portal.errors import DomainError
from portal.models import OutboxMessage
from portal.outbox import outbox_done, outbox_fail, outbox_message_id


@shared_task(
    bind=True,
    name=services.EXPORT_TASK,
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=3,
    soft_time_limit=600,
    time_limit=900,
)
def notice_export_build_task(self, *, export_id: int) -> str:
    """Build one ZIP export. Safe to run twice: a final export returns at once; a redelivered
    message (killed worker) rebuilds the ZIP from the stored PDFs, which never change.

    Published through the outbox by :func:`awards.services.notice_export_start` (row
    ``notice-export:<id>``); the row is done once the export is final, succeeded or failed
    (the failure is on the export row and audited), so a lost message is published again.
    """
    key = services.notice_export_outbox_key(export_id)
    try:
        export = services.notice_export_build(export_id=export_id)
    except Exception:
        failed = NoticeExport.objects.filter(pk=export_id, status=ExportStatus.FAILED)
        error = failed.values_list("error", flat=True).first()
        if error is not None:  # the failure is recorded on the export: nothing left to deliver
            outbox_done(dedupe_key=key, note=error[:300])
        raise
    outbox_done(dedupe_key=key, note=export.error[:300])
    return export.status


@shared_task(
    bind=True,
    name=services.ISSUE_TASK,
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=3,
)
def notice_issue_for_run_task(self, *, run_id: int, by_id: int | None = None) -> list[str]:
    """Issue (render and sign) the notices of an approved run; teams with a notice are skipped.

    Published through the outbox on commit of the run's approval (row ``notices:run:<id>``)
    and by the *Issue notices* button (a row of its own). The signing key is used here, in
    the worker, only. When it cannot be used (missing, unreadable, expired) nothing is
    issued: the failure is audited (``award_notice.issue_fail``, shown on the notices page)
    and the outbox row is marked failed, to be requested again once the key is fixed.
    """
    by = get_user_model().objects.filter(pk=by_id).first() if by_id else None
    run = AllocationRun.objects.get(pk=run_id)
    key = f"notices:run:{run_id}"  # the outbox row of the approval (gpu_allocation/services.py)
    message_id = outbox_message_id(self.request.id)
    try:
        numbers = [n.number for n in services.notice_issue_for_run(run=run, by=by)]
    except SigningUnavailable as exc:
        services.notice_issue_failed(run=run, by=by, error=exc.message)
        keys = {key}
        if message_id is not None:
            keys |= set(OutboxMessage.objects.filter(pk=message_id).values_list("dedupe_key", flat=True))
        for dedupe_key in keys:
            outbox_fail(dedupe_key=dedupe_key, error=exc.message[:300])
        return []
    except DomainError as exc:  # approved and superseded before its notices were issued
        outbox_done(dedupe_key=key, note=exc.message[:300])
        if message_id is not None:
            outbox_done(message_id=message_id, note=exc.message[:300])
        return []
    # The notices are recorded: only now is the outbox row done (a lost message is published again).
    outbox_done(dedupe_key=key)
    if message_id is not None:
        outbox_done(message_id=message_id)
    return numbers
