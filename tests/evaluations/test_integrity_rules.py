"""SPEC §4–§5 through pages and the API: sealed means sealed before the deadline, an open
call's deadline is not brought forward, no phase keeps more places than the programme
allows, the panel may keep fewer teams by a recorded decision, appeal grounds are shown,
and the ranking's figures say how they add up to the score."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from html.parser import HTMLParser
from urllib.parse import urldefrag, urlparse

import pytest
from django.urls import reverse
from django.utils import timezone

from evaluations.models import Phase, PhaseResult
from portal.models import AuditEntry, Programme
from tests.factories import ProgrammeFactory
from tests.factories_consortia import ConsortiumFactory
from tests.factories_evaluations import assign, reviewers, selection_phase, submit_scores, submitted_application

pytestmark = pytest.mark.django_db

SEALED = ("SEALTITLE-7Q", "SEALSUMMARY-7Q", "SEALAPPROACH-7Q", "SEALDATA-7Q", "sealed-plan-7Q.pdf")


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            href = dict(attrs).get("href") or ""
            if href.startswith("/"):
                self.links.append(urldefrag(href)[0])


def _crawl(client, start: list[str], *, limit: int = 400) -> dict[str, str]:
    """Every page reachable from ``start`` by following the portal's own links (GET only)."""
    seen: dict[str, str] = {}
    queue = list(start)
    while queue and len(seen) < limit:
        url = queue.pop(0)
        path = urlparse(url).path
        if url in seen or path.startswith(("/static/", "/accounts/logout", "/admin/")):
            continue
        response = client.get(url)
        body = response.content.decode("utf-8", "replace") if response.status_code == 200 else ""
        seen[url] = body
        if "html" in response.get("Content-Type", ""):
            parser = _Links()
            parser.feed(body)
            queue.extend(link for link in parser.links if link not in seen)
    return seen


def _api_bodies(client, ids: list[int]) -> dict[str, str]:
    """GET every API operation of the schema, path parameters filled with each given id."""
    schema = client.get("/api/schema/?format=json").json()
    bodies = {}
    for path, operations in schema["paths"].items():
        if "get" not in operations:
            continue
        urls = {re.sub(r"\{[^}]+\}", str(i), path) for i in ids} if "{" in path else {path}
        for url in urls:
            response = client.get(url)
            data = b"".join(response.streaming_content) if response.streaming else response.content
            bodies[url] = data.decode("utf-8", "replace")
    return bodies


@pytest.fixture
def sealed_world(db):
    """An open call (deadline tomorrow) with one submitted application and its proposal PDF."""
    programme = ProgrammeFactory(closes_at=timezone.now() + timedelta(days=1))
    consortium = ConsortiumFactory(programme=programme)
    from tests.factories_consortia import ApplicationFactory, add_proposal_pdf

    application = ApplicationFactory(
        consortium=consortium,
        title="봉인 SEALTITLE-7Q",
        summary="요약 SEALSUMMARY-7Q",
        technical_approach="접근 SEALAPPROACH-7Q",
        data_strategy="데이터 SEALDATA-7Q",
        proposal_document=False,
    )
    add_proposal_pdf(application, name="sealed-plan-7Q.pdf")
    from consortia.services import application_submit

    application_submit(application=application, by=consortium.lead_contact, request_key="")
    application.refresh_from_db()
    return programme, application


@pytest.mark.parametrize("role", ["officer", "admin_user"])
def test_before_the_deadline_no_page_or_endpoint_shows_a_sealed_proposal(
    sealed_world, role, request, client_for, api_for
):
    """SPEC §4: sealed until the deadline — officers (and administrators without a recorded
    reason) see counts and states on every page and endpoint, never a title, summary,
    field or attachment."""
    programme, application = sealed_world
    user = request.getfixturevalue(role)
    pages = _crawl(
        client_for(user),
        [
            "/",
            reverse("consortia:officer_applications") + f"?programme={programme.pk}",
            reverse("consortia:officer_application_detail", args=[application.pk]),
            reverse("portal:audit_log"),
        ],
    )
    assert len(pages) >= 15, sorted(pages)
    assert any(str(application.pk) in url for url in pages)  # the application's own page was read
    api = _api_bodies(api_for(user), [application.pk, application.consortium.pk, programme.pk])
    assert len(api) >= 20
    for url, body in {**pages, **api}.items():
        for secret in SEALED:
            assert secret not in body, f"{secret} leaks on {url}"
    # The state is visible: the officer knows a submission exists.
    detail = client_for(user).get(reverse("consortia:officer_application_detail", args=[application.pk]))
    assert detail.status_code == 200
    assert "제출" in detail.content.decode()


