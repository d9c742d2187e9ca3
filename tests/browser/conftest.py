"""Browser fixtures: Debian's Chromium driven by Playwright against pytest-django's live server.

Each journey test gets a fresh browser context (cookies, storage) from one Chromium
process per test file. The helpers in ``browser_helpers.py`` check every
page a journey visits: axe-core (no serious or critical violation), no untranslated
English in Korean pages, no JavaScript error, and a screenshot kept as a test artefact.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"


# Module scope, not session: Playwright's sync API keeps an asyncio loop running in the main
# thread while it is started; stopping it after each journey file leaves the tests that run
# later in the same session (asyncio.run, async_to_sync) with no loop in their way.
@pytest.fixture(scope="module")
def playwright_instance():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (make system-test installs it)")
    from playwright.sync_api import sync_playwright

    with _browser_test_environment(), sync_playwright() as pw:
        yield pw


@contextmanager
def _browser_test_environment():
    """Environment for the browser tests only, restored afterwards (``manage.py check --deploy``
    run by a later test in a subprocess must not inherit it).

    * Playwright's sync API runs an asyncio event loop in the main thread. Django sees that
      loop and refuses ORM calls made from the test body ("SynchronousOnlyOperation"), even
      though the test itself is plain synchronous code that never awaits; the live server
      answers in its own thread. ``DJANGO_ALLOW_ASYNC_UNSAFE`` lifts that guard.
    * The journeys run against 127.0.0.1 (an address in ALLOWED_HOSTS), not "localhost".
    """
    values = {"DJANGO_ALLOW_ASYNC_UNSAFE": "true", "DJANGO_LIVE_TEST_SERVER_ADDRESS": "127.0.0.1"}
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(scope="module")
def chromium_browser(playwright_instance):
    browser = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def axe_report():
    """Every page the journeys checked: name -> list of (impact, rule id, nodes)."""
    report: dict[str, list] = {}
    yield report
    if report:
        import json

        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        existing = {}
        path = ARTIFACTS / "axe-summary.json"
        if path.exists():
            try:
                existing = json.loads(path.read_text(encoding="utf-8"))
            except ValueError:
                existing = {}
        existing.update(report)
        path.write_text(json.dumps(existing, ensure_ascii=False, indent=1, sort_keys=True), encoding="utf-8")


def forget_rate_limits() -> None:
    """Drop allauth's rate-limit counters (sign-ups per address, confirmation e-mails per
    address) left in the cache by earlier runs: with Redis they outlive the test database."""
    from django.core.cache import cache

    client_of = getattr(cache, "_cache", None)
    if client_of is not None and hasattr(client_of, "get_client"):
        client = client_of.get_client(None, write=True)
        for key in client.scan_iter(match="*allauth:rl:*"):
            client.delete(key)
    else:
        cache.clear()  # an in-process cache belongs to this test run alone


@pytest.fixture
def browser_factory(chromium_browser, live_server, axe_report):
    """``browser_factory(lang="ko")`` opens a new context and returns a :class:`Visitor`."""
    from tests.browser.browser_helpers import Visitor

    forget_rate_limits()
    contexts = []

    def make(lang: str = "ko", name: str = "journey") -> Visitor:
        context = chromium_browser.new_context(
            locale="ko-KR" if lang == "ko" else "en-GB",
            timezone_id="Asia/Seoul",
            viewport={"width": 1280, "height": 900},
            accept_downloads=True,
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        return Visitor(context=context, base_url=live_server.url, journey=name, report=axe_report)

    yield make
    for context in contexts:
        context.close()
    # While Playwright's loop runs in this thread, Django keys database connections by the
    # loop's context: the test body's ORM calls opened their own connection. Close it in the
    # same context, or it would outlive the test database.
    from django.db import connections

    connections.close_all()


@pytest.fixture
def task_worker(transactional_db, settings):
    """A real Celery worker when a broker is configured; otherwise tasks run in-process."""
    if not os.environ.get("REDIS_URL"):
        yield None
        return
    from tests.conftest import real_worker

    with real_worker(settings) as proc:
        yield proc
