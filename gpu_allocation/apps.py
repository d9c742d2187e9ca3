from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GpuAllocationConfig(AppConfig):
    name = "gpu_allocation"
    verbose_name = _("GPU and budget allocation")
