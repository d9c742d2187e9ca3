"""Journey 2, the reviewer: log in, declare conflicts, score with the rubric in view, submit."""

from __future__ import annotations

import pytest

from tests.browser.journey_steps import require_page
from tests.factories import ProgrammeFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Review-Panel-2025!x"


def test_reviewer_journey(browser_factory):
    ProgrammeFactory()
    reviewer = UserFactory(role="reviewer", username="seojun")
    reviewer.set_password(PASSWORD)
    reviewer.save()
    visitor = browser_factory("ko", name="2-reviewer")
    page = visitor.page

    # Log in with the keyboard alone: Tab to each field, type, Enter on the button.
    visitor.goto("account_login")
    visitor.check("login")
    with page.expect_navigation():
        visitor.keyboard_fill(
            [("input[name=login]", "seojun"), ("input[name=password]", PASSWORD)],
            submit="main form button[type=submit]",
        )
    assert "/accounts/login" not in page.url
    visitor.check("home")

    require_page("evaluations:reviewer_queue")
