from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportingConfig(AppConfig):
    name = "reporting"
    verbose_name = _("Reports after the award")

    def ready(self) -> None:
        from django.conf import settings

        from portal.celery import app
        from reporting import tasks  # noqa: F401 -- the reminder task registers on import

        # Reminders before a report is due: the task is idempotent, so it may run often.
        app.conf.beat_schedule = {
            **(app.conf.beat_schedule or {}),
            "reporting.send_report_reminders": {
                "task": "reporting.send_report_reminders",
                "schedule": getattr(settings, "REPORTING_REMINDER_SECONDS", 3600),
            },
        }
