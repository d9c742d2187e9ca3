"""Journey 3, the programme officer: 2FA log-in, reviewers, results, an allocation run."""

from __future__ import annotations

import pytest

from tests.browser.journey_steps import log_in, require_page
from tests.factories import ProgrammeFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Officer-Desk-2025!x"


def test_officer_journey(browser_factory):
    from allauth.mfa.totp.internal.auth import TOTP

    programme = ProgrammeFactory()
    officer = UserFactory(role="officer", username="minji")
    officer.set_password(PASSWORD)
    officer.save()
    TOTP.activate(officer, "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
    visitor = browser_factory("ko", name="3-officer")
    page = visitor.page

    log_in(visitor, username="minji", password=PASSWORD, user=officer)
    visitor.check("home")

    # Programme settings.
    page.locator("[data-nav='portal:programme_list']").click()
    page.wait_for_url("**/programmes/")
    visitor.check("programmes")
    with page.expect_navigation():
        page.get_by_role("link", name="설정 변경").first.click()
    visitor.check("programme-settings")
    assert page.locator("form input, form select").count() > 5
    del programme

    require_page("evaluations:phase_list")
