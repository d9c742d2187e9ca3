"""Redis (cache, rate-limit counters and broker) stopped: every page still answers.

A Redis of the test's own is the cache and the broker, then is killed by its PID; the
requests go through the whole Django stack (sessions, allauth's login rate limit, the
public verification page's throttle, the outbox publishing after commit).
"""

from __future__ import annotations

import logging
import time

import pytest
from django.urls import reverse

from tests.factories import UserFactory
from tests.factories_notices import approved_run, stored_notices
from tests.faults.stack import own_stack

pytestmark = [pytest.mark.django_db(transaction=True)]

REDIS_PORT = 6393


def test_with_redis_stopped_log_in_and_the_public_verification_page_answer(tmp_path, settings, client, caplog):
    with own_stack(tmp_path, settings, redis_port=REDIS_PORT, env={}) as stack:
        settings.CACHES = {"default": {"BACKEND": "portal.cache.FailOpenRedisCache", "LOCATION": stack.redis.url}}
        notice = stored_notices(approved_run(teams=1).run)[0]
        user = UserFactory(role="applicant")
        verify = reverse("verify:notice", kwargs={"code": notice.verification_code})
        assert client.get(verify).status_code == 200  # Redis up: the throttle counts in it

        stack.redis.kill()
        caplog.set_level(logging.WARNING, logger="portal.cache")
        timings: list[tuple[str, int, float]] = []

        def timed(label, call):
            started = time.monotonic()
            response = call()
            timings.append((label, response.status_code, time.monotonic() - started))
            return response

        login_page = timed("GET login", lambda: client.get(reverse("account_login")))
        logged_in = timed(
            "POST login",
            lambda: client.post(reverse("account_login"), {"login": user.username, "password": "Correct-Horse-42!"}),
        )
        home = timed("GET home (signed in)", lambda: client.get("/"))
        client.logout()
        page = timed("GET verify", lambda: client.get(verify))
        unknown = timed(
            "GET verify (unknown code)",
            lambda: client.get(reverse("verify:notice", kwargs={"code": "AAAA-BBBB-CCCC-DDDD-EEEE"})),
        )
        health = timed("GET healthz", lambda: client.get("/healthz"))

    print("\nredis stopped:", ", ".join(f"{label} {status} in {seconds:.2f} s" for label, status, seconds in timings))
    assert (login_page.status_code, logged_in.status_code, home.status_code) == (200, 302, 200)
    assert logged_in["Location"] != reverse("account_login")
    assert (page.status_code, unknown.status_code) == (200, 404)
    assert notice.number in page.content.decode()
    assert health.json()["cache"]["status"] == "down"
    assert all(seconds < 3 for _label, _status, seconds in timings)
    assert any("cache: Redis unavailable" in r.getMessage() for r in caplog.records)
