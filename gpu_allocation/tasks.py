"""Celery tasks of ``gpu_allocation``: thin wrappers around idempotent services (STYLE §6)."""

from celery import shared_task
from django.db import InterfaceError, OperationalError

from gpu_allocation.services import MAX_ATTEMPTS, allocation_run_execute, allocation_run_recover_stale


@shared_task(
    bind=True,
    name="gpu_allocation.execute_run",
    acks_late=True,
    # A lost or terminated database session surfaces as either error; both are transient.
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=MAX_ATTEMPTS,
)
def allocation_run_execute_task(self, *, run_id: int) -> str | None:
    """Execute one allocation run. Safe to run twice: the service locks the run row, returns at
    once if the run is final and writes all results in one transaction. ``acks_late`` means a
    worker killed mid-run leaves the message unacknowledged, so the broker redelivers it."""
    run = allocation_run_execute(run_id=run_id)
    return run.status if run is not None else None


@shared_task(name="gpu_allocation.recover_stale_runs")
def allocation_run_recover_stale_task() -> list[int]:
    """Re-enqueue runs whose task was lost (broker down at start, worker gone). Scheduled by beat."""
    return allocation_run_recover_stale()
