"""An upload's body handed over by the front proxy as the file it stored it in (SPEC §4, §10):
the applicant's file is stored, with the same limits and checks as a body on the socket; the
name is believed only from the proxy (its secret) and only inside the proxy's folder, so a
client can never make the portal take another file — another team's upload in flight, or
anything else on the machine."""

from __future__ import annotations

import hashlib

import pytest

from consortia.models import Attachment
from tests.factories_consortia import ApplicationFactory, pdf_bytes

SECRET = "front-proxy-stamp-secret"
BOUNDARY = "----handover-boundary"


def _multipart(content: bytes, *, title: str = "예산 부록") -> bytes:
    return (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="title"\r\n\r\n{title}\r\n'
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="부록.pdf"\r\n'
            "Content-Type: application/pdf\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


@pytest.fixture
def proxy_folder(tmp_path, settings):
    folder = tmp_path / "bodies"
    folder.mkdir()
    settings.PROXY_BODY_DIR = str(folder)
    settings.RECEIVED_STAMP_SECRET = SECRET
    return folder


def _handed_over(api, application, path, *, secret: str | None = SECRET, body: bytes = b""):
    headers = {"HTTP_X_BODY_FILE": str(path)}
    if secret is not None:
        headers["HTTP_X_REQUEST_START_SECRET"] = secret
    return api.generic(
        "POST",
        f"/api/v1/applications/{application.pk}/attachments/",
        body,
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
        **headers,
    )


def test_the_file_the_proxy_stored_is_the_upload(api_for, db, proxy_folder):
    application = ApplicationFactory()
    content = pdf_bytes(pages=3)
    stored = proxy_folder / "0000000007"
    stored.write_bytes(_multipart(content))
    response = _handed_over(api_for(application.consortium.lead_contact), application, stored)
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["sha256"], body["size"], body["page_count"], body["title"], body["original_name"]) == (
        hashlib.sha256(content).hexdigest(), len(content), 3, "예산 부록", "부록.pdf"
    )  # fmt: skip
    attachment = Attachment.objects.get(pk=body["id"])
    with attachment.file.open("rb") as handle:
        assert handle.read() == content
    assert stored.exists()  # the proxy's own file: nginx removes it, the portal never does


def test_a_handed_over_body_past_the_limit_is_refused_and_nothing_is_stored(api_for, db, proxy_folder):
    application = ApplicationFactory(consortium__programme__attachment_max_file_mb=1)
    before = list(Attachment.objects.filter(application=application))  # the proposal
    stored = proxy_folder / "0000000008"
    stored.write_bytes(_multipart(pdf_bytes(pages=1) + b"%" * (2 * 1024 * 1024)))
    response = _handed_over(api_for(application.consortium.lead_contact), application, stored)
    assert response.status_code == 413
    assert "1 MB" in response.json()["detail"]
    assert list(Attachment.objects.filter(application=application)) == before


@pytest.mark.parametrize("secret", [None, "a-guess"], ids=["no secret", "wrong secret"])
def test_a_clients_own_body_file_header_is_ignored(api_for, db, proxy_folder, secret):
    """Another team's body in flight, named by a client: not believed, never read."""
    application = ApplicationFactory()
    before = list(Attachment.objects.filter(application=application))  # the proposal
    elsewhere = proxy_folder / "0000000009"
    elsewhere.write_bytes(_multipart(pdf_bytes(pages=2)))
    response = _handed_over(api_for(application.consortium.lead_contact), application, elsewhere, secret=secret)
    assert response.status_code == 400
    assert "file" in response.json()["errors"]
    assert list(Attachment.objects.filter(application=application)) == before


def test_without_the_proxys_folder_configured_the_header_is_ignored(api_for, db, proxy_folder, settings):
    settings.PROXY_BODY_DIR = ""
    application = ApplicationFactory()
    stored = proxy_folder / "0000000010"
    stored.write_bytes(_multipart(pdf_bytes(pages=2)))
    content = pdf_bytes(pages=1)
    response = _handed_over(api_for(application.consortium.lead_contact), application, stored, body=_multipart(content))
    assert response.status_code == 201
    assert response.json()["sha256"] == hashlib.sha256(content).hexdigest()  # the socket's body


