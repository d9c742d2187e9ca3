"""Journey 1, the applicant: sign up, verify the e-mail, build a consortium, apply, see the receipt."""

from __future__ import annotations

import pytest
from django.core import mail

from tests.browser.journey_steps import CONFIRM_LINK, require_page
from tests.factories import ProgrammeFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Hanbit-Apply-2025!x"


def test_applicant_journey(browser_factory):
    ProgrammeFactory()
    visitor = browser_factory("ko", name="1-applicant")
    page = visitor.page

    # Anonymous visitors land on the log-in page, in Korean.
    visitor.goto("/")
    assert "/accounts/login/" in page.url
    assert visitor.lang == "ko"

    # Sign up.
    visitor.goto("account_signup")
    visitor.check("signup")
    page.fill("input[name=email]", "jiwoo@hanbit-ai.example.kr")
    page.fill("input[name=username]", "jiwoo")
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    with page.expect_navigation():
        page.locator("main form button[type=submit]").first.click()
    visitor.check("verification-sent")

    # Verify the address with the link from the mailbox.
    assert len(mail.outbox) == 1, [m.subject for m in mail.outbox]
    link = CONFIRM_LINK.search(mail.outbox[0].body).group(0)
    page.goto(link)
    visitor.check("confirm-email")
    with page.expect_navigation():
        page.locator("main form button[type=submit]").first.click()
    # Confirming logs the new applicant in and lands on the home page.
    page.wait_for_selector("[data-testid=nav]")
    assert page.locator("form[action$='/accounts/logout/']").count() == 1
    visitor.check("home")

    # One page in English too.
    visitor.switch_language()
    visitor.check("home")
    visitor.switch_language()
    assert visitor.lang == "ko"

    require_page("consortia:my_consortia")
