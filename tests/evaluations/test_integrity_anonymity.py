"""SPEC §5: applicants see anonymised comments only — no reviewer's name, username or
e-mail on their result page, in any API answer they can reach, or in their award notice."""

from __future__ import annotations

import io

import pytest
from django.urls import reverse
from pypdf import PdfReader

from awards.services import notice_issue_for_run
from evaluations.enums import PhaseStatus
from evaluations.models import Criterion, PhaseResult
from tests.evaluations.test_integrity_rules import _api_bodies
from tests.factories import UserFactory
from tests.factories_evaluations import SELECTION_CRITERIA, assign, submit_scores
from tests.factories_notices import approved_run

pytestmark = pytest.mark.django_db


def test_an_applicant_never_sees_who_reviewed_them(client_for, api_for):
    world = approved_run(teams=2)
    phase = world.phase
    for i, c in enumerate(SELECTION_CRITERIA, 1):
        Criterion.objects.create(phase=phase, order=i, **c)
    application = world.allocations[0].application
    people = [
        UserFactory(role="reviewer", username=f"rev_hidden_{i}", full_name=f"심사위원{i} HIDDENNAME{i}",
                    email=f"hidden.reviewer{i}@review.example.org")
        for i in range(3)
    ]  # fmt: skip
    for reviewer in people:
        assignment = assign(phase, application, reviewer)
        submit_scores(assignment, {"technology": 30, "capability": 24, "impact": 22})
        assignment.comment = "종합 의견: 데이터 계획이 구체적임"
        assignment.save(update_fields=["comment"])
    phase.status = PhaseStatus.PUBLISHED
    phase.save(update_fields=["status"])
    notice_issue_for_run(run=world.run, by=world.officer)

    applicant = application.consortium.lead_contact
    result = PhaseResult.objects.get(phase=phase, application=application)
    page = client_for(applicant).get(reverse("evaluations:result_detail", args=[phase.pk, application.pk]))
    assert page.status_code == 200
    page_text = page.content.decode()
    assert "종합 의견: 데이터 계획이 구체적임" in page_text  # the comments are there, anonymised
    assert "technology 의견" in page_text

    api = api_for(applicant)
    mine = api.get("/api/v1/results/").json()["results"]
    assert [r["id"] for r in mine] == [result.pk]
    assert [c["reviewer"] for c in mine[0]["comments"]] == ["A", "B", "C"]
    bodies = _api_bodies(api, [result.pk, application.pk, application.consortium.pk, world.programme.pk])
    notice = application.consortium.allocations.get(run=world.run).notice
    pdf = client_for(applicant).get(reverse("gpu_allocation:notice_pdf", args=[notice.pk]))
    assert pdf.status_code == 200
    data = b"".join(pdf.streaming_content) if pdf.streaming else pdf.content
    pdf_text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)
    assert world.programme.name.split()[0] in pdf_text

    readable = {"result page": page_text, "notice PDF": pdf_text, **bodies}
    assert any("종합 의견" in body for body in bodies.values())
    for reviewer in people:
        for trace in (reviewer.username, reviewer.full_name, "HIDDENNAME", reviewer.email, "review.example.org"):
            for where, body in readable.items():
                assert trace not in body, f"{trace!r} shown to the applicant in {where}"
