from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


@register(Tags.security, deploy=True)
def check_celery_broker_required(app_configs, **kwargs):
    """Production must not run tasks in-process: they would die with the web worker."""
    if getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False) or settings.CELERY_BROKER_URL.startswith("memory://"):
        return [
            Error(
                "Celery has no broker: tasks would run inside web requests.",
                hint="Set REDIS_URL in the environment.",
                id="portal.E001",
            )
        ]
    return []


@register(Tags.security)
def check_portal_base_url(app_configs, **kwargs):
    """Production needs the portal's public address: e-mail links and the award notices'
    verification URL and QR code are built from it, never from a development default."""
    if not getattr(settings, "PORTAL_BASE_URL_REQUIRED", False):
        return []
    from urllib.parse import urlsplit

    url = urlsplit(settings.PORTAL_BASE_URL or "")
    if url.scheme not in ("https", "http") or not url.netloc:
        return [
            Error(
                "PORTAL_BASE_URL is not set: e-mails and award notices would point nowhere.",
                hint="Set PORTAL_BASE_URL to the portal's public address, e.g. https://portal.example.kr.",
                id="portal.E003",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def check_shared_cache(app_configs, **kwargs):
    """Several web workers need a shared cache for throttling and sessions."""
    backend = settings.CACHES["default"]["BACKEND"]
    if backend.endswith("LocMemCache"):
        return [Error("The cache lives in one process's memory.", hint="Set REDIS_URL.", id="portal.E002")]
    return []


def broker_eviction_policy() -> str | None:
    """The broker's ``maxmemory-policy`` (read from ``INFO memory``), or None when there is
    no Redis broker or it cannot be reached within a second."""
    url = settings.CELERY_BROKER_URL
    if getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False) or not url.startswith(("redis://", "rediss://")):
        return None
    import redis

    try:
        info = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).info("memory")
    except Exception:  # noqa: BLE001 -- an unreachable broker is the health check's to report
        return None
    return info.get("maxmemory_policy")


@register(Tags.compatibility, deploy=True)
def check_broker_keeps_keys(app_configs, **kwargs):
    """A broker that evicts keys under memory pressure silently drops queued tasks (an
    allocation run that never starts, a notice never sent): Redis must say ``noeviction``."""
    policy = broker_eviction_policy()
    if policy is not None and policy != "noeviction":
        return [
            Warning(
                f"The Celery broker's Redis evicts keys under memory pressure (maxmemory-policy {policy}): "
                "queued tasks can be lost.",
                hint="Configure the broker's Redis with 'maxmemory-policy noeviction' (docker-compose.yml does).",
                id="portal.W101",
            )
        ]
    return []
