"""The deadline by the time of receipt (SPEC §4): the front proxy's stamp, trusted from it
alone, or the database's clock when handling begins — never a client's header and never a
web process's own clock; nobody refused for waiting in the portal's own queue."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from django.core import mail
from django.db import connection, connections, transaction
from django.test import TestCase
from django.utils import timezone

from consortia.models import ApplicationVersion
from portal.formatting import kst
from portal.models import Programme
from portal.received import database_now, parse_stamp
from tests.conftest import database_url_for_worker, token_client
from tests.factories import ProgrammeFactory
from tests.factories_consortia import ApplicationFactory, ConsortiumFactory

ROOT = Path(__file__).resolve().parents[2]
SECRET = "front-proxy-stamp-secret"


def _submit_url(application) -> str:
    return f"/api/v1/applications/{application.pk}/submit/"


def _stamp(at, secret: str = SECRET) -> dict:
    return {"HTTP_X_REQUEST_START": f"t={at.timestamp():.6f}", "HTTP_X_REQUEST_START_SECRET": secret}


def _draft(**programme):
    return ApplicationFactory(consortium=ConsortiumFactory(programme=ProgrammeFactory(**programme)))


def test_the_stamp_is_read_exactly_to_the_microsecond():
    at = timezone.now().replace(microsecond=123456)
    assert parse_stamp(f"t={at.timestamp():.6f}") == at
    assert parse_stamp("t=1754038800.123") == parse_stamp("1754038800.123000")
    assert [parse_stamp(v) for v in ("", "t=", "t=abc", "t=-5", "t=nan", "t=1e400", "t=" + "9" * 40)] == [None] * 7


# --- through the page: the receipt shows the received time in KST --------------------------------


def test_page_submit_received_at_the_deadline_is_accepted_and_the_receipt_shows_the_received_time(
    client_for, db, settings
):
    settings.RECEIVED_STAMP_SECRET = SECRET
    closes_at = timezone.now().replace(microsecond=250000) - timedelta(minutes=2)  # handled 2 minutes later
    application = _draft(closes_at=closes_at)
    lead = application.consortium.lead_contact
    browser = client_for(lead)
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = browser.post(f"/consortia/applications/{application.pk}/submit/", **_stamp(closes_at))
    version = ApplicationVersion.objects.get()
    assert response.status_code == 302, response.content[:500]
    assert response["Location"] == f"/consortia/applications/{application.pk}/versions/{version.number}/"
    assert version.submitted_at == closes_at
    assert version.content["received_clock"] == "proxy"
    receipt = browser.get(response["Location"], HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    shown = closes_at.astimezone(timezone.get_default_timezone()).strftime("%Y-%m-%d %H:%M:%S.250000 KST")
    assert "접수 시각" in receipt and shown in receipt, receipt[:3000]
    assert [m.to for m in mail.outbox] == [[lead.email]]
    assert f"{kst(closes_at)}" in mail.outbox[0].body


def test_page_submit_received_one_microsecond_late_is_refused(client_for, db, settings):
    settings.RECEIVED_STAMP_SECRET = SECRET
    closes_at = timezone.now() + timedelta(minutes=2)  # handled 2 minutes early
    application = _draft(closes_at=closes_at)
    browser = client_for(application.consortium.lead_contact)
    response = browser.post(
        f"/consortia/applications/{application.pk}/submit/",
        **_stamp(closes_at + timedelta(microseconds=1)),
        follow=True,
    )
    assert response.status_code == 200
    assert kst(closes_at) in response.content.decode()
    assert ApplicationVersion.objects.count() == 0


# --- a client's stamp counts for nothing ---------------------------------------------------------


@pytest.mark.parametrize(
    ("configured", "proxies", "sent_secret"),
    [
        ("", [], SECRET),  # no proxy configured: any stamp came from the client
        (SECRET, [], "guessed"),  # a wrong secret
        (SECRET, [], ""),  # the stamp without the secret
        (SECRET, ["10.0.0.5"], SECRET),  # the right secret, but not from the proxy's address
    ],
)
def test_a_forged_stamp_is_ignored_and_the_database_clock_decides(
    api_for, db, settings, configured, proxies, sent_secret
):
    settings.RECEIVED_STAMP_SECRET = configured
    settings.RECEIVED_STAMP_PROXIES = proxies
    late = _draft(closes_at=timezone.now() - timedelta(seconds=2))
    early_claim = late.programme.closes_at - timedelta(hours=1)
    response = api_for(late.consortium.lead_contact).post(_submit_url(late), **_stamp(early_claim, sent_secret))
    assert response.status_code == 409 and response.json()["code"] == "deadline_passed", response.json()
    assert ApplicationVersion.objects.count() == 0
    # A forged stamp after the deadline does not make an on-time submission late either.
    on_time = _draft(closes_at=timezone.now() + timedelta(minutes=5))
    before = database_now()
    claim = _stamp(on_time.programme.closes_at + timedelta(hours=1), sent_secret)
    response = api_for(on_time.consortium.lead_contact).post(_submit_url(on_time), **claim)
    assert response.status_code == 200, response.json()
    assert response.json()["received_clock"] == "database"
    version = ApplicationVersion.objects.get()
    assert before <= version.submitted_at <= database_now()


def test_the_proxy_address_list_admits_the_proxy_itself(api_for, db, settings):
    settings.RECEIVED_STAMP_SECRET = SECRET
    settings.RECEIVED_STAMP_PROXIES = ["127.0.0.1"]
    application = _draft(closes_at=timezone.now() - timedelta(seconds=30))
    at = application.programme.closes_at - timedelta(seconds=1)
    response = api_for(application.consortium.lead_contact).post(_submit_url(application), **_stamp(at))
    assert response.status_code == 200, response.json()
    assert (response.json()["received_clock"], ApplicationVersion.objects.get().submitted_at) == ("proxy", at)


def test_without_a_proxy_the_database_clock_when_handling_began_is_the_received_time(api_for, db):
    application = _draft()
    before = database_now()
    response = api_for(application.consortium.lead_contact).post(_submit_url(application))
    after = database_now()
    assert response.status_code == 200, response.json()
    version = ApplicationVersion.objects.get()
    assert before <= version.submitted_at <= after
    assert version.content["received_clock"] == response.json()["received_clock"] == "database"


# --- waiting in the portal's own queue never makes anyone late ------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_submit_received_before_the_deadline_waiting_for_a_lock_past_it_is_accepted():
    """Another transaction holds the programme row (as an officer's long write would) from
    before the deadline until after it; the submission received before the deadline waits
    for it and is accepted, stamped with the time it was received."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks")
    application = _draft()
    client = token_client(application.consortium.lead_contact)
    closes_at = database_now() + timedelta(seconds=1.5)
    Programme.objects.filter(pk=application.programme_id).update(closes_at=closes_at)
    locked, result = threading.Event(), {}

    def hold_the_programme_row():
        try:
            with transaction.atomic():
                Programme.objects.select_for_update().get(pk=application.programme_id)
                locked.set()
                time.sleep(max(0.0, (closes_at - database_now()).total_seconds()) + 1.0)
        finally:
            connections.close_all()

    def submit():
        try:
            result["response"] = client.post(_submit_url(application))
            result["finished"] = database_now()
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_the_programme_row)
    holder.start()
    assert locked.wait(10)
    sent = database_now()
    submitter = threading.Thread(target=submit)
    submitter.start()
    submitter.join(30)
    holder.join(30)
    response = result["response"]
    assert response.status_code == 200, response.json()
    version = ApplicationVersion.objects.get()
    assert result["finished"] > closes_at, "the submission must have waited past the deadline"
    assert sent <= version.submitted_at <= closes_at


