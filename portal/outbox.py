"""The transactional outbox: web requests never wait on the broker, and a broker that
loses messages loses no side effect.

A service calls :func:`outbox_publish` inside its transaction; the row commits with the
change. After commit, one quick attempt publishes it (bounded by the broker connection
timeout, no publish retries); if the broker is down the request still succeeds and the
row waits.

A row is *done* only when the task records its effect (:func:`outbox_done`, in the same
transaction as the sent-mail row or the issued notices), not when the broker accepts the
message. :func:`outbox_drain` (the periodic sweep run by Celery beat, and
``manage.py outbox_drain``) publishes every row that is due: new rows the broker did not
take, rows published more than ``OUTBOX_REPUBLISH_SECONDS`` ago whose effect is still
not recorded (the broker restarted empty, the worker died), and rows whose effect was
refused and whose back-off is over (:func:`outbox_retry_later`). Publishing twice is
harmless: every task is idempotent (the mail's key is unique in the database), so each
effect happens exactly once.

Rows are locked with SKIP LOCKED while being published, so two sweeps never publish the
same row at the same moment.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from portal.enums import OutboxStatus
from portal.models import OutboxMessage

log = logging.getLogger(__name__)

#: Rows the sweep looks at: not yet done and not given up.
OPEN_STATES = (OutboxStatus.PENDING, OutboxStatus.PUBLISHED)


def _republish_after() -> timedelta:
    return timedelta(seconds=settings.OUTBOX_REPUBLISH_SECONDS)


def outbox_publish(*, task_name: str, kwargs: dict, dedupe_key: str) -> OutboxMessage:
    """Record a task to publish after the current transaction commits (once per key)."""
    message, created = OutboxMessage.objects.get_or_create(
        dedupe_key=dedupe_key, defaults={"task_name": task_name, "kwargs": kwargs}
    )
    if created:
        transaction.on_commit(lambda: outbox_dispatch(message_id=message.pk))
    return message


def outbox_publish_now(*, task_name: str, kwargs: dict, dedupe_key: str) -> bool:
    """For a recovery sweep (outside any transaction) that knows from its own rows that a
    message was lost: record the row if missing and publish it, or the open row with this key,
    at once, without waiting for its lease to run out. A settled row is left alone. True if
    the broker took it."""
    message, _created = OutboxMessage.objects.get_or_create(
        dedupe_key=dedupe_key, defaults={"task_name": task_name, "kwargs": kwargs}
    )
    return message.status in OPEN_STATES and outbox_dispatch(message_id=message.pk)


def _publish(message: OutboxMessage) -> None:
    from portal.celery import app

    if message.task_name not in app.tasks:
        # NOTE: web processes import task modules lazily; load every app's tasks.py once.
        app.loader.import_default_modules()
    task = app.tasks[message.task_name]
    # NOTE: retry=False: one bounded attempt (broker_connection_timeout); the sweep retries.
    # The task id names the row, so a task that knows no key of its own can settle it.
    task.apply_async(kwargs=message.kwargs, task_id=f"{TASK_ID_PREFIX}{message.pk}-{message.attempts + 1}", retry=False)


def outbox_dispatch(*, message_id: int) -> bool:
    """Publish one open message now; True if the broker took it."""
    return _dispatch(message_id, due_only=False) == "published"


def _dispatch(message_id: int, *, due_only: bool) -> str:
    """``published``, ``refused`` (by the broker) or ``skipped`` (settled, locked by another
    sweep, or — with ``due_only`` — its lease or back-off still running)."""
    now = timezone.now()
    try:
        with transaction.atomic():
            rows = OutboxMessage.objects.select_for_update(skip_locked=True).filter(
                pk=message_id, status__in=OPEN_STATES
            )
            if due_only:
                rows = rows.filter(next_attempt_at__lte=now)
            message = rows.first()
            if message is None:
                return "skipped"
            try:
                _publish(message)
            except Exception as exc:  # noqa: BLE001 -- any broker failure leaves the row due
                OutboxMessage.objects.filter(pk=message.pk).update(
                    attempts=F("attempts") + 1, last_error=f"{exc.__class__.__name__}: {exc}"[:300]
                )
                log.warning("outbox: %s not published yet (%s)", message.task_name, exc.__class__.__name__)
                return "refused"
            # NOTE: the filter leaves alone a row the task already settled: a task run
            # in-process (no broker) records its effect before this line.
            OutboxMessage.objects.filter(pk=message.pk, status__in=OPEN_STATES, failures=message.failures).update(
                status=OutboxStatus.PUBLISHED,
                dispatched_at=now,
                next_attempt_at=now + _republish_after(),
                attempts=F("attempts") + 1,
            )
            return "published"
    except Exception:  # noqa: BLE001 -- the database itself failed; the sweep will retry
        log.exception("outbox: dispatch of %s failed", message_id)
        return "refused"


def outbox_drain(*, limit: int = 500) -> int:
    """Publish the rows that are due, oldest first; returns how many were published.

    Stops at the first row the broker refuses: the others would wait on it in turn.
    """
    due = list(
        OutboxMessage.objects.filter(status__in=OPEN_STATES, next_attempt_at__lte=timezone.now())
        .order_by("id")
        .values_list("pk", "dispatched_at")[:limit]
    )
    published = 0
    for pk, dispatched_at in due:
        if dispatched_at is not None:
            log.info(
                "outbox: message %s published at %s has no recorded effect; publishing it again", pk, dispatched_at
            )
        outcome = _dispatch(pk, due_only=True)
        if outcome == "published":
            published += 1
        elif outcome == "refused":
            break
    return published


def outbox_done(*, dedupe_key: str = "", message_id: int | None = None, note: str = "") -> bool:
    """Record that the effect of the row with this key (or id) happened; call it in the
    transaction that records the effect. ``note`` says why when there was nothing to do.
    True if a row was settled now."""
    rows = (
        OutboxMessage.objects.filter(pk=message_id)
        if message_id is not None
        else OutboxMessage.objects.filter(dedupe_key=dedupe_key)
    )
    return bool(
        rows.exclude(status=OutboxStatus.DONE).update(status=OutboxStatus.DONE, done_at=timezone.now(), last_error=note)
    )


TASK_ID_PREFIX = "outbox-"


def outbox_message_id(task_id: str | None) -> int | None:
    """The outbox row a task was published for, read from its task id (``outbox-<id>-<n>``)."""
    if not task_id or not task_id.startswith(TASK_ID_PREFIX):
        return None
    head = task_id[len(TASK_ID_PREFIX) :].split("-", 1)[0]
    return int(head) if head.isdigit() else None


def retry_delay(failures: int) -> timedelta:
    """Back-off before the next attempt after ``failures`` refused ones: doubling from
    ``OUTBOX_RETRY_BASE_SECONDS``, at most ``OUTBOX_RETRY_MAX_SECONDS``."""
    base = settings.OUTBOX_RETRY_BASE_SECONDS
    return timedelta(seconds=min(base * 2 ** max(failures - 1, 0), settings.OUTBOX_RETRY_MAX_SECONDS))


def outbox_retry_later(*, dedupe_key: str, error: str, give_up_after: timedelta) -> str | None:
    """The effect was refused for a passing reason (a mail server answering 4xx, a refused
    connection): schedule another attempt after the back-off, or, once the first refusal is
    older than ``give_up_after``, give up (:func:`outbox_fail`). Returns the row's new
    status, ``None`` when there is no such row."""
    now = timezone.now()
    with transaction.atomic():
        message = OutboxMessage.objects.select_for_update().filter(dedupe_key=dedupe_key).first()
        if message is None:
            return None
        if message.status not in OPEN_STATES:
            return message.status
        first = message.first_failure_at or now
        if now - first >= give_up_after:
            return _mark_failed(message, error=error, now=now, first=first)
        message.failures += 1
        message.first_failure_at = first
        message.last_error = error[:300]
        message.status = OutboxStatus.PENDING
        message.next_attempt_at = now + retry_delay(message.failures)
        message.save(update_fields=["failures", "first_failure_at", "last_error", "status", "next_attempt_at"])
        log.warning(
            "outbox: %s refused (%s); attempt %s, next at %s",
            dedupe_key,
            error,
            message.failures,
            message.next_attempt_at.isoformat(),
        )
        return message.status


def outbox_fail(*, dedupe_key: str, error: str) -> str | None:
    """The effect was refused for good (a mail server answering 5xx): the row is failed."""
    now = timezone.now()
    with transaction.atomic():
        message = OutboxMessage.objects.select_for_update().filter(dedupe_key=dedupe_key).first()
        if message is None:
            return None
        if message.status not in OPEN_STATES:
            return message.status
        return _mark_failed(message, error=error, now=now, first=message.first_failure_at or now)


def _mark_failed(message: OutboxMessage, *, error: str, now, first) -> str:
    """The visible failed state and the alert: the row (admin, ``status=failed``), an audit
    entry and a log line at ERROR."""
    from portal.audit import audit_record

    message.failures += 1
    message.first_failure_at = first
    message.last_error = error[:300]
    message.status = OutboxStatus.FAILED
    message.failed_at = now
    message.save(update_fields=["failures", "first_failure_at", "last_error", "status", "failed_at"])
    audit_record(
        action="outbox.failed",
        obj=message,
        after={"dedupe_key": message.dedupe_key, "failures": message.failures, "error": message.last_error},
    )
    log.error(
        "outbox: gave up on %s after %s attempts since %s: %s",
        message.dedupe_key,
        message.failures,
        first.isoformat(),
        error,
    )
    return message.status
