from django.conf import settings
from django.core.checks import Error, Tags, register


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


@register(Tags.security, deploy=True)
def check_shared_cache(app_configs, **kwargs):
    """Several web workers need a shared cache for throttling and sessions."""
    backend = settings.CACHES["default"]["BACKEND"]
    if backend.endswith("LocMemCache"):
        return [Error("The cache lives in one process's memory.", hint="Set REDIS_URL.", id="portal.E002")]
    return []
