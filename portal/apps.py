from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = _("Portal")

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from portal import checks, signals  # noqa: F401 -- registers checks and signal receivers
        from portal.sites import site_sync

        # After django.contrib.sites made its default site: name it and give it the portal's domain.
        post_migrate.connect(site_sync, sender=self, dispatch_uid="portal.site_sync")
