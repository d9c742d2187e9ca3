"""The Django site the e-mails speak for: its domain from ``PORTAL_BASE_URL`` and the
portal's name, set after every ``migrate`` (never the framework's "example.com")."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings

#: The site's name as e-mails and the admin show it (the brand, in Korean; templates of
#: e-mails use the translated brand of the reader's language).
SITE_NAME = "AI 파운데이션 모델 프로젝트 포털"


def portal_domain() -> str:
    """``host[:port]`` of ``PORTAL_BASE_URL`` (``127.0.0.1:8000`` by default)."""
    return urlsplit(settings.PORTAL_BASE_URL).netloc or "localhost"


def site_sync(**kwargs) -> None:
    """``post_migrate``: the current site carries the portal's domain and name."""
    from django.contrib.sites.models import Site

    Site.objects.update_or_create(pk=settings.SITE_ID, defaults={"domain": portal_domain(), "name": SITE_NAME})
    Site.objects.clear_cache()
