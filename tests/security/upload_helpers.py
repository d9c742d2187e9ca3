"""Shared by the upload tests: what a folder holds, the counts that a refused upload must
leave as they were, and uploads through the API and the page (the ``folders`` fixture, in
this folder's conftest, gives each test a media and a temporary-upload folder of its own)."""

from __future__ import annotations

from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile


def files_in(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def state() -> tuple:
    """Attachment rows and audit entries other than refused-access records."""
    from consortia.models import Attachment
    from portal.models import AuditEntry

    return Attachment.objects.count(), AuditEntry.objects.exclude(action="access.refused").count()


def api_upload(client, application, content: bytes, name: str = "plan.pdf", **extra):
    return client.post(
        f"/api/v1/applications/{application.pk}/attachments/",
        {"file": SimpleUploadedFile(name, content, content_type="application/pdf"), "title": "사업계획서"},
        format="multipart",
        HTTP_ACCEPT_LANGUAGE="en",
        **extra,
    )


def page_upload(client, application, content: bytes, name: str = "plan.pdf", **extra):
    from django.urls import reverse

    return client.post(
        reverse("consortia:application_attachments", args=[application.pk]),
        {"file": SimpleUploadedFile(name, content, content_type="application/pdf"), "title": "사업계획서"},
        HTTP_ACCEPT_LANGUAGE="en",
        **extra,
    )
