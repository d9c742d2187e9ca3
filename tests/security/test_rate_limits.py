"""Rate limits on submitting and uploading (SPEC §4, §10; issue 15).

Abuse volumes are refused with 429, ``Retry-After`` and a message, and change nothing;
honest use never is: a handful of last-minute resubmits a minute, a slow answer retried
with the same ``Idempotency-Key`` any number of times. The limits count per user and per
application in the shared cache; with the database cache they hold the same way; with the
cache unreachable the request goes through and a line is logged (fail open). Someone who
may not submit an application cannot spend its allowance.

Time is frozen inside one counting window so the outcome does not depend on when the test
runs.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
import time_machine
from django.urls import reverse

from consortia.models import ApplicationVersion, Attachment
from portal.models import AuditEntry
from tests.factories import UserFactory
from tests.factories_consortia import ApplicationFactory, ConsortiumFactory, pdf_bytes
from tests.security.upload_helpers import api_upload, page_upload

pytestmark = pytest.mark.django_db


def in_a_window(offset: float = 0.5, *, start: float | None = None):
    """Freeze the clock ``offset`` s into a fresh minute (every window here divides 60 s)."""
    import time

    minute = (int(start or time.time()) // 60 + 1) * 60
    return time_machine.travel(datetime.fromtimestamp(minute + offset, tz=UTC), tick=False)


def submit(client, application, **extra):
    return client.post(f"/api/v1/applications/{application.pk}/submit/", HTTP_ACCEPT_LANGUAGE="en", **extra)


def changes(application) -> tuple:
    return (
        ApplicationVersion.objects.filter(application=application).count(),
        Attachment.objects.filter(application=application).count(),
        AuditEntry.objects.exclude(action="access.refused").count(),
    )


def test_fifty_submits_in_a_second_are_refused_past_the_limit_and_change_nothing(api_for):
    application = ApplicationFactory()
    client = api_for(application.consortium.lead_contact)
    with in_a_window():
        accepted = [submit(client, application).status_code for _ in range(10)]
        before = changes(application)
        refusals = [submit(client, application) for _ in range(40)]
    assert accepted == [200] * 10 and [r.status_code for r in refusals] == [429] * 40
    assert changes(application) == before  # the 40 refusals changed nothing
    refused = refusals[0]
    assert ApplicationVersion.objects.filter(application=application).count() == 10
    body = refused.json()
    assert body["code"] == "rate_limited" and "Too many submissions" in body["detail"]
    assert "Nothing was changed" in body["detail"]
    retry = int(refused["Retry-After"])
    assert 1 <= retry <= 10 and body["retry_after"] == retry and f"{retry} seconds" in body["detail"]


def test_honest_last_minute_resubmits_are_never_refused(api_for):
    """Five resubmits a minute for five minutes, and a burst of five in two seconds."""
    application = ApplicationFactory()
    client = api_for(application.consortium.lead_contact)
    statuses = []
    with in_a_window() as clock:
        for _ in range(25):
            statuses.append(submit(client, application).status_code)
            clock.shift(12)
        for _ in range(5):
            statuses.append(submit(client, application).status_code)
            clock.shift(0.4)
    assert statuses == [200] * 30


def test_a_request_retried_with_the_same_idempotency_key_counts_once(api_for):
    application = ApplicationFactory()
    client = api_for(application.consortium.lead_contact)
    with in_a_window():
        responses = [submit(client, application, HTTP_IDEMPOTENCY_KEY="slow-answer-retried") for _ in range(30)]
        assert {r.status_code for r in responses} == {200}
        assert sum(1 for r in responses if not r.json()["replayed"]) == 1
        # ...and the team's own allowance is intact: nine more distinct submits pass.
        assert [submit(client, application).status_code for _ in range(9)] == [200] * 9


def test_the_limit_counts_per_user_across_their_applications(api_for, settings):
    settings.PORTAL_RATE_LIMITS = {
        "submit": {"user": [(6, 10)], "application": [(10, 10)]},
        "upload": {"user": [(20, 10)], "application": [(30, 10)]},
    }
    lead = UserFactory(role="applicant")
    first = ApplicationFactory(consortium=ConsortiumFactory(lead_contact=lead))
    second = ApplicationFactory(consortium=ConsortiumFactory(lead_contact=lead))
    client = api_for(lead)
    with in_a_window():
        statuses = [submit(client, app).status_code for app in (first, second) * 4]
    assert statuses == [200] * 6 + [429] * 2


def test_the_limit_counts_per_application_across_its_members(api_for, folders, settings):
    settings.PORTAL_RATE_LIMITS = {
        "submit": {"user": [(10, 10)], "application": [(10, 10)]},
        "upload": {"user": [(3, 10)], "application": [(4, 10)]},
    }
    application = ApplicationFactory(proposal_document=False)
    member = application.consortium.members.exclude(contact=application.consortium.lead_contact).first().contact
    lead_client, member_client = api_for(application.consortium.lead_contact), api_for(member)
    with in_a_window():
        statuses = [api_upload(lead_client, application, pdf_bytes()).status_code for _ in range(2)]
        statuses += [api_upload(member_client, application, pdf_bytes()).status_code for _ in range(2)]
        before = changes(application)
        refused = api_upload(member_client, application, pdf_bytes())
    assert statuses == [201] * 4
    assert refused.status_code == 429 and refused.json()["code"] == "rate_limited"
    assert "Too many uploads" in refused.json()["detail"] and "Retry-After" in refused
    assert changes(application) == before


def test_someone_who_may_not_submit_cannot_spend_the_teams_allowance(api_for):
    application = ApplicationFactory()
    stranger = api_for(UserFactory(role="applicant"))
    with in_a_window():
        assert {submit(stranger, application).status_code for _ in range(40)} == {404}
        assert submit(api_for(application.consortium.lead_contact), application).status_code == 200


def test_the_pages_answer_429_with_retry_after(client_for, folders, settings):
    settings.PORTAL_RATE_LIMITS = {
        "submit": {"user": [(1, 10)], "application": [(1, 10)]},
        "upload": {"user": [(1, 10)], "application": [(1, 10)]},
    }
    application = ApplicationFactory(proposal_document=False)
    client = client_for(application.consortium.lead_contact)
    with in_a_window():
        assert page_upload(client, application, pdf_bytes()).status_code == 302
        before = changes(application)
        upload = page_upload(client, application, pdf_bytes())
        submit_url = reverse("consortia:application_submit", args=[application.pk])
        assert client.post(submit_url, HTTP_ACCEPT_LANGUAGE="en").status_code == 302
        before_submit = changes(application)
        second = client.post(submit_url, HTTP_ACCEPT_LANGUAGE="en")
    assert upload.status_code == 429 and "Too many uploads" in upload.content.decode()
    assert 1 <= int(upload["Retry-After"]) <= 10
    assert second.status_code == 429 and "Too many submissions" in second.content.decode()
    assert int(second["Retry-After"]) >= 1
    assert changes(application) == before_submit and before[0] == before_submit[0] - 1


def test_with_the_database_cache_the_limit_holds(api_for, settings):
    from django.core.management import call_command

    settings.CACHES = {
        **settings.CACHES,
        "rate-db": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "portal_rate_limit_test"},
    }
    settings.PORTAL_RATE_LIMIT_CACHE = "rate-db"
    call_command("createcachetable", "portal_rate_limit_test", verbosity=0)
    application = ApplicationFactory()
    client = api_for(application.consortium.lead_contact)
    with in_a_window():
        statuses = [submit(client, application).status_code for _ in range(15)]
    assert statuses == [200] * 10 + [429] * 5


def test_with_the_cache_unreachable_submits_go_through_and_a_line_is_logged(api_for, settings, caplog):
    settings.CACHES = {
        **settings.CACHES,
        "rate-down": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:9/0"},
    }
    settings.PORTAL_RATE_LIMIT_CACHE = "rate-down"
    application = ApplicationFactory()
    client = api_for(application.consortium.lead_contact)
    with caplog.at_level(logging.WARNING, logger="portal.ratelimit"), in_a_window():
        statuses = [submit(client, application).status_code for _ in range(12)]
    assert statuses == [200] * 12
    lines = [r.getMessage() for r in caplog.records if r.name == "portal.ratelimit"]
    assert len(lines) == 12 and all("cache is unavailable" in line for line in lines)
