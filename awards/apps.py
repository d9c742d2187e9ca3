from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AwardsConfig(AppConfig):
    """Award notices: issuing and signing, verification, ZIP exports. Their models
    (``AwardNotice``, ``NoticeExport``) live in ``gpu_allocation``, beside the allocations they
    notify; their permissions keep the ``gpu_allocation.`` prefix."""

    name = "awards"
    verbose_name = _("Award notices")

    def ready(self) -> None:
        from awards import rules, tasks  # noqa: F401 -- award-notice rules and tasks register on import
