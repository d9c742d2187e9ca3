"""With the broker stopped, requests still commit; the outbox drains once it returns.

These tests start their own redis-server process (a real one, on a spare port) so they
can stop and restart it, and a real Celery worker connected to it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import transaction

from portal.mail import mail_queue
from portal.models import OutboxMessage, SentEmail
from portal.outbox import outbox_drain

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.worker]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisProcess:
    def __init__(self, port: int):
        self.port = port
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


def point_celery_at(url: str) -> None:
    """Re-point this process's Celery app (publisher) at another broker."""
    from portal.celery import app

    app.conf.broker_url = url
    app.conf.result_backend = url
    app.conf.task_always_eager = False
    # NOTE: kombu keeps connection pools in a global registry keyed by broker; reset it so
    # neither broker's pool is reused closed, then let Celery build fresh pools lazily.
    from kombu import pools

    pools.reset()
    app._pool = None
    app.amqp._producer_pool = None
    app.__dict__.pop("backend", None)
    app._local.__dict__.clear()


@pytest.fixture
def own_broker(transactional_db, settings):
    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed")
    from tests.conftest import database_url_for_worker

    if database_url_for_worker() is None:
        pytest.skip("the worker shares the test database only on PostgreSQL (set DATABASE_URL)")
    from portal.celery import app

    original = (app.conf.broker_url, app.conf.result_backend, app.conf.task_always_eager)
    redis = RedisProcess(free_port())
    redis.start()
    url = f"redis://127.0.0.1:{redis.port}/0"
    settings.CELERY_TASK_ALWAYS_EAGER = False
    point_celery_at(url)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings.test",
        "REDIS_URL": url,
        "DATABASE_URL": database_url_for_worker(),
        "CELERY_TASK_ALWAYS_EAGER": "0",
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool=solo", "--without-gossip", "--without-mingle", "--loglevel=WARNING"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    yield redis, url
    worker.terminate()
    try:
        worker.wait(timeout=10)
    except subprocess.TimeoutExpired:
        worker.kill()
    if redis.proc.poll() is None:
        redis.stop()
    point_celery_at(original[0])
    app.conf.result_backend, app.conf.task_always_eager = original[1], original[2]


def wait_for(predicate, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_with_broker_stopped_the_request_commits_and_the_mail_goes_out_once_after_restart(own_broker):
    redis, _url = own_broker
    redis.stop()
    started = time.monotonic()
    with transaction.atomic():
        mail_queue(
            key="receipt:IAFM-2025-0001", to=["lead@hanbit-ai.example.kr"], subject="접수증", body="접수되었습니다."
        )
    elapsed = time.monotonic() - started
    assert elapsed < 5, f"the request waited {elapsed:.1f}s on a stopped broker"
    message = OutboxMessage.objects.get(dedupe_key="mail:receipt:IAFM-2025-0001")
    assert (message.dispatched_at, message.attempts > 0) == (None, True)
    assert outbox_drain() == 0  # still down: nothing published, nothing lost

    redis.start()
    assert wait_for(lambda: outbox_drain() == 1 or OutboxMessage.objects.filter(dispatched_at__isnull=False).exists())
    assert wait_for(lambda: SentEmail.objects.filter(key="receipt:IAFM-2025-0001").exists())
    # Draining again publishes nothing; a redelivered task sends nothing.
    assert outbox_drain() == 0
    from portal.tasks import send_email_task

    send_email_task.apply_async(kwargs=message.kwargs)
    from portal.tasks import ping_task

    ping_task.apply_async().get(timeout=30)  # the solo worker has handled the redelivery by now
    assert SentEmail.objects.filter(key="receipt:IAFM-2025-0001").count() == 1


def test_the_same_side_effect_queued_twice_is_published_once(own_broker):
    for _ in range(2):
        with transaction.atomic():
            mail_queue(key="invite:42", to=["member@univ.example.kr"], subject="초대", body="초대합니다.")
    assert OutboxMessage.objects.filter(dedupe_key="mail:invite:42").count() == 1
    assert wait_for(lambda: SentEmail.objects.filter(key="invite:42").exists())
    assert SentEmail.objects.count() == 1


def test_submissions_during_a_broker_outage_get_receipts_and_each_receipt_mail_goes_out_once(own_broker):
    from tests.factories_consortia import submitted_application

    redis, _url = own_broker
    redis.stop()
    started = time.monotonic()
    applications = [submitted_application() for _ in range(3)]
    assert time.monotonic() - started < 15
    receipts = [a.versions.get().receipt_number for a in applications]
    assert all(receipts)
    pending = OutboxMessage.objects.filter(dispatched_at__isnull=True, dedupe_key__startswith="mail:receipt:")
    assert pending.count() == 3

    redis.start()
    assert wait_for(lambda: outbox_drain() >= 0 and not pending.exists())
    assert wait_for(lambda: SentEmail.objects.filter(key__startswith="receipt:").count() == 3)
    assert outbox_drain() == 0
    assert sorted(SentEmail.objects.values_list("key", flat=True)) == sorted(f"receipt:{r}" for r in receipts)
