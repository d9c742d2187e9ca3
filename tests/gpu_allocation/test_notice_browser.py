"""The ZIP export's progress bar in a real Chromium: htmx polls the row and shows the
download link once the build finished."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from awards.services import notice_export_build, notice_export_start
from gpu_allocation.models import NoticeExport

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is not installed"),
]


@pytest.fixture
def admin_page(live_server, admin_user, request):
    # Playwright's sync API runs an event loop in this thread; the test body itself stays synchronous.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    request.addfinalizer(
        lambda: (
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
            if previous is None
            else os.environ.__setitem__("DJANGO_ALLOW_ASYNC_UNSAFE", previous)
        )
    )
    from django.conf import settings
    from django.db import connections
    from django.test import Client
    from playwright.sync_api import sync_playwright

    client = Client()
    client.force_login(admin_user)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        context = browser.new_context(locale="ko-KR")
        context.add_cookies(
            [
                {
                    "name": settings.SESSION_COOKIE_NAME,
                    "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                    "url": live_server.url,
                },
                {"name": settings.LANGUAGE_COOKIE_NAME, "value": "ko", "url": live_server.url},
            ]
        )
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        yield page, errors
        browser.close()
        # NOTE: while Playwright's event loop runs in this thread, Django keys its connections
        # by that loop's context, so the ORM calls of the test opened a second connection.
        # Close it here, inside the same context, or it would outlive the test database.
        connections.close_all()


def test_progress_bar_polls_until_the_zip_is_ready(transactional_db, live_server, admin_user, admin_page):
    from tests.factories_notices import approved_run

    page, errors = admin_page
    setup = approved_run(teams=2)
    export = notice_export_start(run=setup.run, by=admin_user)
    NoticeExport.objects.filter(pk=export.pk).update(progress=0)
    # With an eager broker the export may already be built on commit; start from a running row.
    if NoticeExport.objects.get(pk=export.pk).status == "succeeded":
        export = NoticeExport.objects.create(run=setup.run, created_by=admin_user)

    page.goto(f"{live_server.url}/allocation/notices/?run={setup.run.pk}")
    bar = page.locator(f"#export-{export.pk} [role=progressbar]")
    assert bar.get_attribute("aria-valuenow") == "0"
    assert page.locator(f"#export-{export.pk}").get_attribute("hx-trigger") == "every 1s"

    notice_export_build(export_id=export.pk)

    page.locator(f"#export-{export.pk} [data-testid=export-download]").wait_for(timeout=10_000)
    assert page.locator(f"#export-{export.pk} [role=progressbar]").get_attribute("aria-valuenow") == "100"
    assert page.locator(f"#export-{export.pk}").get_attribute("hx-trigger") is None
    assert "ZIP 내려받기" in page.locator(f"#export-{export.pk}").inner_text()
    assert errors == []