# --- one clock for every web process: a process's own clock never decides ------------------------


def _skewed_server(port: int, skew_seconds: int) -> subprocess.Popen:
    """gunicorn serving the portal on the test database, in a process whose own clock (every
    ``time``/``datetime`` call, ``django.utils.timezone.now`` included) is ``skew_seconds`` off."""
    code = (
        "import datetime, sys, time_machine\n"
        f"time_machine.travel(datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds={skew_seconds}),"
        " tick=True).start()\n"
        "from gunicorn.app.wsgiapp import run\n"
        f"sys.argv = ['gunicorn', 'portal.wsgi:application', '--bind', '127.0.0.1:{port}', '--workers', '1',"
        " '--threads', '2', '--log-level', 'warning']\n"
        "run()\n"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings.test",
        "DATABASE_URL": database_url_for_worker(),
        "RECEIVED_STAMP_SECRET": "",
    }
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env, start_new_session=True)


def _post(port: int, path: str, token: str) -> tuple[int, dict, dict]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=b"", method="POST", headers={"Authorization": f"Token {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 -- loopback only
            return answer.status, dict(answer.headers), json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("port", "skew"), [(8361, -300), (8362, 300)])
def test_a_web_process_with_a_skewed_clock_still_decides_by_the_database_clock(port, skew):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (the database's clock, a server on the test database)")
    from email.utils import parsedate_to_datetime

    from rest_framework.authtoken.models import Token

    late, on_time = _draft(), _draft()
    tokens = {a.pk: Token.objects.create(user=a.consortium.lead_contact).key for a in (late, on_time)}
    server = _skewed_server(port, skew)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)  # noqa: S310
                break
            except urllib.error.HTTPError:
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "the skewed server did not start"
                time.sleep(0.3)
        now = database_now()
        Programme.objects.filter(pk=late.programme_id).update(closes_at=now - timedelta(seconds=4))
        Programme.objects.filter(pk=on_time.programme_id).update(closes_at=now + timedelta(seconds=30))
        status, headers, body = _post(port, _submit_url(late), tokens[late.pk])
        # The process's own clock really is off by the skew (its Date header comes from it).
        process_clock = parsedate_to_datetime(headers["Date"])
        assert abs((process_clock - database_now()).total_seconds() - skew) < 5
        assert status == 409 and body["code"] == "deadline_passed", body
        status, _headers, body = _post(port, _submit_url(on_time), tokens[on_time.pk])
        assert status == 200, body
        version = ApplicationVersion.objects.get()
        assert now <= version.submitted_at <= database_now()
        assert version.content["received_clock"] == "database"
    finally:
        os.killpg(server.pid, 15)
        server.wait(20)


