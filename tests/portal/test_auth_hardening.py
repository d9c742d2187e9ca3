"""Authentication hardening: throttling that a forged header cannot dodge, no user
enumeration, session rotation and expiry, CSRF on session-authenticated writes."""

import time

import pytest
from django.test import Client
from django.urls import reverse

from portal.middleware import SESSION_STARTED_KEY, SESSION_TOUCHED_KEY

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clear_cache():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


def attempt(client, login, password, ip, forwarded=None):
    extra = {"REMOTE_ADDR": ip}
    if forwarded:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return client.post(reverse("account_login"), {"login": login, "password": password}, **extra)


THROTTLED = "Too many failed login attempts"


def throttled(response) -> bool:
    return response.status_code == 200 and THROTTLED in response.content.decode()


def test_failed_logins_per_account_are_throttled_even_from_many_addresses(client, applicant):
    client.cookies.load({"django_language": "en"})
    results = [throttled(attempt(client, applicant.username, "wrong-password-1", f"203.0.113.{i}")) for i in range(7)]
    assert results == [False] * 5 + [True, True]
    # Even the right password is refused while the account is throttled.
    response = attempt(client, applicant.username, "Correct-Horse-42!", "203.0.113.99")
    assert throttled(response)
    assert "_auth_user_id" not in client.session


def test_spoofed_forwarded_for_does_not_reset_the_per_address_throttle(client):
    client.cookies.load({"django_language": "en"})
    results = [
        throttled(attempt(client, f"nobody{i}", "wrong-password-1", "198.51.100.5", forwarded=f"10.0.0.{i}"))
        for i in range(12)
    ]
    assert results == [False] * 10 + [True, True]


def test_unknown_and_known_usernames_get_the_same_message(client, applicant):
    known = attempt(client, applicant.username, "wrong-password-1", "192.0.2.1").content.decode()
    unknown = attempt(client, "no-such-user", "wrong-password-1", "192.0.2.2").content.decode()
    assert "alert-danger" in known and "alert-danger" in unknown

    def message(html):
        start = html.index("alert-danger")
        return html[start : html.index("</div>", start)]

    assert message(known) == message(unknown)


def test_password_reset_does_not_reveal_whether_an_account_exists(client, applicant):
    from django.core import mail

    known = client.post(reverse("account_reset_password"), {"email": applicant.email})
    unknown = client.post(reverse("account_reset_password"), {"email": "nobody@nowhere.example.kr"})
    assert (known.status_code, unknown.status_code) == (302, 302)
    assert known["Location"] == unknown["Location"]
    assert [m.to for m in mail.outbox][0] == [applicant.email]


def test_session_key_rotates_on_login(client, applicant):
    client.get(reverse("account_login"))
    client.session["probe"] = 1
    before = client.cookies.get("sessionid").value if client.cookies.get("sessionid") else None
    attempt(client, applicant.username, "Correct-Horse-42!", "192.0.2.10")
    after = client.cookies["sessionid"].value
    assert after and after != before


def test_session_ends_at_its_absolute_lifetime(client_for, applicant, settings):
    c = client_for(applicant)
    assert c.get(reverse("portal:home")).status_code == 200
    session = c.session
    session[SESSION_STARTED_KEY] = int(time.time()) - settings.SESSION_ABSOLUTE_SECONDS - 5
    session.save()
    response = c.get(reverse("portal:home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def _stored_expiry(client):
    from django.contrib.sessions.models import Session

    return Session.objects.get(session_key=client.session.session_key).expire_date


def test_idle_sessions_lapse_and_activity_slides_the_expiry(client_for, applicant, settings):
    from datetime import timedelta

    from django.contrib.sessions.models import Session

    assert settings.SESSION_COOKIE_AGE <= 30 * 60
    c = client_for(applicant)
    assert c.get(reverse("portal:home")).status_code == 200
    first = _stored_expiry(c)
    # Within the touch interval a request does not write the session...
    assert c.get(reverse("portal:home")).status_code == 200
    assert _stored_expiry(c) == first
    # ...after it, a request slides the expiry forward.
    session = c.session
    session[SESSION_TOUCHED_KEY] = int(time.time()) - settings.SESSION_TOUCH_SECONDS - 1
    session.save()
    Session.objects.filter(session_key=c.session.session_key).update(expire_date=first - timedelta(minutes=5))
    assert c.get(reverse("portal:home")).status_code == 200
    assert _stored_expiry(c) > first
    # A session idle past its expiry is gone: the next request asks for the login.
    Session.objects.filter(session_key=c.session.session_key).update(expire_date=first - timedelta(hours=1))
    response = c.get(reverse("portal:home"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("account_login"))


def test_forms_refuse_posts_without_csrf_token(officer, programme):
    c = Client(enforce_csrf_checks=True)
    c.force_login(officer)
    response = c.post(reverse("portal:programme_edit", args=[programme.pk]), {"name": "changed"})
    assert response.status_code == 403
    programme.refresh_from_db()
    assert programme.name != "changed"


def test_session_authenticated_api_write_needs_csrf(officer):
    from rest_framework.test import APIClient

    c = APIClient(enforce_csrf_checks=True)
    c.force_login(officer)
    response = c.post("/api/v1/programmes/", {"name": "x"}, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


def test_security_headers_are_sent(client_for, applicant):
    response = client_for(applicant).get(reverse("portal:home"))
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
