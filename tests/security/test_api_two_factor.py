"""Two-factor authentication on the API (SPEC §10; issue 15).

- Officers and administrators cannot use the API at all — token or session — until they
  have enrolled an authenticator app: 403 saying where to enrol, and nothing done.
- A privileged write over a token (starting or approving an allocation run, exporting award
  notices) needs a current code in ``X-OTP``; a code is accepted once: the current step's
  or the previous step's, each step once per user, also for two requests at the same moment.
- The step-up is checked before the input is read: a wrong code answers 403, never a 400
  naming the request's fields.

Time is frozen (time-machine) where a test needs to know which 30-second step it is in.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest
import time_machine
from django.db import connection, connections
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from gpu_allocation.models import AllocationRun, NoticeExport
from portal.models import AuditEntry, Programme
from portal.totp import totp_code, totp_secret, totp_step
from tests.factories import UserFactory
from tests.factories_allocation import allocation_setup

pytestmark = pytest.mark.django_db

ENROL_PATH = "/accounts/2fa/totp/activate/"
PROGRAMME = {
    "name": "새 사업", "name_en": "New programme", "year": 2031, "receipt_prefix": "NEW",
    "opens_at": "2031-01-01T09:00:00+09:00", "closes_at": "2031-03-01T18:00:00+09:00",
}  # fmt: skip


def bare_token_client(user) -> APIClient:
    """A token client that sends only what each test gives it (no automatic X-OTP)."""
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}", HTTP_ACCEPT_LANGUAGE="en"
    )
    return client


def frozen_in_a_step(offset: float = 5.0):
    """Freeze the clock ``offset`` seconds into the current 30-second step."""
    return time_machine.travel(datetime.fromtimestamp(totp_step() * 30 + offset, tz=UTC), tick=False)


def wrong(code: str) -> str:
    return code[:-1] + str((int(code[-1]) + 1) % 10)


def changes() -> tuple:
    return (
        Programme.objects.count(),
        AllocationRun.objects.count(),
        NoticeExport.objects.count(),
        AuditEntry.objects.count(),
    )


# ----------------------------------------------------------------------------- enrolment


@pytest.mark.parametrize("role", ["officer", "admin"])
def test_staff_token_without_an_authenticator_is_refused_with_how_to_enrol(role):
    user = UserFactory(role=role, is_staff=role == "admin")
    client = bare_token_client(user)
    before = changes()

    listed = client.get("/api/v1/programmes/")
    created = client.post("/api/v1/programmes/", PROGRAMME, format="json")

    for response in (listed, created):
        assert response.status_code == 403
        body = response.json()
        assert body["code"] == "two_factor_required"
        assert ENROL_PATH in body["detail"] and "authenticator app" in body["detail"]
    assert changes() == before  # no programme, no audit entry


def test_staff_session_api_call_without_an_authenticator_is_refused_with_how_to_enrol():
    officer = UserFactory(role="officer")
    client = APIClient()
    client.force_login(officer)
    before = changes()
    response = client.post("/api/v1/programmes/", PROGRAMME, format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 403
    assert response.json()["code"] == "two_factor_required" and ENROL_PATH in response.json()["detail"]
    assert changes() == before


@pytest.mark.parametrize("role", ["applicant", "reviewer"])
def test_applicants_and_reviewers_use_their_token_without_an_authenticator(role):
    response = bare_token_client(UserFactory(role=role)).get("/api/v1/programmes/")
    assert response.status_code == 200


def test_enrolled_staff_read_and_write_ordinary_things_without_a_code(officer):
    client = bare_token_client(officer)
    assert client.get("/api/v1/programmes/").status_code == 200
    created = client.post("/api/v1/programmes/", PROGRAMME, format="json")
    assert created.status_code == 201, created.content


# ----------------------------------------------------------------------------- one code, once


def test_a_step_up_code_is_accepted_once_the_current_and_the_previous_step_each_once(officer):
    setup = allocation_setup()
    url = f"/api/v1/programmes/{setup.programme.pk}/allocation-runs/"
    client = bare_token_client(officer)
    secret = totp_secret(officer)
    with frozen_in_a_step() as traveller:
        now = totp_step()
        first = client.post(url, HTTP_X_OTP=totp_code(secret, now))
        assert first.status_code == 202, first.content
        audit = AuditEntry.objects.count()

        replay = client.post(url, HTTP_X_OTP=totp_code(secret, now))
        assert replay.status_code == 403 and replay.json()["code"] == "reauthentication_required"
        assert "each code works once" in replay.json()["detail"]
        assert AllocationRun.objects.count() == 1 and AuditEntry.objects.count() == audit

        # The code shown just before (read off the app as it changed) passes the step-up once:
        # the run is then refused on its own terms (one is already queued), not for the code.
        previous = client.post(url, HTTP_X_OTP=totp_code(secret, now - 1))
        assert previous.status_code == 409 and previous.json()["code"] != "reauthentication_required"
        assert client.post(url, HTTP_X_OTP=totp_code(secret, now - 1)).status_code == 403
        assert client.post(url, HTTP_X_OTP=totp_code(secret, now - 2)).status_code == 403  # too old
        assert client.post(url, HTTP_X_OTP=totp_code(secret, now + 1)).status_code == 403  # not yet

        traveller.shift(30)  # the next step: its code is new
        assert client.post(url, HTTP_X_OTP=totp_code(secret, now + 1)).status_code == 409
    assert AllocationRun.objects.count() == 1


def test_a_code_spent_on_one_privileged_call_is_refused_on_another(officer, admin_user):
    from tests.factories_notices import approved_run

    run = approved_run(teams=2).run
    setup = allocation_setup()
    admin = bare_token_client(admin_user)
    officer_client = bare_token_client(officer)
    with frozen_in_a_step():
        code = totp_code(totp_secret(admin_user))
        assert admin.post("/api/v1/notice-exports/", {"run": run.pk}, format="json", HTTP_X_OTP=code).status_code == 202
        before = changes()
        again = admin.post("/api/v1/notice-exports/", {"run": run.pk}, format="json", HTTP_X_OTP=code)
        assert again.status_code == 403 and changes() == before
        # Another person's codes are their own: the officer's current code still works for them.
        officer_code = totp_code(totp_secret(officer))
        started = officer_client.post(
            f"/api/v1/programmes/{setup.programme.pk}/allocation-runs/", HTTP_X_OTP=officer_code
        )
        assert started.status_code == 202


@pytest.mark.django_db(transaction=True)
def test_two_requests_at_once_with_one_code_are_accepted_once():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: the rule rests on a row lock")
    from allauth.mfa.totp.internal.auth import TOTP

    officer = UserFactory(role="officer")
    TOTP.activate(officer, "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
    setups = [allocation_setup(), allocation_setup()]
    clients = [bare_token_client(officer) for _ in setups]
    code = totp_code(totp_secret(officer))
    barrier = threading.Barrier(2)
    statuses = [None, None]

    def work(i):
        try:
            barrier.wait()
            response = clients[i].post(f"/api/v1/programmes/{setups[i].programme.pk}/allocation-runs/", HTTP_X_OTP=code)
            statuses[i] = response.status_code
        finally:
            connections.close_all()

    if time.time() % 30 > 25:  # too close to the end of the step for both to see the same one
        time.sleep(30 - time.time() % 30 + 0.1)
        code = totp_code(totp_secret(officer))
    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(statuses) == [202, 403]
    assert AllocationRun.objects.count() == 1


# ----------------------------------------------------------------------------- step-up first


def test_a_wrong_code_on_an_export_is_403_not_a_validation_message(admin_user):
    from tests.factories_notices import approved_run

    run = approved_run(teams=1).run
    client = bare_token_client(admin_user)
    before = changes()
    with frozen_in_a_step():
        bad_code = wrong(totp_code(totp_secret(admin_user)))
        for body, headers in (
            ({"run": "not-a-number", "surprise": 1}, {"HTTP_X_OTP": bad_code}),
            ({}, {"HTTP_X_OTP": bad_code}),
            ({"run": run.pk}, {"HTTP_X_OTP": bad_code}),
            ({"run": "not-a-number"}, {}),
            ({"run": run.pk}, {"HTTP_X_OTP": "12345x"}),
        ):
            response = client.post("/api/v1/notice-exports/", body, format="json", **headers)
            assert response.status_code == 403, (body, response.content)
            data = response.json()
            assert data["code"] == "reauthentication_required" and "X-OTP" in data["detail"]
            assert "errors" not in data and "run" not in data["detail"]  # no field named
    assert changes() == before


def test_a_wrong_code_on_an_approval_is_403_before_the_reason_is_read(officer):
    from tests.factories_notices import approved_run

    pending = approved_run(teams=1, approved=False).run
    client = bare_token_client(officer)
    before = changes()
    with frozen_in_a_step():
        response = client.post(
            f"/api/v1/allocation-runs/{pending.pk}/approve/",
            {"reason": ["not", "text"], "unknown": True},
            format="json",
            HTTP_X_OTP=wrong(totp_code(totp_secret(officer))),
        )
    assert response.status_code == 403 and response.json()["code"] == "reauthentication_required"
    pending.refresh_from_db()
    assert pending.approved_at is None and changes() == before


def test_people_who_may_not_export_still_get_404_not_a_code_prompt(officer):
    from tests.factories_notices import approved_run

    run = approved_run(teams=1).run
    response = bare_token_client(officer).post("/api/v1/notice-exports/", {"run": run.pk}, format="json")
    assert response.status_code == 404
