"""SPEC §4: reviews are bound to the version they score. The reviewer reads the sealed,
submitted version through the scoring page, never the draft the applicant may still edit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from consortia.models import ApplicationVersion
from consortia.services import application_save, attachment_add
from portal.models import Programme
from tests.factories_consortia import COMPLETE_FIELDS, pdf_bytes, submitted_application
from tests.factories_evaluations import assign, reviewers, selection_phase

pytestmark = pytest.mark.django_db

EDITED = {
    "title": "제출 뒤에 바꾼 제목",
    "summary": "제출 뒤에 고친 요약 (심사위원이 보면 안 됨)",
    "technical_approach": "제출 뒤에 고친 기술 접근",
    "data_strategy": "제출 뒤에 고친 데이터 전략",
    "compute_plan": "제출 뒤에 고친 컴퓨팅 계획",
    "team_plan": "제출 뒤에 고친 인력 계획",
    "open_source_plan": "제출 뒤에 고친 공개 계획",
    "model_categories": ["LAM"],
    "requested_gpus": 1000,
}


def _close_call(programme) -> None:
    Programme.objects.filter(pk=programme.pk).update(
        opens_at=timezone.now() - timedelta(days=30), closes_at=timezone.now() - timedelta(minutes=1)
    )


def test_scoring_page_shows_the_bound_version_not_a_draft_edited_after_submission(programme, client_for):
    application = submitted_application(programme=programme)
    version = application.versions.get()
    lead = application.consortium.lead_contact
    # Before the deadline the team edits its draft and adds a file, without resubmitting.
    application_save(application=application, by=lead, data=EDITED, revision=application.revision)
    attachment_add(application=application, by=lead, uploaded=SimpleUploadedFile("later-draft-only.pdf", pdf_bytes()))
    _close_call(programme)
    phase = selection_phase(programme=programme)
    (reviewer,) = reviewers(1)
    assignment = assign(phase, application, reviewer)

    page = client_for(reviewer).get(reverse("evaluations:assignment_score", args=[assignment.pk]))

    assert page.status_code == 200
    html = page.content.decode()
    for name in ("title", "summary", "technical_approach", "data_strategy", "compute_plan", "team_plan"):
        assert COMPLETE_FIELDS[name] in html, name
        assert EDITED[name] not in html, name
    assert "모델 가중치와 평가 도구를 공개한다" in html  # the open-source plan of the version
    assert "LLM, LMM" in html and "LAM" not in html  # the version's model categories
    assert "512" in html and "1000" not in html.replace("1000000", "")
    assert "4,000,000,000" in html  # the requested budget, with separators
    assert "글로벌 모델 대비 90% 성능" in html  # a milestone of the version
    assert version.receipt_number in html
    frozen = version.frozen
    assert len(frozen.attachments) == 1
    proposal = frozen.attachments[0]
    assert reverse("evaluations:review_attachment", args=[assignment.pk, proposal.id]) in html
    assert proposal.sha256[:14] in html
    assert "later-draft-only.pdf" not in html


def test_scoring_page_says_a_field_is_missing_from_the_version_instead_of_reading_the_draft(programme, client_for):
    application = submitted_application(programme=programme)
    version = application.versions.get()
    content = dict(version.content)
    content["fields"] = {k: v for k, v in content["fields"].items() if k != "summary"}
    ApplicationVersion.objects.filter(pk=version.pk).update(content=content)
    _close_call(programme)
    phase = selection_phase(programme=programme)
    (reviewer,) = reviewers(1)
    assignment = assign(phase, application, reviewer)

    html = client_for(reviewer).get(reverse("evaluations:assignment_score", args=[assignment.pk])).content.decode()

    assert COMPLETE_FIELDS["summary"] not in html  # the draft still has it: it must not leak in
    assert "이 버전에 없음" in html


def test_reviewer_total_is_out_of_the_points_reviewers_score(programme, client_for):
    from decimal import Decimal

    from evaluations.enums import CriterionSource
    from evaluations.models import Criterion

    application = submitted_application(programme=programme)
    _close_call(programme)
    phase = selection_phase(
        programme=programme,
        criteria=[
            {"key": "expert", "name": "전문가", "max_points": Decimal("35")},
            {"key": "bench", "name": "벤치마크", "max_points": Decimal("40"), "source": CriterionSource.BENCHMARK},
            {"key": "panel", "name": "사용자", "max_points": Decimal("25"), "source": CriterionSource.USER_PANEL},
        ],
    )
    assert Criterion.objects.filter(phase=phase).count() == 3
    (reviewer,) = reviewers(1)
    assignment = assign(phase, application, reviewer)
    html = client_for(reviewer).get(reverse("evaluations:assignment_score", args=[assignment.pk])).content.decode()
    assert "/ 35" in html and "/ 100" not in html


def test_api_assignment_title_is_the_versions_title(programme, api_for):
    application = submitted_application(programme=programme)
    lead = application.consortium.lead_contact
    application_save(application=application, by=lead, data={"title": EDITED["title"]}, revision=application.revision)
    _close_call(programme)
    phase = selection_phase(programme=programme)
    (reviewer,) = reviewers(1)
    assign(phase, application, reviewer)
    body = api_for(reviewer).get(f"/api/v1/phases/{phase.pk}/assignments/").json()
    rows = body["results"] if isinstance(body, dict) else body
    assert [r["application_title"] for r in rows] == [COMPLETE_FIELDS["title"]]