@pytest.mark.parametrize("where", ["outside", "symlink", "folder"])
def test_a_believed_name_outside_the_proxys_folder_is_refused_and_nothing_is_stored(
    api_for, db, proxy_folder, tmp_path, where, caplog
):
    application = ApplicationFactory()
    before = list(Attachment.objects.filter(application=application))  # the proposal
    target = tmp_path / "secret.pdf"
    target.write_bytes(_multipart(pdf_bytes(pages=2)))
    named = {
        "outside": proxy_folder / ".." / "secret.pdf",
        "symlink": proxy_folder / "0000000011",
        "folder": proxy_folder,
    }[where]
    if where == "symlink":
        named.symlink_to(target)
    response = _handed_over(api_for(application.consortium.lead_contact), application, named)
    assert response.status_code == 502
    assert response.json() == {
        "detail": "업로드를 받지 못했습니다. 아무것도 저장되지 않았습니다. 몇 분 뒤에 다시 보내 주십시오.",
        "code": "upload_unreadable",
    }
    assert list(Attachment.objects.filter(application=application)) == before
    assert "PROXY_BODY_DIR" in caplog.text


def test_the_page_upload_takes_the_handed_over_body_too(client_for, db, proxy_folder):
    application = ApplicationFactory()
    content = pdf_bytes(pages=2)
    stored = proxy_folder / "0000000012"
    page = f"/consortia/applications/{application.pk}/attachments/"
    client = client_for(application.consortium.lead_contact)
    client.get(page)
    csrf = client.cookies["csrftoken"].value
    stored.write_bytes(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="csrfmiddlewaretoken"\r\n\r\n{csrf}\r\n'.encode()
        + _multipart(content, title="페이지에서")
    )
    # As nginx passes it on: the client's Content-Type, no Content-Length, no body.
    response = client.generic(
        "POST", page, b"", CONTENT_TYPE=f"multipart/form-data; boundary={BOUNDARY}",
        HTTP_X_BODY_FILE=str(stored), HTTP_X_REQUEST_START_SECRET=SECRET,
    )  # fmt: skip
    assert (response.status_code, response["Location"]) == (302, page), response.content.decode()[-3000:]
    assert "페이지에서" in client.get(page).content.decode()
    attachment = Attachment.objects.get(application=application, title="페이지에서")
    assert attachment.sha256 == hashlib.sha256(content).hexdigest()


# --- the proxy's file read in place: the same result as Django's parser ----------------------


def _django_reads(body: bytes, content_type: str):
    import io

    from django.core.files.uploadhandler import TemporaryFileUploadHandler
    from django.http.multipartparser import MultiPartParser

    meta = {"CONTENT_TYPE": content_type, "CONTENT_LENGTH": str(len(body))}
    return MultiPartParser(meta, io.BytesIO(body), [TemporaryFileUploadHandler()], "utf-8").parse()


def _read_in_place(path, content_type: str, *, file_limit: int = 50 * 1024 * 1024):
    from django.utils.http import parse_header_parameters

    from portal.stored_multipart import read_stored_multipart

    boundary = parse_header_parameters(content_type)[1]["boundary"].encode()
    with open(path, "rb") as handle:
        return read_stored_multipart(handle, boundary, file_limit=file_limit)


def _as_sent_by_an_http_library(content: bytes, name: str = "부록 (최종).pdf"):
    import requests

    prepared = requests.Request(
        "POST", "https://portal.example/", data={"title": "예산 부록", "csrfmiddlewaretoken": "t0ken"},
        files={"file": (name, content, "application/pdf")},
    ).prepare()  # fmt: skip
    return prepared.body, prepared.headers["Content-Type"]


@pytest.mark.parametrize(
    "window",
    [4 * 1024 * 1024, 1000, "across"],
    ids=["4 MB windows", "1 kB windows", "a window ending in the delimiter"],
)
def test_a_body_read_in_place_is_what_djangos_parser_reads(tmp_path, db, monkeypatch, window):
    """A delimiter-like run of bytes inside the file, across the windows the search goes by,
    is part of the file, as it is for Django's parser; the closing delimiter is found where a
    window ends in the middle of it."""
    import portal.stored_multipart

    content = pdf_bytes(pages=2)
    body, content_type = _as_sent_by_an_http_library(b"")
    boundary = content_type.split("boundary=")[1].encode()
    tricky = content[:-10] + (b"\r\n--" + boundary[:-1] + b"x") * 40 + content[-10:]
    body, content_type = _as_sent_by_an_http_library(tricky)
    if window == "across":  # the file's end falls 5 bytes before the end of its second window
        window = (len(tricky) + 5) // 2
        assert len(tricky) % window == window - 5
    monkeypatch.setattr(portal.stored_multipart, "WINDOW", window)
    path = tmp_path / "body"
    path.write_bytes(body)
    theirs_post, theirs_files = _django_reads(body, content_type)
    ours = _read_in_place(path, content_type)
    assert ours is not None, "a browser-shaped body is read in place"
    post, files = ours
    assert post.dict() == theirs_post.dict() == {"title": "예산 부록", "csrfmiddlewaretoken": "t0ken"}
    mine, theirs = files["file"], theirs_files["file"]
    assert (mine.name, mine.content_type, mine.size) == (theirs.name, theirs.content_type, theirs.size)
    assert mine.read() == theirs.read() == tricky
    assert mine.sha256 == hashlib.sha256(tricky).hexdigest()


