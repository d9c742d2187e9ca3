"""Reminders before a report is due (through the outbox, once per report and reminder day)."""

from celery import shared_task


@shared_task(name="reporting.send_report_reminders")
def send_report_reminders() -> int:
    from reporting.services import report_reminders_send

    return report_reminders_send()
