"""A real Celery worker on Redis round-trips a task (skipped, with its reason, without Redis)."""

import pytest

from portal.tasks import ping_task

pytestmark = pytest.mark.worker


def test_task_round_trips_through_redis_and_a_real_worker(celery_worker_process):
    result = ping_task.delay("seoul")
    assert result.get(timeout=30) == "pong:seoul"


def test_healthz_is_ok_with_a_running_worker(celery_worker_process, client, settings):
    from portal.env import REDIS_URL

    settings.CELERY_BROKER_URL = REDIS_URL
    body = client.get("/healthz").json()
    assert (body["status"], body["broker"]["mode"], body["worker"]["status"]) == ("ok", "redis", "ok")
    assert body["worker"]["workers"] >= 1
