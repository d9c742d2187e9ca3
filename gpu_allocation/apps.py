from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GpuAllocationConfig(AppConfig):
    name = "gpu_allocation"
    verbose_name = _("GPU and budget allocation")

    def ready(self) -> None:
        from gpu_allocation import notice_rules, notice_tasks  # noqa: F401 -- award-notice rules and tasks register on import
        from portal.celery import app

        # Celery beat (django-celery-beat copies this into its table at start): re-enqueue
        # allocation runs whose task was lost, e.g. when the broker was down at start.
        app.conf.beat_schedule = {
            **(app.conf.beat_schedule or {}),
            "gpu_allocation.recover_stale_runs": {"task": "gpu_allocation.recover_stale_runs", "schedule": 60.0},
        }
