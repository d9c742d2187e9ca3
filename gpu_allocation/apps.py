from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GpuAllocationConfig(AppConfig):
    name = "gpu_allocation"
    verbose_name = _("GPU and budget allocation")

    def ready(self) -> None:
        from gpu_allocation import notice_rules, notice_tasks  # noqa: F401 -- award-notice rules and tasks register on import
