"""Thin Celery wrappers around evaluation services (safe to run twice)."""

from celery import shared_task


@shared_task(name="evaluations.make_final_due")
def phases_make_final_due_task() -> int:
    """Make published phases final once their appeal window closed with no open appeal."""
    from evaluations.services import phases_make_final_due

    return phases_make_final_due()


@shared_task(bind=True, name="evaluations.warm_live_ranking", acks_late=True)
def warm_live_ranking_task(self, phase_id: int) -> bool:
    """Compute a phase's live ranking into the cache unless it is there already (idempotent)."""
    from evaluations.ranking import live_ranking_warm
    from portal.outbox import outbox_done, outbox_message_id

    computed = live_ranking_warm(phase_id=phase_id)
    message_id = outbox_message_id(self.request.id)
    if message_id is not None:
        outbox_done(message_id=message_id)
    return computed


@shared_task(name="evaluations.send_scoring_reminders")
def scoring_reminders_send_task() -> int:
    """Queue the reminders due before scoring windows close (each goes out once; run often)."""
    from evaluations.reminders import scoring_reminders_send

    return scoring_reminders_send()