def test_an_administrators_exceptional_look_needs_a_reason_and_is_audited(sealed_world, admin_user, client_for):
    """SPEC §4: an administrator's exceptional look is allowed only with a reason, audited."""
    _programme, application = sealed_world
    client = client_for(admin_user)
    url = reverse("consortia:officer_application_detail", args=[application.pk])
    refused = client.post(url, {"reason": "  "})
    assert refused.status_code == 400
    assert "SEALTITLE-7Q" not in refused.content.decode()
    assert not AuditEntry.objects.filter(action="application.unsealed_view").exists()

    opened = client.post(url, {"reason": "접수 파일 손상 신고 확인"})
    assert opened.status_code == 200 and "SEALTITLE-7Q" in opened.content.decode()
    entry = AuditEntry.objects.get(action="application.unsealed_view")
    assert entry.reason == "접수 파일 손상 신고 확인" and entry.actor_id == admin_user.pk
    # The look is one page, not an unsealing: the next plain visit is sealed again.
    assert "SEALTITLE-7Q" not in client.get(url).content.decode()


def test_an_officer_cannot_bring_an_open_calls_deadline_forward(programme, officer, admin_user, client_for, api_for):
    """SPEC §4: an officer may extend the deadline (audited); an open call's deadline is never
    brought forward except by an administrator with a reason."""
    closes = programme.closes_at
    earlier = closes - timedelta(days=29, hours=23)  # would close the call in an hour
    api = api_for(officer)
    response = api.patch(
        f"/api/v1/programmes/{programme.pk}/",
        {"closes_at": earlier.isoformat(), "reason": "일정 단축"},
        format="json",
    )
    assert response.status_code == 409, response.content
    assert "brought forward" in response.json()["detail"] or "앞당" in response.json()["detail"]
    programme.refresh_from_db()
    assert programme.closes_at == closes
    assert not AuditEntry.objects.filter(action="programme.deadline_change").exists()

    page = client_for(officer).post(
        reverse("portal:programme_edit", args=[programme.pk]),
        _programme_form(programme, closes_at=timezone.localtime(earlier), reason="일정 단축"),
    )
    assert page.status_code == 409
    assert "앞당길 수 없습니다" in page.content.decode()
    programme.refresh_from_db()
    assert programme.closes_at == closes

    later = closes + timedelta(days=2)
    extended = api.patch(
        f"/api/v1/programmes/{programme.pk}/", {"closes_at": later.isoformat(), "reason": "서버 장애"}, format="json"
    )
    assert extended.status_code == 200
    assert AuditEntry.objects.get(action="programme.deadline_change").reason == "서버 장애"

    no_reason = api_for(admin_user).patch(
        f"/api/v1/programmes/{programme.pk}/", {"closes_at": earlier.isoformat()}, format="json"
    )
    assert no_reason.status_code == 400 and "reason" in no_reason.json()["errors"]
    by_admin = api_for(admin_user).patch(
        f"/api/v1/programmes/{programme.pk}/",
        {"closes_at": earlier.isoformat(), "reason": "장관 결재로 공고 정정"},
        format="json",
    )
    assert by_admin.status_code == 200
    programme.refresh_from_db()
    assert programme.closes_at == earlier
    assert AuditEntry.objects.filter(action="programme.deadline_change").latest("id").reason == "장관 결재로 공고 정정"


def _programme_form(programme: Programme, **overrides) -> dict:
    data = {
        "name": programme.name,
        "name_en": programme.name_en,
        "year": programme.year,
        "receipt_prefix": programme.receipt_prefix,
        "opens_at": timezone.localtime(programme.opens_at).strftime("%Y-%m-%dT%H:%M"),
        "closes_at": timezone.localtime(programme.closes_at).strftime("%Y-%m-%dT%H:%M"),
        "max_teams": programme.max_teams,
        "gpu_cap_per_team": programme.gpu_cap_per_team,
        "gpu_node_size": programme.gpu_node_size,
        "budget_min": programme.budget_min,
        "budget_max": programme.budget_max,
        "budget_envelope": programme.budget_envelope,
        "model_categories": list(programme.model_categories),
        "attachment_max_file_mb": programme.attachment_max_file_mb,
        "attachment_max_total_mb": programme.attachment_max_total_mb,
        "required_attachments": programme.required_attachments,
        "one_consortium_per_organisation": "on" if programme.one_consortium_per_organisation else "",
        "require_university": "on" if programme.require_university else "",
        "appeal_window_days": programme.appeal_window_days,
        "gpu_supplier_rule": getattr(programme, "gpu_supplier_rule", ""),
        "reason": "",
    }
    for key, value in overrides.items():
        data[key] = value.strftime("%Y-%m-%dT%H:%M") if hasattr(value, "strftime") else value
    return {k: v for k, v in data.items() if v != ""}


