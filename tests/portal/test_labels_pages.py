"""Codes never reach people: audit actions, before/after values, access-record targets and
tie-break criteria are shown in words, times in KST (SPEC §8), checked through the Korean pages."""

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from evaluations import services
from evaluations.models import Phase
from portal.models import AccessLog, AuditEntry
from tests.factories_evaluations import assign, reviewers, selection_phase, submit_scores, submitted_application
from tests.visible_text import codes_in, visible_text

pytestmark = pytest.mark.django_db


def _ko(client, url):
    response = client.get(url, HTTP_ACCEPT_LANGUAGE="ko")
    assert response.status_code == 200, url
    return visible_text(response.content.decode())


@pytest.fixture
def finalised_phase(programme, officer):
    phase = selection_phase(
        programme=programme, teams_to_keep=2, tie_break_criteria=["technology", "capability"], name_en="Selection"
    )
    pool = reviewers(2)
    for quality in (30, 25, 20):
        application = submitted_application(programme=programme)
        for reviewer in pool:
            submit_scores(assign(phase, application, reviewer), {"technology": quality, "capability": 25, "impact": 20})
    return phase, pool


def test_audit_trail_shows_actions_changes_and_times_in_words(client_for, admin_user, officer, finalised_phase):
    phase, pool = finalised_phase
    client_for(officer)  # a sign-in, audited as auth.login
    officer_client = client_for(officer)
    finalise = reverse("evaluations:phase_action", args=[phase.pk, "finalise"])
    assert officer_client.post(finalise, {"confirm": "yes"}).status_code == 302  # the confirmation page's own post
    phase.refresh_from_db()
    assert phase.status == "finalised"
    assert AuditEntry.objects.filter(action="auth.login").exists()
    assert AuditEntry.objects.filter(action="phase.finalised").exists()

    text = _ko(client_for(admin_user), reverse("portal:audit_log"))

    assert codes_in(text) == []
    assert "auth.login" not in text and "{" not in text and "'status'" not in text
    assert "로그인" in text
    assert "평가 단계 확정" in text
    # before/after as "field: old → new", each value in words
    assert "상태: 평가 진행 중 → 확정됨" in text
    # every time in KST, the stored UTC moment converted (not the raw ISO text)
    finalised_kst = timezone.localtime(phase.finalised_at).strftime("%Y-%m-%d %H:%M:%S") + " KST"
    assert finalised_kst in text
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", text)
    assert "+00:00" not in text


def test_audit_filter_offers_actions_by_name(client_for, admin_user):
    client_for(admin_user)
    response = client_for(admin_user).get(
        reverse("portal:audit_log"), {"action": "auth.login"}, HTTP_ACCEPT_LANGUAGE="ko"
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert '<option value="auth.login" selected>로그인</option>' in html
    assert codes_in(visible_text(html)) == []


def test_access_records_name_pages_by_title_in_kst(client_for, admin_user, officer, finalised_phase):
    phase, pool = finalised_phase
    assignment = phase.assignments.filter(reviewer=pool[0]).first()
    assert client_for(pool[0]).get(reverse("evaluations:assignment_score", args=[assignment.pk])).status_code == 200
    officer_client = client_for(officer)
    assert officer_client.get(reverse("evaluations:phase_detail", args=[phase.pk])).status_code == 200
    record = AccessLog.objects.get(target="evaluations:assignment_score")

    text = _ko(client_for(admin_user), reverse("portal:access_log"))

    assert codes_in(text) == []
    assert f"평가표 #{assignment.pk}" in text
    assert f"평가 단계 #{phase.pk}" in text
    assert timezone.localtime(record.at).strftime("%Y-%m-%d %H:%M:%S") + " KST" in text


def test_ranking_and_phase_pages_name_tie_break_criteria(client_for, officer, finalised_phase):
    phase, _pool = finalised_phase
    client = client_for(officer)

    detail = _ko(client, reverse("evaluations:phase_detail", args=[phase.pk]))
    assert "기술성, 수행 역량" in detail
    assert "technology, capability" not in detail

    ranking = _ko(client, reverse("evaluations:phase_ranking", args=[phase.pk]))
    assert codes_in(ranking) == []
    services.phase_finalise(phase=Phase.objects.get(pk=phase.pk), by=officer)
    ranking = _ko(client, reverse("evaluations:phase_ranking", args=[phase.pk]))
    assert codes_in(ranking) == []


def test_background_task_entries_and_object_types_read_as_words(client_for, admin_user, finalised_phase):
    from portal.audit import audit_record

    phase, _pool = finalised_phase
    audit_record(
        action="outbox.failed",
        object_type="portal.outboxmessage",
        object_id="15",
        object_repr="gpu_allocation.notice_issue_for_run (failed)",
        after={"dedupe_key": "notices:run:1", "failures": 1, "error": "no signing key"},
    )
    audit_record(action="phase.update", obj=phase, before={"pass_threshold": "70.00"}, after={"pass_threshold": "75"})

    text = _ko(client_for(admin_user), reverse("portal:audit_log"))

    assert codes_in(text) == []
    assert "백그라운드 작업 포기" in text and "백그라운드 작업 #15" in text
    assert "notice_issue_for_run" not in text
    assert "실패 횟수: 1" in text
    assert f"평가 단계 #{phase.pk}" in text and "합격 기준점: 70.00 → 75" in text


def test_english_pages_show_english_names_and_rubrics_korean_on_demand(client_for, officer, finalised_phase):
    from evaluations.models import Criterion

    phase, pool = finalised_phase
    phase.programme.name_en = "Independent AI Foundation Model Project"
    phase.programme.save(update_fields=["name_en"])
    Criterion.objects.filter(phase=phase, key="technology").update(
        name_en="Technology",
        rubric="접근법의 새로움과 실현 가능성.",
        rubric_en="Novelty and feasibility of the approach.",
    )
    client = client_for(officer)
    url = reverse("evaluations:phase_detail", args=[phase.pk])

    english = client.get(url, HTTP_ACCEPT_LANGUAGE="en")
    text = visible_text(english.content.decode())
    assert "Independent AI Foundation Model Project" in text and "Selection" in text
    assert "Technology" in text and "기술성" not in text.split("Show in Korean")[0].split("Criteria")[-1]
    assert "Novelty and feasibility" in text and "Show in Korean" in text  # Korean behind a toggle

    korean = visible_text(client.get(url, HTTP_ACCEPT_LANGUAGE="ko").content.decode())
    assert "기술성" in korean and "영어로 보기" in korean
    reviewer_page = visible_text(
        client_for(pool[0])
        .get(
            reverse("evaluations:assignment_score", args=[phase.assignments.filter(reviewer=pool[0]).first().pk]),
            HTTP_ACCEPT_LANGUAGE="ko",
        )
        .content.decode()
    )
    # the Korean rubric is shown; the English line only inside the closed toggle
    assert "접근법의 새로움과 실현 가능성." in reviewer_page
    before_toggle = reviewer_page.split("영어로 보기")[0]
    assert "Novelty and feasibility" not in before_toggle
