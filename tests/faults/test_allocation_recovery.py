"""Allocation runs: a run whose whole worker was SIGKILLed is reclaimed from its stale
heartbeat and finished by another worker, whatever the broker's visibility timeout; a
start while another transaction holds the programme row answers 409 at once.

Real processes: a Redis of the test's own, a prefork worker (parent and pool child, killed
together), Celery beat running the reclaim, PostgreSQL. Timings are shortened through the
environment (heartbeat 1 s, stale after 6 s, reclaim every 3 s; in production 10 s, 60 s
and 30 s); the broker's visibility timeout stays at its default of one hour.
"""

from __future__ import annotations

import threading
import time

import psycopg2
import pytest
from django.db import connection

from gpu_allocation import policy
from gpu_allocation.enums import RunStatus
from gpu_allocation.models import Allocation, AllocationGrant, AllocationRun
from gpu_allocation.services import STEP_DELAY_ENV, allocation_run_start
from portal.models import AuditEntry
from tests.conftest import _with_totp
from tests.factories import UserFactory
from tests.factories_allocation import allocation_setup
from tests.faults.stack import kill_group, own_stack, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

REDIS_PORT = 6392


def result_rows(run: AllocationRun) -> list[tuple]:
    return [
        (a.application_id, a.total_gpus, a.budget, tuple((g.cluster_id, g.nodes, g.gpus) for g in a.grants.all()))
        for a in Allocation.objects.filter(run=run).prefetch_related("grants").order_by("rank")
    ]


def clean_rows(run: AllocationRun) -> list[tuple]:
    result = policy.allocate(*policy.inputs_from_dict(run.inputs))
    return [
        (t.team_id, t.total_gpus, t.budget, tuple((g.cluster_id, g.nodes, g.gpus) for g in t.grants))
        for t in result.teams
    ]


def test_a_run_whose_whole_worker_was_killed_is_reclaimed_and_finished_once(tmp_path, settings):
    env = {"ALLOCATION_HEARTBEAT_SECONDS": "1", "ALLOCATION_RUN_STALE_SECONDS": "6", "ALLOCATION_RECLAIM_SECONDS": "3"}
    with own_stack(tmp_path, settings, redis_port=REDIS_PORT, env=env) as stack:
        officer = _with_totp(UserFactory(role="officer"))
        setup = allocation_setup()
        first = stack.start_worker("prefork", **{STEP_DELAY_ENV: "3"})
        run = allocation_run_start(programme=setup.programme, by=officer)
        wait_for(lambda: AllocationRun.objects.get(pk=run.pk).progress >= 15, 30, "the run to make progress")
        kill_group(first)  # SIGKILL to the worker's parent and its pool child: nothing acknowledges
        killed = time.monotonic()
        interrupted = AllocationRun.objects.get(pk=run.pk)
        assert (interrupted.status, interrupted.attempts, Allocation.objects.filter(run=run).count()) == (
            RunStatus.RUNNING,
            1,
            0,
        )
        # Another worker and beat: the unacknowledged message stays hidden for the visibility
        # timeout (an hour); only the reclaim can hand the run over.
        stack.start_worker("prefork")
        stack.start_beat()
        done = wait_for(
            lambda: (r := AllocationRun.objects.get(pk=run.pk)).status in (RunStatus.SUCCEEDED, RunStatus.FAILED) and r,
            120,
            "the reclaimed run to finish",
        )
        recovered = time.monotonic() - killed
    print(f"\nworker SIGKILLed mid-run: finished {recovered:.1f} s later, attempts {done.attempts}")
    assert (done.status, done.progress, done.attempts) == (RunStatus.SUCCEEDED, 100, 2)
    assert recovered < 120
    assert AllocationRun.objects.filter(programme=setup.programme).count() == 1
    assert Allocation.objects.filter(run=done).count() == len(setup.applications)
    assert result_rows(done) == clean_rows(done)
    assert AllocationGrant.objects.filter(allocation__run=done).count() == sum(len(r[3]) for r in clean_rows(done))
    assert AuditEntry.objects.filter(action="allocation_run.reclaim", object_id=str(run.pk)).count() == 1


def hold_programme_row(programme_id: int) -> psycopg2.extensions.connection:
    """Another session that locks the programme row and keeps its transaction open."""
    s = connection.settings_dict
    other = psycopg2.connect(
        dbname=s["NAME"], user=s["USER"], password=s["PASSWORD"] or None, host=s["HOST"] or "127.0.0.1", port=s["PORT"]
    )
    with other.cursor() as cursor:
        cursor.execute("SELECT id FROM portal_programme WHERE id = %s FOR UPDATE", [programme_id])
    return other  # the transaction stays open until other.rollback()


def timed_post(client, path: str, seconds: float = 10.0, **kwargs):
    """POST in a thread; (response or None if it had not answered after ``seconds``, elapsed)."""
    outcome: dict = {}

    def post():
        try:
            outcome["response"] = client.post(path, **kwargs)
        finally:
            connection.close()

    started = time.monotonic()
    thread = threading.Thread(target=post)
    thread.start()
    thread.join(timeout=seconds)
    return thread, outcome.get("response"), time.monotonic() - started


def test_a_start_while_the_programme_row_is_held_answers_409_at_once(client_for):
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL (DATABASE_URL)")
    officer = _with_totp(UserFactory(role="officer"))
    setup = allocation_setup()
    pk = setup.programme.pk
    client = client_for(officer)
    assert client.get(f"/api/v1/programmes/{pk}/allocation-runs/").status_code == 200  # warm: URLconf and views loaded
    other = hold_programme_row(pk)
    try:
        api_thread, api, api_elapsed = timed_post(
            client, f"/api/v1/programmes/{pk}/allocation-runs/", content_type="application/json"
        )
        page_thread, page, page_elapsed = timed_post(client, f"/allocation/programmes/{pk}/runs/start/")
    finally:
        other.rollback()
        other.close()
    api_thread.join(timeout=30)
    page_thread.join(timeout=30)
    print(
        f"\nprogramme row held: API answered {api and api.status_code} in {api_elapsed:.2f} s, page in {page_elapsed:.2f} s"
    )
    assert api is not None and page is not None, "a start waited on the held row"
    assert api_elapsed < 1 and page_elapsed < 1
    assert (api.status_code, api.json()["code"]) == (409, "programme_busy")
    assert page.status_code == 409  # the run list, with the refusal
    assert "이 사업의 다른 배분 시작 또는 승인이 진행 중입니다" in page.content.decode()
    assert AllocationRun.objects.filter(programme_id=pk).count() == 0
    # Once the row is free, the same start goes through.
    response = client.post(f"/api/v1/programmes/{pk}/allocation-runs/", content_type="application/json")
    assert response.status_code == 202
    assert AllocationRun.objects.filter(programme_id=pk).count() == 1
