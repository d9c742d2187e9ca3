"""Concurrent submissions on PostgreSQL: real threads, real connections, real row locks."""

import threading
import time
from datetime import datetime, timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from consortia.models import ApplicationVersion
from portal.models import Programme
from tests.factories import ProgrammeFactory
from tests.factories_consortia import ApplicationFactory, ConsortiumFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _require_postgres():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite has no row locks, so concurrent submits cannot be exercised")


def _client(user) -> APIClient:
    token, _ = Token.objects.get_or_create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def _run_threads(jobs):
    """Run each job in its own thread (own connection) and return their results in order."""
    results = [None] * len(jobs)
    barrier = threading.Barrier(len(jobs))

    def work(i, job):
        try:
            barrier.wait()
            results[i] = job()
        except Exception as exc:  # noqa: BLE001 -- the test reports any failure as a result
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(i, job)) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_fifty_concurrent_submits_straddling_the_deadline_follow_the_rule():
    _require_postgres()
    programme = ProgrammeFactory()
    applications = [ApplicationFactory(consortium=ConsortiumFactory(programme=programme)) for _ in range(50)]
    clients = [_client(a.consortium.lead_contact) for a in applications]
    closes_at = timezone.now() + timedelta(seconds=1.2)
    Programme.objects.filter(pk=programme.pk).update(closes_at=closes_at)

    def job(i):
        def call():
            time.sleep(i * 0.05)  # spread the 50 calls over 2.5 s around the deadline
            response = clients[i].post(f"/api/v1/applications/{applications[i].pk}/submit/")
            return response.status_code, response.json()

        return call

    results = _run_threads([job(i) for i in range(50)])

    assert not [r for r in results if isinstance(r, Exception)]
    statuses = [status for status, _ in results]
    assert set(statuses) <= {200, 409}, statuses
    accepted = [body for status, body in results if status == 200]
    refused = [body for status, body in results if status == 409]
    assert accepted and refused, "the calls must straddle the deadline"
    versions = {v.receipt_number: v for v in ApplicationVersion.objects.all()}
    assert sorted(versions) == sorted(body["receipt_number"] for body in accepted)
    assert all(v.submitted_at <= closes_at for v in versions.values())
    assert all(body["code"] == "deadline_passed" for body in refused)
    assert all(datetime.fromisoformat(body["server_time"]) > closes_at for body in refused)
    # Receipt numbers are gapless among the accepted ones.
    assert sorted(int(r.rsplit("-", 1)[1]) for r in versions) == list(range(1, len(accepted) + 1))
    assert Programme.objects.get(pk=programme.pk).receipt_sequence == len(accepted)


def test_twenty_parallel_identical_submits_create_exactly_one_version():
    _require_postgres()
    application = ApplicationFactory()
    client_user = application.consortium.lead_contact
    clients = [_client(client_user) for _ in range(20)]

    def job(i):
        def call():
            response = clients[i].post(
                f"/api/v1/applications/{application.pk}/submit/", HTTP_IDEMPOTENCY_KEY="same-request"
            )
            return response.status_code, response.json()

        return call

    results = _run_threads([job(i) for i in range(20)])

    assert not [r for r in results if isinstance(r, Exception)]
    assert [status for status, _ in results] == [200] * 20
    version = ApplicationVersion.objects.get()
    assert {body["receipt_number"] for _, body in results} == {version.receipt_number}
    assert sum(1 for _, body in results if not body["replayed"]) == 1
