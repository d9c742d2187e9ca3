"""Real Chromium: two members edit the same step; the live countdown ticks."""

from __future__ import annotations

import re

import pytest

from consortia.models import Application
from tests.browser import conftest as shared
from tests.browser.journey_steps import log_in
from tests.factories_consortia import ApplicationFactory

# The browser fixtures of the journey tests (Chromium, fresh contexts, the live server), all
# of them, so that this module follows that conftest as it evolves.
for _name, _value in vars(shared).items():
    if type(_value).__name__ in ("FixtureFunctionDefinition", "FixtureFunctionMarker") or hasattr(
        _value, "_pytestfixturefunction"
    ):
        globals()[_name] = _value
if "browser_factory" not in globals():
    pytest.skip("the shared browser fixtures are not available", allow_module_level=True)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Correct-Horse-42!"  # the password tests.factories.UserFactory sets


def _visitor_for(browser_factory, user, name):
    """A new browser context, signed in through the log-in form."""
    visitor = browser_factory("ko", name=name)
    log_in(visitor, username=user.username, password=PASSWORD, check=False)
    return visitor


def test_two_members_saving_the_same_step_never_overwrite_each_other(browser_factory, live_server):
    application = ApplicationFactory(technical_approach="처음 방법")
    lead = application.consortium.lead_contact
    partner = application.consortium.members.exclude(role="lead").get().contact
    url = f"{live_server.url}/consortia/applications/{application.pk}/step/2/"
    partner_visitor = _visitor_for(browser_factory, partner, "consortia-partner")
    lead_page = _visitor_for(browser_factory, lead, "consortia-lead").page
    partner_page = partner_visitor.page
    lead_page.goto(url)
    partner_page.goto(url)

    lead_page.fill("[name=technical_approach]", "리드가 쓴 방법")
    with lead_page.expect_navigation():
        lead_page.locator("#draft-form [name=submit]").click()
    assert lead_page.locator(".alert-success").count() == 1

    partner_page.fill("[name=technical_approach]", "파트너가 쓴 방법")
    with partner_page.expect_navigation():
        partner_page.locator("#draft-form [name=submit]").click()
    conflict = partner_page.locator("[data-testid=conflict]")
    conflict.wait_for()
    assert "리드가 쓴 방법" in conflict.inner_text() and "파트너가 쓴 방법" in conflict.inner_text()
    assert partner_page.input_value("[name=technical_approach]") == "파트너가 쓴 방법"
    partner_visitor.check("conflict")  # accessibility, translation and a screenshot
    assert Application.objects.get(pk=application.pk).technical_approach == "리드가 쓴 방법"

    # The partner merges both texts and saves again: accepted on the current revision.
    partner_page.fill("[name=technical_approach]", "리드가 쓴 방법\n파트너가 쓴 방법")
    with partner_page.expect_navigation():
        partner_page.locator("#draft-form [name=submit]").click()
    assert partner_page.locator(".alert-success").count() == 1
    assert Application.objects.get(pk=application.pk).technical_approach == "리드가 쓴 방법\n파트너가 쓴 방법"


def test_deadline_countdown_ticks_in_kst(browser_factory, live_server):
    application = ApplicationFactory()
    visitor = _visitor_for(browser_factory, application.consortium.lead_contact, "consortia-countdown")
    page = visitor.page
    page.goto(f"{live_server.url}/consortia/applications/{application.pk}/review/")
    deadline = page.locator("[data-testid=deadline]")
    assert "KST" in deadline.inner_text()
    countdown = page.locator("[data-countdown]")
    first = countdown.inner_text()
    page.wait_for_timeout(1300)
    second = countdown.inner_text()
    assert re.fullmatch(r"\d+일 \d\d:\d\d:\d\d", first), first
    assert first != second
    visitor.check("review")