# --- uploads: by the time received too -------------------------------------------------------


def _upload(api, application, at):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.factories_consortia import pdf_bytes

    return api.post(
        f"/api/v1/applications/{application.pk}/attachments/",
        {"file": SimpleUploadedFile("부록.pdf", pdf_bytes(pages=1), content_type="application/pdf"), "title": "부록"},
        format="multipart",
        **_stamp(at),
    )


def test_an_upload_received_at_the_deadline_and_handled_after_it_is_stored(db, settings):
    """An upload that waited in the portal's queue (or for its PDF check) past the deadline."""
    settings.RECEIVED_STAMP_SECRET = SECRET
    closes_at = timezone.now().replace(microsecond=500000) - timedelta(minutes=2)  # handled 2 minutes later
    application = _draft(closes_at=closes_at)
    response = _upload(token_client(application.consortium.lead_contact), application, closes_at)
    assert response.status_code == 201, response.content
    assert application.attachments.filter(title="부록").count() == 1


def test_an_upload_received_one_microsecond_late_is_refused_and_nothing_is_stored(db, settings):
    settings.RECEIVED_STAMP_SECRET = SECRET
    closes_at = timezone.now() + timedelta(minutes=2)  # handled 2 minutes early
    application = _draft(closes_at=closes_at)
    response = _upload(
        token_client(application.consortium.lead_contact), application, closes_at + timedelta(microseconds=1)
    )
    assert response.status_code == 409
    assert (response.json()["code"], kst(closes_at) in response.json()["detail"]) == ("deadline_passed", True)
    assert not application.attachments.filter(title="부록").exists()
