"""Celery tasks of ``gpu_allocation``: thin wrappers around idempotent services (STYLE §6)."""

from celery import shared_task
from django.db import InterfaceError, OperationalError

from gpu_allocation.services import EXECUTE_TASK, MAX_ATTEMPTS, allocation_run_execute, allocation_run_recover_stale
from portal.outbox import outbox_done, outbox_message_id


@shared_task(
    bind=True,
    name=EXECUTE_TASK,
    acks_late=True,
    # A lost or terminated database session surfaces as either error; both are transient.
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=MAX_ATTEMPTS,
)
def allocation_run_execute_task(self, *, run_id: int) -> str | None:
    """Execute one allocation run. Safe to run twice: the service locks the run row, returns at
    once if the run is final and writes all results in one transaction. ``acks_late`` means a
    worker killed mid-run leaves the message unacknowledged, so the broker redelivers it.

    Published through the outbox (:func:`gpu_allocation.services.enqueue_run`): once the run is
    final, the row that published this message is done (its id is in the task id).
    """
    run = allocation_run_execute(run_id=run_id)
    message_id = outbox_message_id(self.request.id)
    if message_id is not None:
        outbox_done(message_id=message_id)
    return run.status if run is not None else None


@shared_task(name="gpu_allocation.recover_stale_runs")
def allocation_run_recover_stale_task() -> list[int]:
    """Publish again the task of runs whose message was lost (broker down at start, worker gone).
    Scheduled by beat; itself a periodic task, not an effect to record, so not in the outbox."""
    return allocation_run_recover_stale()
