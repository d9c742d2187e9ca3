"""Uploads at disk speed (SPEC §4, §10): the file streams to a temporary file and is hashed on
the way, the PDF check's child reads it from disk, and storage takes that file as it is — a web
process never holds a whole file. Checked from outside: a real gunicorn's worker memory while
several 20 MB files arrive at once, the stored bytes against the client's SHA-256, and the
check's long-lived inspection server (no new interpreter per file)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
import tracemalloc
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from rest_framework.authtoken.models import Token

from consortia.models import Attachment
from consortia.validators import PdfInspector
from portal.pdf_inspect import inspect_file, scan_raw_names
from tests.conftest import database_url_for_worker
from tests.factories_consortia import ApplicationFactory

ROOT = Path(__file__).resolve().parents[2]
PORT = 8364


def photo_pdf(size: int, *, pages: int = 2, name_in_image: bool = False) -> bytes:
    """A plain PDF of about ``size`` bytes whose pages each draw one image of random bytes
    (what a scanned or photographed page is); ``name_in_image`` writes ``/JS `` into an image's
    bytes, as compressed image data does by chance."""
    per_image = (size - 4096) // pages
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    kids = " ".join(f"{3 + 3 * i} 0 R" for i in range(pages))
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode())
    for i in range(pages):
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents {4 + 3 * i} 0 R "
            f"/Resources << /XObject << /Im{i} {5 + 3 * i} 0 R >> >> >>".encode()
        )
        draw = f"q 595 0 0 842 0 0 cm /Im{i} Do Q".encode()
        objects.append(b"<< /Length %d >>\nstream\n" % len(draw) + draw + b"\nendstream")
        image = bytearray(os.urandom(per_image))
        if name_in_image:
            image[100:104] = b"/JS "
        objects.append(
            b"<< /Type /XObject /Subtype /Image /Width 2000 /Height 2000 /ColorSpace /DeviceRGB "
            b"/BitsPerComponent 8 /Filter /DCTDecode /Length %d >>\nstream\n"
            % len(image)
            + bytes(image)
            + b"\nendstream"
        )
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def _upload(api, application, content: bytes, name: str = "scan.pdf"):
    return api.post(
        f"/api/v1/applications/{application.pk}/attachments/",
        {"file": SimpleUploadedFile(name, content, content_type="application/pdf"), "title": "스캔본"},
        format="multipart",
    )


def test_image_bytes_that_look_like_a_name_do_not_refuse_a_plain_scan(api_for, db):
    content = photo_pdf(3 * 1024 * 1024, name_in_image=True)
    assert scan_raw_names(content) == set()
    application = ApplicationFactory(proposal_document=False)
    response = _upload(api_for(application.consortium.lead_contact), application, content)
    assert response.status_code == 201, response.json()
    assert response.json()["sha256"] == hashlib.sha256(content).hexdigest()
    stored = Attachment.objects.get(pk=response.json()["id"])
    with stored.file.open("rb") as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == stored.sha256 == response.json()["sha256"]
    # A name written in the objects themselves, outside any stream, is still found.
    assert scan_raw_names(b"1 0 obj << /S /JavaScript /JS (x) >> endobj") == {"javascript"}


def test_the_check_looks_at_a_scan_without_copying_its_pictures(tmp_path):
    """The check's child maps the file and walks every object's dictionary; a picture's
    megabytes are looked at in place, never copied into the child's memory (they cost its
    processor and its memory in the upload rush, and told nothing)."""
    path = tmp_path / "scan.pdf"
    path.write_bytes(photo_pdf(6 * 1024 * 1024, pages=2))
    tracemalloc.start()
    try:
        result = inspect_file(str(path), max_objects=10_000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result == {"status": "ok", "pages": 2, "active": []}
    assert peak < 1024 * 1024, f"the check allocated {peak / 1024 / 1024:.1f} MB for a 6 MB scan"


def test_every_check_of_a_process_goes_through_one_inspection_server(api_for, db):
    application = ApplicationFactory(proposal_document=False)
    api = api_for(application.consortium.lead_contact)
    assert _upload(api, application, photo_pdf(300_000), "a.pdf").status_code == 201
    server = PdfInspector.get().proc
    assert _upload(api, application, photo_pdf(300_000), "b.pdf").status_code == 201
    assert PdfInspector.get().proc is server and server.poll() is None
    command = Path(f"/proc/{server.pid}/cmdline").read_bytes().split(b"\0")
    assert command[2].endswith(b"pdf_inspect.py") and command[3] == b"--server"


def _peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def _worker_pid(master: int) -> int:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == master:
                    return int(entry.name)
            except OSError:
                continue
    raise AssertionError("no worker")


def _multipart(application_pk: int, token: str, content: bytes) -> urllib.request.Request:
    boundary = "portal-test-boundary"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.pdf"\r\n'
        "Content-Type: application/pdf\r\n\r\n".encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return urllib.request.Request(
        f"http://127.0.0.1:{PORT}/api/v1/applications/{application_pk}/attachments/",
        data=body,
        method="POST",
        headers={"Authorization": f"Token {token}", "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )


@pytest.mark.django_db(transaction=True)
def test_a_web_worker_stays_small_while_four_20_mb_files_arrive_at_once(tmp_path):
    """Four 20 MB uploads at the same moment to one gunicorn worker with four threads: all
    stored byte for byte, and the worker's peak memory grows by far less than one file each."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (a real server on the test database)")
    applications = [ApplicationFactory(proposal_document=False) for _ in range(4)]
    tokens = [Token.objects.create(user=a.consortium.lead_contact).key for a in applications]
    files = [photo_pdf(20 * 1024 * 1024 - 70_000) for _ in applications]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings.test",
        "DATABASE_URL": database_url_for_worker(),
        "TMPDIR": str(tmp_path),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "portal.wsgi:application",
         "--bind", f"127.0.0.1:{PORT}", "--workers", "1", "--threads", "4", "--log-level", "warning"],
        cwd=ROOT, env=env, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{PORT}/accounts/login/", timeout=5)  # noqa: S310
                break
            except urllib.error.HTTPError:
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "gunicorn did not start"
                time.sleep(0.3)
        worker = _worker_pid(server.pid)
        before = _peak_mb(worker)
        answers: list = [None] * 4

        def send(k: int) -> None:
            request = _multipart(applications[k].pk, tokens[k], files[k])
            try:
                with urllib.request.urlopen(request, timeout=120) as answer:  # noqa: S310 -- loopback only
                    answers[k] = (answer.status, json.loads(answer.read()))
            except urllib.error.HTTPError as error:
                answers[k] = (error.code, error.read()[:300])

        threads = [threading.Thread(target=send, args=(k,)) for k in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(180)
        grown = _peak_mb(worker) - before
    finally:
        os.killpg(server.pid, 15)
        server.wait(20)
    assert [a[0] for a in answers] == [201] * 4, answers
    for k, (_status, body) in enumerate(answers):
        assert body["sha256"] == hashlib.sha256(files[k]).hexdigest()
        stored = Attachment.objects.get(pk=body["id"])
        with stored.file.open("rb") as handle:
            assert hashlib.sha256(handle.read()).hexdigest() == body["sha256"]
        stored.file.storage.delete(stored.file.name)
    # Four files of 20 MB each were in flight: holding them would cost 80 MB and more.
    assert grown < 30, f"the worker's peak memory grew by {grown:.0f} MB"


@pytest.mark.parametrize("at", [0, 28_995, 28_996, 29_000, 57_999, 120_000 - 9])
def test_the_stepped_search_finds_what_a_plain_search_finds(at):
    """The end of a stream is found wherever it sits, across the steps the search goes by."""
    from portal.pdf_inspect import find_in_steps

    data = bytearray(os.urandom(120_000).replace(b"e", b"f"))
    data[at : at + 9] = b"endstream"
    data = bytes(data)
    assert find_in_steps(data, b"endstream", 0) == data.find(b"endstream") == at
    assert find_in_steps(data, b"endstream", at + 1) == data.find(b"endstream", at + 1) == -1
    assert find_in_steps(data, b"endstream", 0, at + 8) == -1
