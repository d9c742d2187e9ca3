from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GpuAllocationConfig(AppConfig):
    name = "gpu_allocation"
    verbose_name = _("GPU and budget allocation")

    def ready(self) -> None:
        from django.conf import settings

        from portal.celery import app

        # Celery beat (django-celery-beat copies this into its table at start): re-enqueue
        # allocation runs whose task was lost (broker down at start) or whose worker died.
        app.conf.beat_schedule = {
            **(app.conf.beat_schedule or {}),
            "gpu_allocation.recover_stale_runs": {
                "task": "gpu_allocation.recover_stale_runs",
                "schedule": settings.ALLOCATION_RECLAIM_SECONDS,
            },
        }
