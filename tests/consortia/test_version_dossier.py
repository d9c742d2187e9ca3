"""The receipt PDF and the dossier of a submitted version (issue 19): rendered by WeasyPrint
from the frozen version, read back from the PDF, and served only to those who may see the
version's attachments (the consortium; officers and the cleared, assigned reviewers once
the deadline has passed); everyone else gets 404."""

from __future__ import annotations

import hashlib
import io
import re
import subprocess
import zipfile
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from consortia.models import Application
from portal.models import Programme
from tests.factories import UserFactory
from tests.factories_consortia import ConsortiumFactory, pdf_bytes, store_attachment, submitted_application
from tests.factories_evaluations import assign, selection_phase

pytestmark = pytest.mark.django_db


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def poppler_text(data: bytes) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True
    ).stdout.decode()


def embedded_fonts(data: bytes) -> set[str]:
    names = set()
    for page in PdfReader(io.BytesIO(data)).pages:
        for font in page["/Resources"].get("/Font", {}).values():
            names.add(str(font.get_object()["/BaseFont"]))
    return names


def flat(text: str) -> str:
    return re.sub(r"\s+", "", text)


def close_call(application: Application) -> None:
    Programme.objects.filter(pk=application.programme_id).update(
        opens_at=timezone.now() - timedelta(days=60), closes_at=timezone.now() - timedelta(seconds=1)
    )


def urls(application: Application, number: int = 1) -> dict[str, str]:
    return {
        "receipt": reverse("consortia:version_receipt_pdf", args=[application.pk, number]),
        "dossier": reverse("consortia:version_dossier", args=[application.pk, number]),
    }


@pytest.mark.parametrize("language", ["ko", "en"])
def test_receipt_pdf_shows_number_received_time_and_digest(client_for, language):
    application = submitted_application()
    version = application.versions.get()
    client = client_for(application.consortium.lead_contact)
    client.cookies["django_language"] = language
    response = client.get(urls(application)["receipt"])
    assert (response.status_code, response["Content-Type"]) == (200, "application/pdf")
    assert response["Content-Disposition"] == f'attachment; filename="{version.receipt_number}-v1-receipt.pdf"'
    data = response.content
    text = pdf_text(data)
    received = timezone.localtime(version.submitted_at).strftime("%Y-%m-%d %H:%M:%S KST")
    labels = {
        "ko": ["제출 접수증", "접수번호", "접수 시각", "버전의 SHA-256"],
        "en": ["Receipt of submission", "Receipt number", "Received at", "SHA-256 of the version"],
    }[language]
    for expected in [*labels, version.receipt_number, received, application.consortium.name, "v1"]:
        assert flat(expected) in flat(text), expected
    assert version.sha256 in flat(text)
    attachment = version.content["attachments"][0]
    assert attachment["sha256"] in flat(text)
    # Korean renders with the project's font, embedded (poppler reads the same text back).
    assert any("Pretendard" in name for name in embedded_fonts(data))
    assert flat(application.consortium.name) in flat(poppler_text(data))


def test_dossier_zip_holds_the_frozen_fields_and_attachments(client_for):
    application = submitted_application()
    version = application.versions.get()
    frozen_title = application.title
    # After submitting, the draft changes and gains a file: the dossier of v1 shows neither.
    Application.objects.filter(pk=application.pk).update(title="제출 후에 바꾼 제목", summary="나중에 고친 요약")
    store_attachment(application, pdf_bytes(pages=2), name="later.pdf")

    response = client_for(application.consortium.lead_contact).get(urls(application)["dossier"])
    assert (response.status_code, response["Content-Type"]) == (200, "application/zip")
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    frozen = version.content["attachments"]
    assert archive.namelist() == ["dossier.pdf", f"attachments/01-{frozen[0]['original_name']}", "SHA256SUMS"]
    attached = archive.read(f"attachments/01-{frozen[0]['original_name']}")
    assert hashlib.sha256(attached).hexdigest() == frozen[0]["sha256"]
    dossier = archive.read("dossier.pdf")
    sums = archive.read("SHA256SUMS").decode().splitlines()
    assert sums == [
        f"{hashlib.sha256(dossier).hexdigest()}  dossier.pdf",
        f"{frozen[0]['sha256']}  attachments/01-{frozen[0]['original_name']}",
    ]

    text = flat(pdf_text(dossier))
    fields = version.content["fields"]
    for expected in [
        "신청서 묶음",
        version.receipt_number,
        frozen_title,
        fields["summary"],
        fields["technical_approach"],
        fields["team_plan"],
        "4,000,000,000원",
        "글로벌 모델 대비 90% 성능",
        frozen[0]["sha256"],
        version.sha256,
    ]:
        assert flat(expected) in text, expected
    assert flat("제출 후에 바꾼 제목") not in text and "later.pdf" not in text
    assert any("Pretendard" in name for name in embedded_fonts(dossier))


def test_a_stored_file_that_no_longer_matches_is_left_out_and_named(client_for):
    application = submitted_application()
    version = application.versions.get()
    from consortia.models import Attachment

    Attachment.objects.filter(application=application).update(sha256="0" * 64)
    archive = zipfile.ZipFile(
        io.BytesIO(client_for(application.consortium.lead_contact).get(urls(application)["dossier"]).content)
    )
    assert archive.namelist() == ["dossier.pdf", "SHA256SUMS"]
    text = flat(pdf_text(archive.read("dossier.pdf")))
    assert flat("포함하지 않음: 저장된 파일이 이 버전에 고정된 파일과 다릅니다.") in text
    assert version.content["attachments"][0]["sha256"] in text


