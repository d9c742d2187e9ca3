"""The media disk fills up during an upload: 507 with a plain message and an incident id,
no attachment row, no partial file; with space again the same upload is stored.

The media folder is a real 1 MB tmpfs mounted by the test (needs root; skipped
otherwise), nearly filled, so the write fails with the kernel's own ENOSPC part-way
through the file. The storage is the one the settings configure; only its folder moves.
"""

from __future__ import annotations

import hashlib
import os
import subprocess

import pytest
from django.test import Client

from consortia.models import Attachment
from tests.factories_consortia import ApplicationFactory, ConsortiumFactory, pdf_bytes

pytestmark = [pytest.mark.django_db(transaction=True)]

FREE_BYTES = 150 * 1024


@pytest.fixture
def small_media_disk(tmp_path, settings):
    mount = tmp_path / "media"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.decode().strip()}")
    try:
        settings.STORAGES = {
            **settings.STORAGES,
            "default": {**settings.STORAGES["default"], "OPTIONS": {"location": str(mount)}},
        }
        settings.MEDIA_ROOT = mount
        filler = mount / "filler.bin"
        stat = os.statvfs(mount)
        filler.write_bytes(b"\0" * (stat.f_bavail * stat.f_frsize - FREE_BYTES))
        yield mount, filler
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def files_under(folder) -> dict[str, int]:
    return {
        os.path.relpath(os.path.join(root, name), folder): os.path.getsize(os.path.join(root, name))
        for root, _dirs, names in os.walk(folder)
        for name in names
    }


def test_an_upload_onto_a_full_disk_answers_507_and_leaves_no_row_and_no_partial_file(small_media_disk):
    mount, filler = small_media_disk
    consortium = ConsortiumFactory()
    application = ApplicationFactory(consortium=consortium)
    before_rows = Attachment.objects.count()  # the complete draft carries its proposal document
    before_files = files_under(mount)
    content = pdf_bytes(padding=400_000)  # larger than the space left
    assert len(content) > FREE_BYTES
    # NOTE: raise_request_exception=False: the answer is what a browser gets (handler500), not a raised error.
    client = Client(raise_request_exception=False)
    client.force_login(consortium.lead_contact)

    from django.core.files.uploadedfile import SimpleUploadedFile

    page = client.post(
        f"/consortia/applications/{application.pk}/attachments/",
        {"title": "사업계획서", "file": SimpleUploadedFile("plan.pdf", content, content_type="application/pdf")},
    )
    api = client.post(
        f"/api/v1/applications/{application.pk}/attachments/",
        {"title": "사업계획서", "file": SimpleUploadedFile("plan.pdf", content, content_type="application/pdf")},
        HTTP_ACCEPT="application/json",
    )
    print(f"\nmedia disk full: page {page.status_code}, API {api.status_code}, files left {sorted(files_under(mount))}")
    assert page.status_code == 507
    text = page.content.decode()
    assert "파일을 저장하지 못했습니다" in text and "The file could not be stored" in text
    assert page["X-Incident-Id"] in text
    assert (api.status_code, api.json()["code"]) == (507, "storage_full")
    assert Attachment.objects.count() == before_rows
    assert files_under(mount) == before_files  # no partial file

    filler.unlink()  # space again: the same upload is stored whole
    again = client.post(
        f"/consortia/applications/{application.pk}/attachments/",
        {"title": "사업계획서", "file": SimpleUploadedFile("plan.pdf", content, content_type="application/pdf")},
    )
    assert again.status_code == 302
    stored = Attachment.objects.filter(application=application).latest("id")
    assert Attachment.objects.count() == before_rows + 1
    with stored.file.open("rb") as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == stored.sha256 == hashlib.sha256(content).hexdigest()