def test_eight_places_on_a_programme_of_five_are_refused(past_deadline_programme, officer, api_for):
    """SPEC §5: the selection selects at most ``max_teams``; refused with a clear message, nothing created."""
    programme = past_deadline_programme
    now = timezone.now()
    payload = {
        "programme": programme.pk,
        "name": "1차 선정평가",
        "kind": "selection",
        "teams_to_keep": 8,
        "scoring_opens_at": now.isoformat(),
        "scoring_closes_at": (now + timedelta(days=7)).isoformat(),
        "criteria": [
            {"key": "technology", "name": "기술성", "source": "expert", "max_points": "100.0"},
        ],
    }
    response = api_for(officer).post("/api/v1/phases/", payload, format="json")
    assert response.status_code == 400, response.content
    body = response.json()
    assert "teams_to_keep" in body["errors"]
    assert "5" in body["detail"] and "8" in body["detail"]
    assert not Phase.objects.filter(programme=programme).exists()

    phase = selection_phase(programme=programme, status="setup", teams_to_keep=5)
    lowered = api_for(officer).patch(f"/api/v1/programmes/{programme.pk}/", {"max_teams": 3}, format="json")
    assert lowered.status_code == 400 and "max_teams" in lowered.json()["errors"]
    programme.refresh_from_db()
    assert programme.max_teams == 5
    phase.refresh_from_db()
    assert phase.teams_to_keep == 5


def test_a_phase_page_refuses_more_places_than_the_programme_allows(past_deadline_programme, officer, client_for):
    programme = past_deadline_programme
    phase = selection_phase(programme=programme, status="setup", teams_to_keep=5)
    client = client_for(officer)
    page = client.get(reverse("evaluations:phase_edit", args=[phase.pk]))
    assert page.status_code == 200
    data = _form_values(page.content.decode())
    data["teams_to_keep"] = "8"
    response = client.post(reverse("evaluations:phase_edit", args=[phase.pk]), data)
    assert response.status_code == 400
    assert "최대 5개 팀" in response.content.decode()
    phase.refresh_from_db()
    assert phase.teams_to_keep == 5


def _form_values(html: str) -> dict:
    """The values a browser would post for the page's form (inputs, checked boxes, selected options)."""

    class Form(HTMLParser):
        def __init__(self):
            super().__init__()
            self.values: dict[str, list[str]] = {}
            self.select: str | None = None
            self.textarea: str | None = None

        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            name = a.get("name")
            if tag == "input" and name and a.get("type") not in ("submit", "button"):
                if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                    return
                self.values.setdefault(name, []).append(a.get("value") or ("on" if a.get("type") == "checkbox" else ""))
            elif tag == "select" and name:
                self.select = name
            elif tag == "option" and self.select and "selected" in a:
                self.values.setdefault(self.select, []).append(a.get("value", ""))
            elif tag == "textarea" and name:
                self.textarea = name
                self.values.setdefault(name, []).append("")

        def handle_endtag(self, tag):
            if tag == "select":
                self.select = None
            if tag == "textarea":
                self.textarea = None

        def handle_data(self, data):
            if self.textarea:
                self.values[self.textarea][-1] += data

    parser = Form()
    parser.feed(html)
    return {k: v if len(v) > 1 else v[0] for k, v in parser.values.items()}


PASS = {"technology": 32, "capability": 24, "impact": 21}  # 77


def _four_passing(programme, *, teams_to_keep: int):
    phase = selection_phase(programme=programme, teams_to_keep=teams_to_keep)
    applications = [submitted_application(programme=programme) for _ in range(4)]
    (reviewer,) = reviewers(1)
    for i, application in enumerate(applications):
        submit_scores(assign(phase, application, reviewer), {**PASS, "technology": 32 - i})
    return phase, applications


