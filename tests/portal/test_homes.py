"""Each role's home shows that person's work (issue 19): read through HTTP as the person
sees it, in Korean and English, and costing the same number of queries at two data sizes."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from consortia.enums import ApplicationState
from evaluations.enums import AppealStatus, PhaseStatus
from evaluations.models import Appeal, Score
from gpu_allocation.models import NoticeExport
from portal.audit import audit_record
from tests.factories import ProgrammeFactory
from tests.factories_consortia import ApplicationFactory, ConsortiumFactory, submitted_application
from tests.factories_evaluations import assign, reviewers, selection_phase, submit_scores
from tests.factories_evaluations import submitted_application as evaluated_application
from tests.factories_notices import approved_run, stored_notices

pytestmark = pytest.mark.django_db


def visible_text(response) -> str:
    html = response.content.decode()
    main = html[html.index("<main") : html.index("</main>")]
    text = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", main, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text)).strip()


def home(client, lang: str = "en"):
    response = client.get(reverse("portal:home"), HTTP_ACCEPT_LANGUAGE=lang)
    assert response.status_code == 200
    return response


# --------------------------------------------------------------------------- applicant


def test_applicant_home_shows_state_checklist_missing_items_deadline_and_next_step(client_for):
    programme = ProgrammeFactory(closes_at=timezone.now() + timedelta(days=10))
    consortium = ConsortiumFactory(programme=programme)
    application = ApplicationFactory(consortium=consortium, empty=True)
    c = client_for(consortium.lead_contact)

    response = home(c)
    text = visible_text(response)
    assert "Your applications" in text and consortium.name_en in text
    assert "Draft" in text
    assert re.search(r"\d+ of \d+ checks passed", text)
    assert "Title: this field is still empty." in text
    assert "Attachments: upload the proposal document as a PDF (0 of 1 uploaded)." in text
    assert "Next step: Complete the application: Title: this field is still empty." in text
    assert reverse("consortia:application_step", kwargs={"pk": application.pk, "step": 1}) in response.content.decode()
    assert programme.closes_at.astimezone(timezone.get_default_timezone()).strftime("%Y-%m-%d %H:%M") + " KST" in text
    assert "Time left" in text

    korean = visible_text(home(c, "ko"))
    assert "나의 신청서" in korean and "다음 할 일" in korean and "작성 중" in korean
    assert re.search(r"점검 항목 \d+개 중 \d+개 통과", korean)


def test_applicant_home_after_submission_and_after_the_deadline(client_for):
    programme = ProgrammeFactory(closes_at=timezone.now() + timedelta(days=3))
    application = submitted_application(programme=programme)
    c = client_for(application.consortium.lead_contact)
    text = visible_text(home(c))
    assert "Submitted" in text and "1 version submitted" in text
    assert "items still missing" not in text and "item still missing" not in text
    assert "You may still change the draft and submit again until the deadline" in text

    programme.opens_at = timezone.now() - timedelta(days=30)
    programme.closes_at = timezone.now() - timedelta(minutes=1)
    programme.save()
    text = visible_text(home(c))
    assert "Closed: applications are read-only." in text
    assert "The call has closed and your submitted version is being evaluated" in text


def test_applicant_without_a_consortium_is_shown_the_open_call(client_for, applicant):
    programme = ProgrammeFactory(
        name="독자 AI 파운데이션 모델 프로젝트 (2026)", name_en="Foundation Model Project 2026",
        opens_at=timezone.now() - timedelta(days=1), closes_at=timezone.now() + timedelta(days=20),
    )  # fmt: skip
    text = visible_text(home(client_for(applicant)))
    assert "You have no application yet." in text
    assert "Open calls you can apply to" in text and programme.name_en in text
    assert "Form a consortium" in text
    assert programme.name in visible_text(home(client_for(applicant), "ko"))


def test_applicant_home_lists_published_results_and_award_notices(client_for):
    setup = approved_run(teams=2)
    phase = setup.phase
    phase.status, phase.published_at = PhaseStatus.PUBLISHED, timezone.now()
    phase.save(update_fields=["status", "published_at"])
    stored_notices(setup.run)
    lead = setup.allocations[0].consortium.lead_contact
    text = visible_text(home(client_for(lead)))
    assert "Your results" in text and "Selection evaluation" in text and "Selected" in text
    assert "Appeal" in text and "open until" in text
    notice = setup.allocations[0].notice
    assert "Your award notices" in text and notice.number in text and "in force" in text
    assert setup.allocations[1].notice.number not in text  # another team's notice stays unseen
    korean = visible_text(home(client_for(lead), "ko"))
    assert "나의 평가 결과" in korean and "1차 선정평가" in korean and "나의 배정 통지서" in korean


# --------------------------------------------------------------------------- reviewer


def test_reviewer_home_counts_pending_drafted_and_submitted_with_the_window_end(client_for):
    programme = ProgrammeFactory()
    closes = timezone.now() + timedelta(days=5)
    phase = selection_phase(programme=programme, name_en="Selection evaluation", scoring_closes_at=closes)
    reviewer = reviewers(1)[0]
    apps = [evaluated_application(programme=programme) for _ in range(4)]
    assign(phase, apps[0], reviewer, declared=False)  # pending: no declaration yet
    assign(phase, apps[1], reviewer)  # pending: declared, nothing saved
    drafted = assign(phase, apps[2], reviewer)
    Score.objects.create(assignment=drafted, criterion=phase.criteria.get(key="technology"), value=Decimal("30"))
    submit_scores(assign(phase, apps[3], reviewer), {"technology": 30, "capability": 20, "impact": 20})

    response = home(client_for(reviewer))
    text = visible_text(response)
    assert "Your reviews" in text
    assert "3 reviews still to submit in an open scoring window." in text
    row = re.search(r"Selection evaluation (\S+ \S+ KST).*? (\d+) (\d+) (\d+)", text)
    assert row.group(1) == closes.astimezone(timezone.get_default_timezone()).strftime("%Y-%m-%d %H:%M") + " KST"
    assert row.groups()[1:] == ("2", "1", "1")
    assert "Continue with the next review" in text
    korean = visible_text(home(client_for(reviewer), "ko"))
    assert "나의 평가" in korean and "평가 기간 종료" in korean and "1차 선정평가" in korean


# --------------------------------------------------------------------------- officer and administrator


def officer_data(size: int):
    """A programme with a scoring selection phase (``size`` applications, two reviewers
    each, half of the sheets submitted) and a published earlier programme with an open appeal
    and an approved allocation."""
    published = approved_run(teams=2)
    phase = published.phase
    phase.status, phase.published_at = PhaseStatus.PUBLISHED, timezone.now()
    phase.save(update_fields=["status", "published_at"])
    Appeal.objects.create(
        phase=phase, application=published.allocations[0].application, grounds="administrative",
        text="점수 합산 오류", filed_by=published.allocations[0].consortium.lead_contact, status=AppealStatus.OPEN,
    )  # fmt: skip
    programme = ProgrammeFactory(year=2030)
    scoring = selection_phase(programme=programme, name_en="Selection 2030")
    pool = reviewers(2)
    for i in range(size):
        application = evaluated_application(programme=programme)
        for j, reviewer in enumerate(pool):
            a = assign(scoring, application, reviewer)
            if j == 0:
                submit_scores(a, {"technology": 30, "capability": 20 + i % 5, "impact": 20})
    return published, scoring


def test_officer_home_shows_each_phase_and_the_allocation_with_links(client_for, officer):
    published, scoring = officer_data(3)
    response = home(client_for(officer))
    text = visible_text(response)
    html = response.content.decode()
    assert "Where each phase stands" in text
    # Selection 2030: 3 submissions, 6 assignments, 3 of 6 reviews in, ties to decide 0 (all distinct).
    assert re.search(r"Selection 2030 Scoring .*?KST 3 6 3 / 6 \d+ 0", text), text
    # The earlier programme: published, the appeal window open, one open appeal.
    assert re.search(r"Selection evaluation Published Appeal window open until \S+ \S+ KST 0 0 0 — 1", text), text
    for url in (
        reverse("evaluations:phase_detail", args=[scoring.pk]),
        reverse("evaluations:phase_ranking", args=[scoring.pk]),
        reverse("evaluations:phase_assignments", args=[scoring.pk]),
        reverse("evaluations:appeal_list"),
        reverse("gpu_allocation:run_detail", args=[published.run.pk]),
    ):
        assert url in html
    assert "GPU and budget allocation" in text
    assert f"Run #{published.run.pk}" in text and "0 of 2 issued" in text
    korean = visible_text(home(client_for(officer), "ko"))
    assert "평가 단계별 현황" in korean and "처리 중인 이의신청" in korean and "결정할 동점" in korean


def test_administrator_home_shows_notices_exports_and_audit_alerts(client_for, admin_user):
    setup = approved_run(teams=2)
    NoticeExport.objects.create(run=setup.run, created_by=admin_user, status="failed", error="디스크 없음")
    audit_record(action="auth.login_failed", actor=None, after={"username": "mallory"})
    audit_record(action="auth.login_failed", actor=None, after={"username": "mallory"})
    audit_record(action="access.refused", actor=None)
    text = visible_text(home(client_for(admin_user)))
    assert "Award notices and exports" in text
    assert "0 notices in force, 0 superseded." in text
    assert f"ZIP export #{NoticeExport.objects.get().pk} of run #{setup.run.pk}" in text and "Failed" in text
    assert "Audit alerts of the last 7 days" in text
    assert "Failed sign-in : 2" in text and "Refused access (page not found or not allowed) : 1" in text
    korean = visible_text(home(client_for(admin_user), "ko"))
    assert "최근 7일간의 감사 경보" in korean and "로그인 실패" in korean and "배정 통지서와 내보내기" in korean


# --------------------------------------------------------------------------- query counts at two sizes


# The same bound at both sizes: measured 8, 4, 12 and 16 queries (session, user and
# second factor included), whatever the number of attachments, assignments or applications.
APPLICANT_BUDGET = 8
REVIEWER_BUDGET = 4
OFFICER_BUDGET = 12
ADMIN_BUDGET = 16


@pytest.mark.parametrize("size", [2, 15])
def test_applicant_home_queries_do_not_grow(client_for, django_assert_max_num_queries, size):
    programme = ProgrammeFactory(closes_at=timezone.now() + timedelta(days=10))
    consortium = ConsortiumFactory(programme=programme)
    application = ApplicationFactory(consortium=consortium)
    from tests.factories_consortia import pdf_bytes, store_attachment

    for i in range(size):
        store_attachment(application, pdf_bytes(), name=f"annex-{i}.pdf")
    assert application.state == ApplicationState.DRAFT
    c = client_for(consortium.lead_contact)
    home(c)  # sessions and caches settled
    with django_assert_max_num_queries(APPLICANT_BUDGET):
        home(c)


@pytest.mark.parametrize("size", [2, 12])
def test_reviewer_home_queries_do_not_grow(client_for, django_assert_max_num_queries, size):
    programme = ProgrammeFactory()
    phases = [
        selection_phase(programme=programme),
        selection_phase(programme=ProgrammeFactory(year=2031), name="2차 선정평가"),
    ]
    reviewer = reviewers(1)[0]
    for phase in phases:
        for i in range(size):
            a = assign(phase, evaluated_application(programme=phase.programme), reviewer, declared=i % 3 != 0)
            if i % 3 == 1:
                submit_scores(a, {"technology": 30, "capability": 20, "impact": 20})
            elif i % 3 == 2:
                Score.objects.create(assignment=a, criterion=phase.criteria.first(), value=Decimal("10"))
    c = client_for(reviewer)
    home(c)
    with django_assert_max_num_queries(REVIEWER_BUDGET):
        home(c)


@pytest.mark.parametrize("size", [2, 12])
def test_officer_home_queries_do_not_grow(client_for, officer, django_assert_max_num_queries, size):
    officer_data(size)
    c = client_for(officer)
    home(c)  # the live ranking is computed once and cached under its inputs' key
    with django_assert_max_num_queries(OFFICER_BUDGET):
        home(c)


@pytest.mark.parametrize("size", [2, 12])
def test_administrator_home_queries_do_not_grow(client_for, admin_user, django_assert_max_num_queries, size):
    officer_data(size)
    for _ in range(size):
        audit_record(action="auth.login_failed", actor=None)
    c = client_for(admin_user)
    home(c)
    with django_assert_max_num_queries(ADMIN_BUDGET):
        home(c)
