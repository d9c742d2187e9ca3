"""Health of the parts the portal needs: database, cache, broker and a Celery worker."""

from django.conf import settings
from django.core.cache import cache
from django.db import connection


def _check_database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return {"status": "ok", "vendor": connection.vendor}
    except Exception as exc:  # noqa: BLE001 -- any failure means unhealthy, reported as text
        return {"status": "down", "error": exc.__class__.__name__}


def _check_cache() -> dict:
    try:
        cache.set("healthz", "1", 5)
        return {"status": "ok" if cache.get("healthz") == "1" else "down"}
    except Exception as exc:  # noqa: BLE001
        return {"status": "down", "error": exc.__class__.__name__}


def _check_broker() -> dict:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return {"status": "ok", "mode": "in-process"}
    import redis

    try:
        client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_connect_timeout=1, socket_timeout=1)
        client.ping()
        return {"status": "ok", "mode": "redis"}
    except Exception as exc:  # noqa: BLE001
        return {"status": "down", "error": exc.__class__.__name__}


def _check_worker(broker_ok: bool) -> dict:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return {"status": "ok", "mode": "in-process", "workers": 0}
    if not broker_ok:
        return {"status": "down", "error": "broker unreachable"}
    from portal.celery import app

    try:
        replies = app.control.inspect(timeout=1.0).ping() or {}
    except Exception as exc:  # noqa: BLE001
        return {"status": "down", "error": exc.__class__.__name__}
    return {"status": "ok" if replies else "down", "workers": len(replies)}


def health_report() -> dict:
    database = _check_database()
    cache_status = _check_cache()
    broker = _check_broker()
    worker = _check_worker(broker["status"] == "ok")
    parts = {"database": database, "cache": cache_status, "broker": broker, "worker": worker}
    healthy = all(part["status"] == "ok" for part in parts.values())
    return {"status": "ok" if healthy else "unhealthy", **parts}
