"""The transactional outbox: web requests never wait on the broker.

A service calls :func:`outbox_publish` inside its transaction; the row commits with the
change. After commit, one quick attempt publishes it (bounded by the broker connection
timeout, no publish retries); if the broker is down the request still succeeds and the
row waits. :func:`outbox_drain` (a periodic task, and ``manage.py outbox_drain``)
publishes what is pending. Rows are locked with SKIP LOCKED while being published, so
two drainers never publish the same row; tasks are idempotent, so even a publish whose
commit was lost does no harm.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from portal.models import OutboxMessage

log = logging.getLogger(__name__)


def outbox_publish(*, task_name: str, kwargs: dict, dedupe_key: str) -> OutboxMessage:
    """Record a task to publish after the current transaction commits (once per key)."""
    message, created = OutboxMessage.objects.get_or_create(
        dedupe_key=dedupe_key, defaults={"task_name": task_name, "kwargs": kwargs}
    )
    if created:
        transaction.on_commit(lambda: outbox_dispatch(message_id=message.pk))
    return message


def _publish(message: OutboxMessage) -> None:
    from portal.celery import app

    if message.task_name not in app.tasks:
        # NOTE: web processes import task modules lazily; load every app's tasks.py once.
        app.loader.import_default_modules()
    task = app.tasks[message.task_name]
    # NOTE: retry=False: one bounded attempt (broker_connection_timeout); the drainer retries.
    task.apply_async(kwargs=message.kwargs, retry=False)


def outbox_dispatch(*, message_id: int) -> bool:
    """Publish one pending message; True if it is (now) published."""
    try:
        with transaction.atomic():
            message = (
                OutboxMessage.objects.select_for_update(skip_locked=True)
                .filter(pk=message_id, dispatched_at__isnull=True)
                .first()
            )
            if message is None:
                return OutboxMessage.objects.filter(pk=message_id, dispatched_at__isnull=False).exists()
            try:
                _publish(message)
            except Exception as exc:  # noqa: BLE001 -- any broker failure leaves the row pending
                OutboxMessage.objects.filter(pk=message.pk).update(
                    attempts=message.attempts + 1, last_error=f"{exc.__class__.__name__}: {exc}"[:300]
                )
                log.warning("outbox: %s not published yet (%s)", message.task_name, exc.__class__.__name__)
                return False
            OutboxMessage.objects.filter(pk=message.pk).update(
                dispatched_at=timezone.now(), attempts=message.attempts + 1
            )
            return True
    except Exception:  # noqa: BLE001 -- the database itself failed; the drainer will retry
        log.exception("outbox: dispatch of %s failed", message_id)
        return False


def outbox_drain(*, limit: int = 500) -> int:
    """Publish pending messages, oldest first; returns how many were published."""
    pending = list(
        OutboxMessage.objects.filter(dispatched_at__isnull=True).order_by("id").values_list("pk", flat=True)[:limit]
    )
    return sum(1 for pk in pending if outbox_dispatch(message_id=pk))
