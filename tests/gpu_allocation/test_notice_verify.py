"""The public verification page ``/verify/<code>/``: facts and digest, PDF comparison,
unknown codes, refusals of bad uploads, throttling and superseded notices."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from awards.services import notice_issue_for_run
from awards.views import VERIFY_MAX_UPLOAD_BYTES, VERIFY_RATE_PER_MINUTE
from tests.factories_notices import approve, approved_run, rerun_same_teams

# From a random start: a run straight after another (the shared cache keeps its counters for
# 90 s) does not reuse its addresses.
_addresses = itertools.count(random.randrange(60_000))


def anonymous() -> Client:
    """A client from its own address, so throttling counters of other tests never interfere."""
    n = next(_addresses)
    return Client(REMOTE_ADDR=f"10.66.{n // 250}.{n % 250 + 1}")


@pytest.fixture
def issued(db):
    setup = approved_run(teams=1)
    notice = notice_issue_for_run(run=setup.run, by=setup.officer)[0]
    with notice.pdf.open("rb") as handle:
        data = handle.read()
    return setup, notice, data


def test_verify_page_shows_the_notice_and_its_digest_without_login(issued):
    _, notice, _ = issued
    response = anonymous().get(reverse("verify:notice", args=[notice.verification_code]))
    assert response.status_code == 200
    html = response.content.decode()
    assert notice.number in html
    assert notice.sha256 in html
    assert "한빛 파운데이션 컨소시엄" in html
    assert 'data-testid="verify-status"' in html and "alert-success" in html


def test_code_is_matched_case_insensitively(issued):
    _, notice, _ = issued
    response = anonymous().get(reverse("verify:notice", args=[notice.verification_code.lower()]))
    assert response.status_code == 200


def test_uploading_the_issued_pdf_matches(issued):
    _, notice, data = issued
    response = anonymous().post(
        reverse("verify:notice", args=[notice.verification_code]),
        {"pdf": SimpleUploadedFile("notice.pdf", data, content_type="application/pdf")},
    )
    assert response.status_code == 200
    assert response.context["check"].matches is True
    assert response.context["check"].sha256 == notice.sha256


def test_uploading_a_modified_pdf_is_rejected(issued):
    _, notice, data = issued
    middle = len(data) // 2
    tampered = data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1 :]  # one bit flipped
    response = anonymous().post(
        reverse("verify:notice", args=[notice.verification_code]),
        {"pdf": SimpleUploadedFile("notice.pdf", tampered, content_type="application/pdf")},
    )
    assert response.status_code == 200
    assert response.context["check"].matches is False
    assert response.context["check"].sha256 != notice.sha256
    assert 'data-testid="verify-result"' in response.content.decode()


def test_non_pdf_upload_is_refused_with_a_message(issued):
    _, notice, _ = issued
    response = anonymous().post(
        reverse("verify:notice", args=[notice.verification_code]),
        {"pdf": SimpleUploadedFile("notice.pdf", b"<html>not a pdf</html>", content_type="application/pdf")},
    )
    assert response.status_code == 400
    assert response.context["check"] is None
    assert response.context["problem"]


def test_missing_file_is_refused(issued):
    _, notice, _ = issued
    response = anonymous().post(reverse("verify:notice", args=[notice.verification_code]), {})
    assert (response.status_code, response.context["check"]) == (400, None)


def test_oversize_upload_is_refused(issued):
    _, notice, _ = issued
    big = b"%PDF-1.7\n" + b"0" * (VERIFY_MAX_UPLOAD_BYTES + 1)
    response = anonymous().post(
        reverse("verify:notice", args=[notice.verification_code]),
        {"pdf": SimpleUploadedFile("big.pdf", big, content_type="application/pdf")},
    )
    assert response.status_code == 413
    assert response.context["check"] is None


@pytest.mark.django_db
@pytest.mark.parametrize("code", ["AAAA-BBBB-CCCC-DDDD-EEEE", "short", "../../etc/passwd", "x" * 40])
def test_unknown_codes_answer_404(code):
    response = anonymous().get(f"/verify/{code}/")
    assert response.status_code == 404


@pytest.mark.django_db
# The throttle counts in fixed one-minute windows: the test stands still ten seconds into one,
# so its requests never straddle two windows (they did, now and then, on a busy machine).
@time_machine.travel(datetime(2031, 3, 5, 10, 20, 10, tzinfo=UTC), tick=False)
def test_guessing_is_throttled_per_address():
    client = anonymous()
    statuses = [
        client.get(f"/verify/AAAA-BBBB-CCCC-DDDD-{i:04d}/").status_code for i in range(VERIFY_RATE_PER_MINUTE + 3)
    ]
    assert statuses[:VERIFY_RATE_PER_MINUTE] == [404] * VERIFY_RATE_PER_MINUTE
    assert statuses[VERIFY_RATE_PER_MINUTE:] == [429] * 3
    limited = client.get("/verify/AAAA-BBBB-CCCC-DDDD-0000/")
    assert limited["Retry-After"] == "60"
    # Another address is not affected.
    assert anonymous().get("/verify/AAAA-BBBB-CCCC-DDDD-0000/").status_code == 404


def test_superseded_notice_says_so(issued):
    setup, notice, _ = issued
    new_run = rerun_same_teams(setup)
    approve(new_run, setup.officer)
    replacement = notice_issue_for_run(run=new_run, by=setup.officer)[0]

    response = anonymous().get(reverse("verify:notice", args=[notice.verification_code]))

    html = response.content.decode()
    assert response.status_code == 200
    assert response.context["notice_in_force"] is False
    assert replacement.number in html
    assert "alert-warning" in html
    # the particle after the notice number follows its last digit (…1로, …3으로), never "(으)로"
    from portal.korean import particle

    assert f"통지서 {particle(replacement.number, '으로/로')} 대체되었습니다." in html
    assert "(으)로" not in html
