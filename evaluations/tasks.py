"""Thin Celery wrappers around evaluation services (safe to run twice)."""

from celery import shared_task


@shared_task(name="evaluations.make_final_due")
def phases_make_final_due_task() -> int:
    """Make published phases final once their appeal window closed with no open appeal."""
    from evaluations.services import phases_make_final_due

    return phases_make_final_due()
