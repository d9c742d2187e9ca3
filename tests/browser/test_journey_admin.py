"""Journey 4, the administrator: award notices one by one and as a ZIP, and a verification page."""

from __future__ import annotations

import pytest

from tests.browser.journey_steps import log_in, require_page
from tests.factories import ProgrammeFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Admin-Console-2025!x"


def test_admin_journey(browser_factory):
    from allauth.mfa.totp.internal.auth import TOTP

    ProgrammeFactory()
    admin = UserFactory(role="admin", username="doyun", is_staff=True, is_superuser=True)
    admin.set_password(PASSWORD)
    admin.save()
    TOTP.activate(admin, "KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU")
    visitor = browser_factory("en", name="4-admin")
    page = visitor.page

    log_in(visitor, username="doyun", password=PASSWORD, user=admin)
    visitor.check("home")

    # The audit trail shows the log-in and verifies its hash chain.
    page.locator("[data-nav='portal:audit_log']").click()
    page.wait_for_url("**/audit/")
    visitor.check("audit-trail")
    with page.expect_navigation():
        page.locator("button[name=verify]").click()
    assert page.locator(".alert-success").count() == 1
    visitor.switch_language()
    visitor.check("audit-trail-verified")

    require_page("gpu_allocation:notice_list")
