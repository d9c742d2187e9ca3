"""Upload size limits (SPEC §4; issue 15): refused from ``Content-Length`` before the body is
read, and while it streams, with 413 naming the limit; nothing stored, no temporary file.

The request bodies here are streams that count what the portal reads of them, so "before
the body is read" is measured, not assumed. One probe goes through a real HTTP server and
socket: a client announcing 30 MB gets its 413 without sending a byte of the body.
"""

from __future__ import annotations

import io
import socket
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from django.urls import reverse

from tests.factories_consortia import ApplicationFactory, pdf_bytes
from tests.security.upload_helpers import api_upload, files_in, state

pytestmark = pytest.mark.django_db

MB = 1024 * 1024


class CountingBody(io.RawIOBase):
    """A request body of ``size`` bytes (``head`` and then filler) that counts what is read."""

    def __init__(self, head: bytes, size: int):
        self.head, self.size, self.read_bytes = head, size, 0

    def readable(self):
        return True

    def read(self, n=-1):
        left = self.size - self.read_bytes
        n = left if n is None or n < 0 else min(n, left)
        start = self.read_bytes
        self.read_bytes += n
        chunk = self.head[start : start + n]
        return chunk + b"0" * (n - len(chunk))

    def readline(self, limit=-1):
        return self.read(limit)


def announce(client, path: str, size: int, *, head: bytes = b"", content_type: str = MULTIPART_CONTENT, **extra):
    body = CountingBody(head, size)
    environ = {"CONTENT_LENGTH": str(size), "CONTENT_TYPE": content_type, "wsgi.input": body}
    # NOTE: DRF's test client sets CONTENT_TYPE from ``content_type``; Django's from the environ.
    response = client.generic("POST", path, content_type=content_type, **environ, **extra)
    return response, body


def multipart_file(size: int) -> bytes:
    """A multipart body with one PDF file part of ``size`` bytes and a title."""
    content = pdf_bytes(padding=max(0, size - 600))
    return encode_multipart(BOUNDARY, {"title": "큰 파일", "file": SimpleUploadedFile("big.pdf", content)})


@pytest.fixture
def application(db):
    return ApplicationFactory(proposal_document=False)


# ----------------------------------------------------------------------------- announced too large


def test_api_upload_announcing_30_mb_is_413_before_the_body_is_read(application, api_for, folders):
    client = api_for(application.consortium.lead_contact)
    before = state()
    response, body = announce(
        client, f"/api/v1/applications/{application.pk}/attachments/", 30 * MB, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 413
    assert response.json()["code"] == "attachment_too_large"
    assert "limit of 20 MB" in response.json()["detail"] and response.json()["limit_bytes"] == 20 * MB
    assert body.read_bytes == 0
    assert state() == before and files_in(folders[0]) == [] and files_in(folders[1]) == []


def test_page_upload_announcing_30_mb_is_a_413_page_before_the_body_is_read(application, client_for, folders):
    client = client_for(application.consortium.lead_contact)
    before = state()
    path = reverse("consortia:application_attachments", args=[application.pk])
    response, body = announce(client, path, 30 * MB, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 413
    page = response.content.decode()
    assert "limit of 20 MB per file" in page and "Nothing was stored" in page
    assert body.read_bytes == 0
    assert state() == before and files_in(folders[0]) == [] and files_in(folders[1]) == []


def test_other_requests_announcing_more_than_the_request_limit_are_413_unread(officer, api_for, settings):
    settings.REQUEST_BODY_MAX_MB = 2
    from portal.models import Programme

    before = Programme.objects.count()
    response, body = announce(
        api_for(officer), "/api/v1/programmes/", 3 * MB, content_type="application/json", HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 413 and "limit of 2 MB" in response.json()["detail"]
    assert body.read_bytes == 0 and Programme.objects.count() == before


# ----------------------------------------------------------------------------- too large while streaming


@pytest.mark.parametrize("through", ["api", "page"])
def test_a_file_passing_the_limit_while_streaming_is_stopped_there(
    application, api_for, client_for, folders, settings, through
):
    """The announced length is within the allowance for the other parts, but the file part
    itself passes the 1 MB limit: the upload handler stops reading at the limit, Django drops
    the temporary file it had begun (files above 100 kB go to disk here), 413."""
    from portal.models import Programme

    Programme.objects.update(attachment_max_file_mb=1)
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 100 * 1024
    data = multipart_file(MB + 60 * 1024)
    assert MB + 40 * 1024 < len(data) < MB + 64 * 1024  # passes the Content-Length check
    if through == "api":
        client, path = (
            api_for(application.consortium.lead_contact),
            f"/api/v1/applications/{application.pk}/attachments/",
        )
    else:
        client = client_for(application.consortium.lead_contact)
        path = reverse("consortia:application_attachments", args=[application.pk])
    before = state()
    response, body = announce(client, path, len(data), head=data, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 413
    text = response.json()["detail"] if through == "api" else response.content.decode()
    assert "limit of 1 MB" in text
    assert body.read_bytes < len(data)  # the rest of the body was never read
    assert state() == before and files_in(folders[0]) == [] and files_in(folders[1]) == []


def test_the_programmes_own_lower_limit_is_413_too(application, api_for, folders):
    """Another programme takes 20 MB, so the body is read; this one takes 1 MB: the check of
    the file against its application's programme answers 413 naming 1 MB."""
    from tests.factories import ProgrammeFactory

    ProgrammeFactory()  # 20 MB per file
    application.programme.attachment_max_file_mb = 1
    application.programme.save()
    before = state()
    response = api_upload(api_for(application.consortium.lead_contact), application, pdf_bytes(padding=MB + 10))
    assert response.status_code == 413 and "limit of 1 MB" in response.json()["detail"]
    assert state() == before and files_in(folders[0]) == [] and files_in(folders[1]) == []


def test_a_file_within_the_limit_is_stored_and_no_temporary_file_remains(application, api_for, folders, settings):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 100 * 1024  # through a temporary file
    response = api_upload(api_for(application.consortium.lead_contact), application, pdf_bytes(padding=300 * 1024))
    assert response.status_code == 201, response.content
    assert len(files_in(folders[0])) == 1 and files_in(folders[1]) == []


# ----------------------------------------------------------------------------- a real server


@pytest.mark.django_db(transaction=True)
def test_a_real_client_announcing_30_mb_is_answered_413_without_sending_the_body(live_server):
    application = ApplicationFactory(proposal_document=False)
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=application.consortium.lead_contact)
    host, port = live_server.url.removeprefix("http://").split(":")
    head = (
        f"POST /api/v1/applications/{application.pk}/attachments/ HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Authorization: Token {token.key}\r\nAccept-Language: en\r\n"
        f"Content-Type: multipart/form-data; boundary=x\r\nContent-Length: {30 * MB}\r\nConnection: close\r\n\r\n"
    )
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head.encode())  # and not one byte of the body
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += sock.recv(65536)
        headers, _, body = answer.partition(b"\r\n\r\n")
        length = int(
            next(line for line in headers.split(b"\r\n") if line.lower().startswith(b"content-length:")).split(b":")[1]
        )
        while len(body) < length:
            body += sock.recv(65536)
        answer = headers + b"\r\n\r\n" + body
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"limit of 20 MB" in answer
    assert time.monotonic() - started < 5