def test_who_may_download(client_for, officer, client):
    """Members always; officers after the deadline; the assigned reviewer once cleared, after
    the deadline; another applicant, an unassigned or undeclared reviewer and officers before
    the deadline get 404; a signed-out visitor is sent to sign in."""
    application = submitted_application()
    member = application.consortium.lead_contact
    other_applicant = ConsortiumFactory().lead_contact
    phase = selection_phase(programme=application.programme)
    cleared, undeclared, unassigned = (UserFactory(role="reviewer") for _ in range(3))
    cleared_assignment = assign(phase, application, cleared)
    undeclared_assignment = assign(phase, application, undeclared, declared=False)
    review = {
        cleared: reverse("evaluations:review_dossier", args=[cleared_assignment.pk]),
        undeclared: reverse("evaluations:review_dossier", args=[undeclared_assignment.pk]),
    }

    def statuses(user, path):
        c = client_for(user)
        return c.get(path).status_code

    paths = urls(application)
    before = {
        "member": [statuses(member, p) for p in paths.values()],
        "other applicant": [statuses(other_applicant, p) for p in paths.values()],
        "officer": [statuses(officer, p) for p in paths.values()],
        "reviewer on the team's routes": [statuses(cleared, p) for p in paths.values()],
        "cleared reviewer": statuses(cleared, review[cleared]),
        "no such version": statuses(member, urls(application, 2)["receipt"]),
    }
    assert before == {
        "member": [200, 200],
        "other applicant": [404, 404],
        "officer": [404, 404],
        "reviewer on the team's routes": [404, 404],
        "cleared reviewer": 404,  # the call is still open
        "no such version": 404,
    }
    close_call(application)
    after = {
        "member": [statuses(member, p) for p in paths.values()],
        "other applicant": [statuses(other_applicant, p) for p in paths.values()],
        "officer": [statuses(officer, p) for p in paths.values()],
        "cleared reviewer": statuses(cleared, review[cleared]),
        "undeclared reviewer": statuses(undeclared, review[undeclared]),
        "unassigned reviewer": statuses(unassigned, review[cleared]),
        "member on the reviewer's route": statuses(member, review[cleared]),
    }
    assert after == {
        "member": [200, 200],
        "other applicant": [404, 404],
        "officer": [200, 200],
        "cleared reviewer": 200,
        "undeclared reviewer": 404,
        "unassigned reviewer": 404,
        "member on the reviewer's route": 404,
    }
    signed_out = client.get(paths["receipt"])
    assert signed_out.status_code == 302 and "/accounts/login/" in signed_out["Location"]

    archive = zipfile.ZipFile(io.BytesIO(client_for(cleared).get(review[cleared]).content))
    assert "dossier.pdf" in archive.namelist()
    assert application.versions.get().receipt_number in flat(pdf_text(archive.read("dossier.pdf")))


def test_version_list_and_scoring_page_link_the_documents(client_for, officer):
    application = submitted_application()
    html = (
        client_for(application.consortium.lead_contact)
        .get(reverse("consortia:version_list", args=[application.pk]))
        .content.decode()
    )
    for path in urls(application).values():
        assert f'href="{path}"' in html
    receipt_page = (
        client_for(application.consortium.lead_contact)
        .get(reverse("consortia:application_version", args=[application.pk, 1]))
        .content.decode()
    )
    for path in urls(application).values():
        assert f'href="{path}"' in receipt_page
    close_call(application)
    officer_page = (
        client_for(officer).get(reverse("consortia:officer_application_detail", args=[application.pk])).content.decode()
    )
    for path in urls(application).values():
        assert f'href="{path}"' in officer_page
    reviewer = UserFactory(role="reviewer")
    assignment = assign(selection_phase(programme=application.programme), application, reviewer)
    page = client_for(reviewer).get(reverse("evaluations:assignment_score", args=[assignment.pk])).content.decode()
    assert f'href="{reverse("evaluations:review_dossier", args=[assignment.pk])}"' in page


def test_downloads_by_handlers_leave_access_records(client_for, officer):
    """Officers' and reviewers' downloads of a version's documents, and the officer's list
    export, are recorded as downloads of personal data; the team's own are not."""
    from portal.models import AccessLog

    application = submitted_application()
    client_for(application.consortium.lead_contact).get(urls(application)["dossier"])
    assert AccessLog.objects.count() == 0
    close_call(application)
    reviewer = UserFactory(role="reviewer")
    assignment = assign(selection_phase(programme=application.programme), application, reviewer)
    officer_client = client_for(officer)
    for path in urls(application).values():
        assert officer_client.get(path).status_code == 200
    export = reverse("consortia:officer_applications_export", args=["csv"]) + f"?programme={application.programme_id}"
    assert officer_client.get(export).status_code == 200
    assert client_for(reviewer).get(reverse("evaluations:review_dossier", args=[assignment.pk])).status_code == 200
    records = list(AccessLog.objects.order_by("id").values_list("username", "target", "object_id", "action"))
    assert records == [
        (officer.username, "consortia:version_receipt_pdf", str(application.pk), "download"),
        (officer.username, "consortia:version_dossier", str(application.pk), "download"),
        (officer.username, "consortia:officer_applications_export", "", "download"),
        (reviewer.username, "evaluations:review_dossier", str(assignment.pk), "download"),
    ]
