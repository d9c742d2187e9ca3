"""PostgreSQL ends the worker's database session in the middle of an allocation: the
transaction rolls back, the task retries, and the run ends with one complete result."""

import time

import pytest
from django.db import connection

from gpu_allocation import policy
from gpu_allocation.enums import RunStatus
from gpu_allocation.models import Allocation, AllocationGrant, AllocationRun
from gpu_allocation.services import STEP_DELAY_ENV, allocation_run_start
from tests.conftest import real_worker, redis_url
from tests.factories import UserFactory
from tests.factories_allocation import allocation_setup

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def wait_for(predicate, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {seconds} s")


def terminate_other_sessions() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def test_a_terminated_database_session_mid_run_leaves_no_partial_rows_and_one_result(settings):
    if not redis_url() or connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL and Redis (DATABASE_URL and REDIS_URL) for a real worker")
    officer = UserFactory(role="officer")
    setup = allocation_setup()
    with real_worker(settings, **{STEP_DELAY_ENV: "1.5"}):
        run = allocation_run_start(programme=setup.programme, by=officer)
        wait_for(lambda: AllocationRun.objects.get(pk=run.pk).progress >= 15, 30)
        assert terminate_other_sessions() >= 1
        assert Allocation.objects.filter(run_id=run.pk).count() == 0
        done = wait_for(
            lambda: (r := AllocationRun.objects.get(pk=run.pk)).status in (RunStatus.SUCCEEDED, RunStatus.FAILED) and r,
            90,
        )
    assert (done.status, done.progress) == (RunStatus.SUCCEEDED, 100)
    assert done.attempts >= 2
    clean = policy.allocate(*policy.inputs_from_dict(done.inputs))
    rows = sorted(Allocation.objects.filter(run=done).values_list("application_id", "total_gpus", "budget"))
    assert rows == sorted((t.team_id, t.total_gpus, t.budget) for t in clean.teams)
    assert AllocationGrant.objects.filter(allocation__run=done).count() == sum(len(t.grants) for t in clean.teams)
