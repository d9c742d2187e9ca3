"""Steps shared by the journeys: logging in (with the second factor) and finding pages."""

from __future__ import annotations

import re

import pytest
from django.urls import NoReverseMatch, reverse


def require_page(name: str, *args) -> str:
    """The page's path, or skip the rest of the journey if this build has no such page."""
    try:
        return reverse(name, args=args or None)
    except NoReverseMatch:
        pytest.skip(f"the page {name!r} is not available yet")


def has_page(name: str, *args) -> bool:
    try:
        reverse(name, args=args or None)
    except NoReverseMatch:
        return False
    return True


def current_totp_code(user) -> str:
    """The code an authenticator app would show now (the same computation as ``demo_totp``)."""
    from portal.totp import totp_code, totp_secret

    return totp_code(totp_secret(user))


def log_in(visitor, *, username: str, password: str, user=None, check: bool = True) -> None:
    """Fill the log-in form; for staff, type the current TOTP code on the second page."""
    visitor.goto("account_login")
    if check:
        visitor.check("login")
    visitor.page.fill("input[name=login]", username)
    visitor.page.fill("input[name=password]", password)
    with visitor.page.expect_navigation():
        visitor.page.locator("main form button[type=submit]").first.click()
    if user is not None and "/2fa/authenticate" in visitor.page.url:
        if check:
            visitor.check("second-factor")
        visitor.page.fill("input[name=code]", current_totp_code(user))
        with visitor.page.expect_navigation():
            visitor.page.locator("main form button[type=submit]").first.click()
    assert "/accounts/login" not in visitor.page.url, visitor.page.inner_text("main")


def reauthenticate(visitor, *, password: str, check: str | None = None) -> None:
    """The portal asked for the password again before a consequential action: give it,
    and the action goes on (the page after it is the action's own)."""
    page = visitor.page
    assert "/accounts/reauthenticate/" in page.url, f"no password asked before the action: {page.url}"
    if check:
        visitor.check(check)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.locator("main form button[type=submit]").first.click()
    assert "/accounts/reauthenticate/" not in page.url, page.inner_text("main")


def log_out(visitor) -> None:
    with visitor.page.expect_navigation():
        visitor.page.locator("form[action$='/accounts/logout/'] button").click()


CONFIRM_LINK = re.compile(r"https?://\S+/accounts/confirm-email/\S+/")
