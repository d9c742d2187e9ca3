"""Attachments: PDF only, judged by content; limits; digests; served only to the team."""

import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from consortia.models import Attachment
from tests.factories_consortia import ApplicationFactory, ConsortiumFactory, pdf_bytes


def _upload(client, application, name, content, content_type="application/pdf"):
    return client.post(
        f"/api/v1/applications/{application.pk}/attachments/",
        {"file": SimpleUploadedFile(name, content, content_type=content_type), "title": "사업계획서"},
        format="multipart",
    )


def test_valid_pdf_is_stored_with_its_digest(api_for, client_for, db):
    application = ApplicationFactory(proposal_document=False)
    content = pdf_bytes(pages=3)
    response = _upload(api_for(application.consortium.lead_contact), application, "plan.pdf", content)
    assert response.status_code == 201, response.json()
    attachment = Attachment.objects.get()
    assert (attachment.sha256, attachment.size, attachment.page_count, attachment.original_name) == (
        hashlib.sha256(content).hexdigest(), len(content), 3, "plan.pdf",
    )  # fmt: skip
    assert "plan" not in attachment.file.name and attachment.file.name.startswith(f"attachments/{application.pk}/")
    download = client_for(application.consortium.lead_contact).get(response.json()["download_url"])
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == content


BAD_FILES = [
    ("encrypted", "secret.pdf", lambda: pdf_bytes(encrypt=True), "attachment_encrypted"),
    ("truncated", "cut.pdf", lambda: pdf_bytes(pages=2)[:300], "attachment_damaged"),
    ("truncated tail", "cut2.pdf", lambda: pdf_bytes(pages=2)[:-40], "attachment_damaged"),
    ("renamed png", "photo.pdf", lambda: b"\x89PNG\r\n\x1a\n" + b"\x00" * 200, "attachment_not_pdf"),
    ("renamed text", "notes.pdf", lambda: "그냥 글입니다".encode() * 10, "attachment_not_pdf"),
    ("fake header", "fake.pdf", lambda: b"%PDF-1.7\nthis is not really a pdf\n%%EOF\n", "attachment_damaged"),
]


@pytest.mark.parametrize(("kind", "name", "make", "phrase"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_attachment_is_refused_with_a_clear_message(api_for, db, kind, name, make, phrase):
    application = ApplicationFactory(proposal_document=False)
    response = _upload(api_for(application.consortium.lead_contact), application, name, make())
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == phrase, body
    assert body["detail"].startswith(("Attachment:", "첨부")), body
    assert Attachment.objects.count() == 0


def test_empty_file_is_refused(api_for, db):
    application = ApplicationFactory(proposal_document=False)
    response = _upload(api_for(application.consortium.lead_contact), application, "empty.pdf", b"")
    assert response.status_code == 400
    assert "file" in response.json()["errors"]
    assert Attachment.objects.count() == 0


def test_validator_messages_name_the_field():
    from django.core.exceptions import ValidationError
    from django.core.files.base import ContentFile
    from django.utils import translation

    from consortia.validators import check_pdf

    with translation.override("en"):
        for kind, _name, make, code in BAD_FILES:
            with pytest.raises(ValidationError) as error:
                check_pdf(ContentFile(make()), max_bytes=10 * 1024 * 1024)
            assert error.value.code == code, kind
            assert error.value.messages[0].startswith("Attachment:"), kind


def test_file_over_the_per_file_limit_is_refused(api_for, db):
    application = ApplicationFactory(proposal_document=False)
    application.programme.attachment_max_file_mb = 1
    application.programme.save()
    big = pdf_bytes(padding=1024 * 1024 + 10)
    response = _upload(api_for(application.consortium.lead_contact), application, "big.pdf", big)
    assert response.status_code == 413  # the programme's own limit, once the application is known
    assert response.json()["code"] == "attachment_too_large"
    assert "1 MB" in response.json()["detail"]
    assert Attachment.objects.count() == 0


def test_total_limit_is_enforced(api_for, db):
    application = ApplicationFactory(proposal_document=False)
    application.programme.attachment_max_file_mb = 1
    application.programme.attachment_max_total_mb = 1
    application.programme.save()
    half = pdf_bytes(padding=600 * 1024)
    client = api_for(application.consortium.lead_contact)
    assert _upload(client, application, "a.pdf", half).status_code == 201
    response = _upload(client, application, "b.pdf", half)
    assert response.status_code == 400
    assert response.json()["errors"] == {"file": ["total too large"]}
    assert Attachment.objects.count() == 1


def test_attachment_invisible_to_another_consortium(api_for, client_for, db):
    application = ApplicationFactory(proposal_document=False)
    response = _upload(api_for(application.consortium.lead_contact), application, "plan.pdf", pdf_bytes())
    url = response.json()["download_url"]
    other = ConsortiumFactory().lead_contact
    assert client_for(other).get(url).status_code == 404
    assert api_for(other).get(f"/api/v1/applications/{application.pk}/attachments/").status_code == 404
    assert _upload(api_for(other), application, "x.pdf", pdf_bytes()).status_code == 404


def test_submitted_version_records_attachment_digests(api_for, db):
    application = ApplicationFactory(proposal_document=False)
    client = api_for(application.consortium.lead_contact)
    content = pdf_bytes()
    _upload(client, application, "plan.pdf", content)
    client.post(f"/api/v1/applications/{application.pk}/submit/")
    version = application.versions.get()
    assert [a["sha256"] for a in version.content["attachments"]] == [hashlib.sha256(content).hexdigest()]


def test_officer_downloads_only_after_the_deadline(api_for, client_for, officer, db):
    from datetime import timedelta

    from django.utils import timezone

    from portal.models import Programme

    application = ApplicationFactory(proposal_document=False)
    content = pdf_bytes()
    url = _upload(api_for(application.consortium.lead_contact), application, "plan.pdf", content).json()["download_url"]
    client = client_for(officer)
    assert client.get(url).status_code == 404
    Programme.objects.filter(pk=application.programme_id).update(
        opens_at=timezone.now() - timedelta(days=60), closes_at=timezone.now() - timedelta(seconds=1)
    )
    response = client.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == content
