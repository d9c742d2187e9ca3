"""SPEC §4 and the programme's required attachments: a complete draft without the proposal
document cannot be submitted; the checklist names what is missing while drafting."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from consortia.models import ApplicationVersion
from portal.models import AuditEntry
from tests.factories_consortia import ApplicationFactory, pdf_bytes

pytestmark = pytest.mark.django_db


def _submit(client, application):
    return client.post(f"/api/v1/applications/{application.pk}/submit/", format="json")


def test_a_complete_draft_without_the_proposal_document_is_refused_and_nothing_changes(api_for, client_for):
    application = ApplicationFactory(proposal_document=False)
    lead = application.consortium.lead_contact
    client = api_for(lead)
    audit_before = AuditEntry.objects.count()

    response = _submit(client, application)

    assert response.status_code == 409
    body = response.json()
    assert [item["key"] for item in body["checklist"]] == ["attachments"]
    assert "PDF" in body["detail"]
    application.refresh_from_db()
    assert application.state == "draft"
    assert not ApplicationVersion.objects.filter(application=application).exists()
    assert AuditEntry.objects.count() == audit_before

    checklist = client.get(f"/api/v1/applications/{application.pk}/checklist/").json()
    item = next(i for i in checklist if i["key"] == "attachments")
    assert item["ok"] is False and item["blocking"] is True
    page = client_for(lead).get(f"/consortia/applications/{application.pk}/review/")
    assert "제안서를 PDF로 올리세요" in page.content.decode()

    upload = client.post(
        f"/api/v1/applications/{application.pk}/attachments/",
        {"file": SimpleUploadedFile("proposal.pdf", pdf_bytes(), content_type="application/pdf")},
        format="multipart",
    )
    assert upload.status_code == 201
    accepted = _submit(client, application)
    assert accepted.status_code == 200
    assert ApplicationVersion.objects.get(application=application).frozen.attachments[0].original_name == "proposal.pdf"


def test_the_number_of_required_documents_is_a_programme_setting(api_for):
    application = ApplicationFactory(proposal_document=False)
    application.programme.required_attachments = 0
    application.programme.save(update_fields=["required_attachments"])
    assert _submit(api_for(application.consortium.lead_contact), application).status_code == 200
