"""The run page in a real Chromium, with a real worker: the progress bar moves while the run
executes (htmx polling the fragment every second), then the page shows the chart and table.

Skipped without Chromium, Redis or PostgreSQL (the worker process shares the test database).
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from django.db import connection

from gpu_allocation.enums import RunStatus
from gpu_allocation.models import AllocationRun
from gpu_allocation.services import STEP_DELAY_ENV
from tests.conftest import redis_url, start_worker
from tests.factories import UserFactory
from tests.factories_allocation import allocation_setup

# Playwright's sync API runs an event loop in this thread; the ORM calls of the test body are
# plain synchronous code (the same setting as tests/browser/conftest.py).


@pytest.fixture(autouse=True, scope="module")
def _browser_environment():
    """Set for this module only and restored, so later subprocesses don't inherit it."""
    values = {"DJANGO_ALLOW_ASYNC_UNSAFE": "true", "DJANGO_LIVE_TEST_SERVER_ADDRESS": "127.0.0.1"}
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.worker,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is not installed"),
    pytest.mark.skipif(not redis_url(), reason="REDIS_URL is not set: no broker"),
]


def _other_sessions() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


@pytest.fixture
def slow_worker(live_server):
    if connection.vendor != "postgresql":
        pytest.skip("a separate worker process needs the shared PostgreSQL test database")
    from portal.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = False
    app.control.purge()
    sessions_before = _other_sessions()
    proc = start_worker(extra_env={STEP_DELAY_ENV: "1"})
    yield proc
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    # NOTE: PostgreSQL ends the worker's backend shortly after the process exits; wait for it so
    # that the test database can be dropped at the end of the session.
    deadline = time.monotonic() + 10
    while _other_sessions() > sessions_before and time.monotonic() < deadline:
        time.sleep(0.2)
    app.control.purge()
    app.conf.task_always_eager = previous


def test_the_progress_bar_moves_live_then_the_result_is_drawn(live_server, slow_worker):
    from allauth.mfa.totp.internal.auth import TOTP
    from django.test import Client
    from playwright.sync_api import sync_playwright

    officer = UserFactory(role="officer")
    TOTP.activate(officer, "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
    setup = allocation_setup()
    session = Client()
    session.force_login(officer)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        context = browser.new_context(locale="ko-KR", viewport={"width": 1280, "height": 900})
        context.add_cookies(
            [{"name": "sessionid", "value": session.cookies["sessionid"].value, "url": live_server.url}]
        )
        page = context.new_page()
        errors: list[str] = []
        # Script errors (a CSP refusal would show here) and failed requests other than the favicon.
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on(
            "response",
            lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 and "favicon" not in r.url else None,
        )

        page.goto(f"{live_server.url}/allocation/runs/?programme={setup.programme.pk}")
        with page.expect_navigation():
            page.locator("[data-testid=start-run]").click()
        assert "/accounts/reauthenticate/" in page.url  # the password again, then the run starts
        page.fill("input[name=password]", "Correct-Horse-42!")
        with page.expect_navigation():
            page.locator("main form button[type=submit]").first.click()
        # NOTE: no ORM inside the Playwright block: its event loop runs in another context, where
        # Django would open a second database connection that is never closed.
        run_url = page.url

        seen: list[int] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            progress = page.locator("[data-testid=run-progress]")
            if progress.count() and progress.get_attribute("data-status") == RunStatus.SUCCEEDED:
                break
            bar = page.locator("[data-testid=run-progress] [role=progressbar]")
            if bar.count():
                seen.append(int(bar.get_attribute("aria-valuenow")))
                if 0 < seen[-1] < 100 and not any(0 < v < 100 for v in seen[:-1]):
                    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=str(SCREENSHOTS / "allocation-run-progress-ko.png"))
            page.wait_for_timeout(250)
        page.wait_for_selector("canvas[data-chart][data-drawn='1']", timeout=10_000)
        page.screenshot(path=str(SCREENSHOTS / "allocation-run-finished-ko.png"), full_page=True)

        # The same page, without a reload by the test, showed intermediate progress, then the result.
        assert any(0 < value < 100 for value in seen), seen
        assert seen == sorted(seen)
        assert page.locator("[data-testid=run-progress] [role=progressbar]").get_attribute("aria-valuenow") == "100"
        assert page.locator("[data-testid=allocation-table] tbody tr").count() == len(setup.applications)
        assert errors == []
        browser.close()
    run = AllocationRun.objects.get(programme=setup.programme)
    assert run_url.endswith(f"/allocation/runs/{run.pk}/")
    assert (run.status, run.attempts) == (RunStatus.SUCCEEDED, 1)
