"""Journey 4, the administrator: award notices one by one and as a ZIP, and a verification page."""

from __future__ import annotations

import io
import zipfile

import pytest

from tests.browser.journey_steps import log_in, reauthenticate, require_page
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Admin-Console-2025!x"


def test_admin_journey(browser_factory, task_worker):
    require_page("gpu_allocation:notice_list")
    from allauth.mfa.totp.internal.auth import TOTP

    from tests.factories_notices import approved_run

    admin = UserFactory(role="admin", username="doyun", is_staff=True, is_superuser=True)
    admin.set_password(PASSWORD)
    admin.save()
    TOTP.activate(admin, "KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU")
    run = approved_run(teams=3).run

    visitor = browser_factory("en", name="4-admin")
    page = visitor.page
    log_in(visitor, username="doyun", password=PASSWORD, user=admin)
    visitor.check("home")

    # The audit trail verifies its hash chain.
    page.locator("[data-nav='portal:audit_log']").click()
    page.wait_for_url("**/audit/")
    visitor.check("audit-trail")
    with page.expect_navigation():
        page.locator("button[name=verify]").click()
    assert page.locator(".alert-success").count() == 1
    visitor.switch_language()  # Korean from here on
    visitor.check("audit-trail-verified")

    # The access records show the administrator's own reads of the audit trail.
    page.locator("[data-nav='portal:access_log']").click()
    page.wait_for_url("**/access-log/")
    rows = page.locator("[data-testid=access-log] tbody tr")
    assert rows.count() >= 2 and "감사 기록" in rows.first.inner_text()  # the page's title, not its route name
    visitor.check("access-log")

    # Issue the notices of the approved run, then download one.
    page.locator("[data-nav='gpu_allocation:notice_list']").click()
    page.wait_for_url("**/allocation/notices/**")
    visitor.check("notices")
    with page.expect_navigation():
        page.locator("[data-testid=issue-notices]").click()
    reauthenticate(visitor, password=PASSWORD)  # building the ZIP below needs no second time
    links = page.locator("[data-testid=notice-download]")
    for _ in range(120):  # the worker renders and signs them in the background
        if links.count() == 3:
            break
        page.wait_for_timeout(500)
        page.reload()
    assert links.count() == 3
    visitor.check("notices-issued")
    with page.expect_download() as download_info:
        links.first.click()
    pdf = download_info.value
    assert pdf.suggested_filename.endswith(".pdf")
    assert open(pdf.path(), "rb").read(5) == b"%PDF-"

    # Build the ZIP of all notices and download it when the bar reaches 100 %.
    with page.expect_navigation():
        page.locator("[data-testid=build-zip]").click()
    page.wait_for_selector("[data-testid=export-download]", timeout=60_000)
    assert (
        page.locator("[data-testid=export-progress] [role=progressbar]").first.get_attribute("aria-valuenow") == "100"
    )
    visitor.check("zip-ready")
    with page.expect_download() as download_info:
        page.locator("[data-testid=export-download]").first.click()
    with zipfile.ZipFile(io.BytesIO(open(download_info.value.path(), "rb").read())) as archive:
        names = [n for n in archive.namelist() if n.endswith(".pdf")]
    assert len(names) == 3

    # The public verification page, opened by someone not signed in.
    href = page.locator("a[href^='/verify/']").first.get_attribute("href")
    public = browser_factory("ko", name="4-public")
    public.goto(href)
    public.check("verify")
    assert public.page.locator("form[action$='/accounts/logout/']").count() == 0
    public.switch_language()
    public.check("verify")
    del run