@pytest.mark.parametrize("shape", ["preamble", "base64", "two files"])
def test_an_unusual_body_is_left_to_djangos_parser_and_still_stored(
    api_for, db, proxy_folder, shape, tmp_path, settings
):
    """Django's parser gets the proxy's body whole (nothing given back before a body is read),
    and no temporary file begun for it is left behind."""
    import base64

    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "uploading")
    (tmp_path / "uploading").mkdir()

    application = ApplicationFactory()
    content = pdf_bytes(pages=2)
    part = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\n'
        "Content-Type: application/pdf\r\n"
    ).encode()
    if shape == "base64":
        body = part + b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.b64encode(content)
    else:
        body = part + b"\r\n" + content
    if shape == "two files":
        body += f'\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name="other"; filename="b.pdf"\r\n\r\n'.encode()
        body += pdf_bytes(pages=1)
    body = (b"A preamble no browser writes.\r\n" if shape == "preamble" else b"") + body
    body += f"\r\n--{BOUNDARY}--\r\n".encode()
    stored = proxy_folder / "0000000020"
    stored.write_bytes(body)
    assert _read_in_place(stored, f"multipart/form-data; boundary={BOUNDARY}") is None
    before = list(Attachment.objects.filter(application=application))
    response = _handed_over(api_for(application.consortium.lead_contact), application, stored)
    assert stored.read_bytes() == body
    assert list((tmp_path / "uploading").iterdir()) == []
    if shape == "two files":  # Django's parser reads both; the API names the field it does not take
        assert (response.status_code, list(response.json()["errors"])) == (400, ["other"])
        assert list(Attachment.objects.filter(application=application)) == before
        return
    assert response.status_code == 201, response.content
    assert response.json()["sha256"] == hashlib.sha256(content).hexdigest()


def test_an_upload_costs_the_same_queries_with_one_application_or_forty(api_for, db, proxy_folder, settings):
    """What an upload reads does not grow with the programme (SPEC §10): the row, the
    permission, the team's limits and the audit entry."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.PORTAL_RATE_LIMITS = {"upload": {"user": [(1000, 10)], "application": [(1000, 10)]}}
    application = ApplicationFactory()
    api = api_for(application.consortium.lead_contact)

    def queries(name: str) -> int:
        stored = proxy_folder / name
        stored.write_bytes(_multipart(pdf_bytes(pages=1)))
        with CaptureQueriesContext(connection) as ctx:
            assert _handed_over(api, application, stored).status_code == 201
        return len(ctx.captured_queries)

    queries("0000000030")  # the first one warms what is kept for the process
    alone = queries("0000000031")
    for _ in range(40):
        ApplicationFactory(consortium__programme=application.programme)
    # 14: the application is read with its consortium, which the permission check looks at.
    assert queries("0000000032") == alone <= 14


# --- the proxy's pages given back once the body is read --------------------------------------


def _allocated(path) -> int:
    return path.stat().st_blocks * 512


def test_the_proxys_file_is_given_back_once_read_and_the_upload_is_whole(api_for, db, proxy_folder):
    """A large upload: once the body is read the proxy's file is released (it keeps its size
    for nginx, its blocks go), and the stored file is the applicant's, byte for byte."""
    application = ApplicationFactory()
    content = pdf_bytes(pages=2, padding=6 * 1024 * 1024)
    stored = proxy_folder / "0000000031"
    stored.write_bytes(_multipart(content))
    size = stored.stat().st_size
    assert _allocated(stored) >= len(content)
    response = _handed_over(api_for(application.consortium.lead_contact), application, stored)
    assert response.status_code == 201, response.content
    assert response.json()["sha256"] == hashlib.sha256(content).hexdigest()
    with Attachment.objects.get(pk=response.json()["id"]).file.open("rb") as handle:
        assert handle.read() == content
    assert stored.stat().st_size == size
    assert _allocated(stored) <= 64 * 1024, "the body read is still held on the proxy's disk"


def test_a_body_opened_read_only_is_copied_whole_and_left_as_it_was(tmp_path, db):
    """Where the proxy's file can only be read (a read-only mount), nothing is given back and
    the upload is the same."""
    content = pdf_bytes(pages=1, padding=3 * 1024 * 1024)
    body, content_type = _as_sent_by_an_http_library(content)
    path = tmp_path / "body"
    path.write_bytes(body)
    allocated = _allocated(path)
    post, files = _read_in_place(path, content_type)
    assert files["file"].read() == content
    assert files["file"].sha256 == hashlib.sha256(content).hexdigest()
    assert path.read_bytes() == body
    assert _allocated(path) == allocated