def test_the_panel_keeps_fewer_teams_by_a_recorded_decision_with_reasons(
    past_deadline_programme, officer, client_for, api_for
):
    """SPEC §5: ``teams_to_keep`` is a maximum; the panel may keep fewer teams than pass, by a
    recorded decision with reasons, before finalising."""
    phase, (a, b, c, d) = _four_passing(past_deadline_programme, teams_to_keep=3)
    client = client_for(officer)
    url = reverse("evaluations:phase_ranking", args=[phase.pk])

    no_reason = client.post(url, {"action": "panel_keeps", "count": "2", "reason": ""}, follow=True)
    assert "유지할 팀 수와 평가위원회의 결정 이유를 적어 주세요" in no_reason.content.decode()
    phase.refresh_from_db()
    assert phase.panel_keeps is None

    too_many = api_for(officer).post(
        f"/api/v1/phases/{phase.pk}/panel-keeps/", {"count": 3, "reason": "전원"}, format="json"
    )
    assert too_many.status_code == 400 and "count" in too_many.json()["errors"]

    recorded = client.post(
        url, {"action": "panel_keeps", "count": "2", "reason": "3위 팀의 데이터 확보 계획이 불충분"}, follow=True
    )
    page = recorded.content.decode()
    assert "최대 3개 팀 중 2개 팀을 유지" in page
    assert "3위 팀의 데이터 확보 계획이 불충분" in page
    entry = AuditEntry.objects.get(action="phase.panel_keeps")
    assert entry.reason == "3위 팀의 데이터 확보 계획이 불충분"

    finalised = api_for(officer).post(f"/api/v1/phases/{phase.pk}/finalise/", format="json")
    assert finalised.status_code == 200
    assert finalised.json()["panel_keeps"] == 2
    decisions = dict(PhaseResult.objects.filter(phase=phase).values_list("application_id", "decision"))
    assert decisions == {a.pk: "selected", b.pk: "selected", c.pk: "reserve", d.pk: "reserve"}

    late = api_for(officer).post(f"/api/v1/phases/{phase.pk}/panel-keeps/", {"count": 1, "reason": "x"}, format="json")
    assert late.status_code == 409


def test_appeal_grounds_are_shown_to_the_deciding_officer_and_the_applicant(
    past_deadline_programme, officer, client_for, api_for
):
    """SPEC §5: appeal grounds are choices from the announced scope, shown to both sides."""
    from evaluations import services

    phase, (a, *_rest) = _four_passing(past_deadline_programme, teams_to_keep=3)
    services.phase_finalise(phase=phase, by=officer)
    services.phase_publish(phase=phase, by=officer)
    applicant = a.consortium.lead_contact
    refused = api_for(applicant).post(
        "/api/v1/appeals/",
        {"phase": phase.pk, "application": a.pk, "grounds": "the_rules", "text": "규정이 부당합니다"},
        format="json",
    )
    assert refused.status_code == 400 and "grounds" in refused.json()["errors"]
    filed = api_for(applicant).post(
        "/api/v1/appeals/",
        {"phase": phase.pk, "application": a.pk, "grounds": "misreading", "text": "제안서 3장을 오독했습니다"},
        format="json",
    )
    assert filed.status_code == 201, filed.content
    ground = "제안서의 명백한 오독"
    officer_pages = client_for(officer)
    assert ground in officer_pages.get(reverse("evaluations:appeal_list")).content.decode()
    appeal_id = filed.json()["id"]
    assert ground in officer_pages.get(reverse("evaluations:appeal_decide", args=[appeal_id])).content.decode()
    mine = client_for(applicant).get(reverse("evaluations:result_detail", args=[phase.pk, a.pk]))
    assert ground in mine.content.decode()


def test_ranking_figures_say_how_they_add_up_to_the_score(past_deadline_programme, officer, client_for):
    """The criterion contributions of the kept sheets add up to the expert part, the dropped
    sheets are marked, on the page and in the export (SPEC §5)."""
    programme = past_deadline_programme
    phase = selection_phase(programme=programme, teams_to_keep=3)
    application = submitted_application(programme=programme)
    sheets = [
        {"technology": 20, "capability": 15, "impact": 10},  # 45: lowest, dropped
        {"technology": 30, "capability": 24, "impact": 21},  # 75
        {"technology": 32, "capability": 22, "impact": 22},  # 76
        {"technology": 31, "capability": 25, "impact": 21},  # 77
        {"technology": 40, "capability": 30, "impact": 29},  # 99: highest, dropped
    ]
    for reviewer, values in zip(reviewers(5), sheets, strict=True):
        submit_scores(assign(phase, application, reviewer), values)
    client = client_for(officer)
    page = client.get(reverse("evaluations:phase_ranking", args=[phase.pk])).content.decode()
    assert "<del" in page and ">45.0</del>" in page and ">99.0</del>" in page
    assert "76.00" in page  # expert part = (75 + 76 + 77) / 3
    # technology 31.00 + capability 23.67 + impact 21.33 = 76.00: the kept sheets only
    for figure in ("31.00", "23.67", "21.33"):
        assert figure in page
    assert "ranking-figures-note" in page

    body = client.get(reverse("evaluations:phase_export", args=[phase.pk, "csv"])).content.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(body)))
    (row,) = rows
    assert row["expert_score"] == "76.00"
    assert [row["technology"], row["capability"], row["impact"]] == ["31.00", "23.67", "21.33"]
    assert row["dropped_totals"] == "45.0; 99.0"
    assert row["reviewer_totals"].split("; ") == ["45.0", "75.0", "76.0", "77.0", "99.0"]
