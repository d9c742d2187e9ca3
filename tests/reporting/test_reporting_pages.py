"""Reports after the award through the portal's pages and the API (issue 23, SPEC §1, §6, §11):
the usage file refused whole with line numbers, utilisation against a hand-computed example,
review, the reclaim journey and its effect on the next allocation run, permissions."""

from __future__ import annotations

import re
from datetime import timedelta
from fractions import Fraction

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from gpu_allocation.models import GpuReclaim, ReclaimState
from gpu_allocation.services import allocation_inputs_build
from portal.models import AuditEntry
from reporting.models import GpuUsage, ProgressReport, ReportState
from tests.conftest import token_client
from tests.factories_consortia import pdf_bytes
from tests.reporting.conftest import build_scene, kst, usage_csv

pytestmark = pytest.mark.django_db


def _csv(data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile("usage.csv", data, content_type="text/csv")


def _report(scene, team, index: int) -> ProgressReport:
    start, _end = scene.period(index)
    return ProgressReport.objects.get(consortium=team, period_start=start)


@pytest.fixture
def team1(scene, client_for):
    client = en(client_for(scene.team1.lead_contact))
    assert client.get("/reports/").status_code == 200  # the list creates the drafts of the periods begun
    return client


def en(client):
    """The client reads the portal in English (the messages below are quoted in English)."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def _text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_team_list_shows_each_period_with_due_time_and_late_flag(scene, team1):
    page = _text(team1.get("/reports/"))
    # Four periods have begun (three months back and this one); the first two are past due.
    assert ProgressReport.objects.filter(consortium=scene.team1).count() == 4
    assert ProgressReport.objects.filter(consortium=scene.team2).count() == 4
    first = _report(scene, scene.team1, 0)
    assert f"{timezone.localtime(first.due_at):%Y-%m-%d} 18:00 KST" in page
    assert page.count('data-testid="late"') == sum(
        r.is_late for r in ProgressReport.objects.filter(consortium=scene.team1)
    )
    assert first.is_late and scene.team2.name not in page


def test_bad_usage_csv_is_refused_with_line_numbers_and_changes_nothing(scene, team1):
    report = _report(scene, scene.team1, 0)
    start, end = scene.period(0)
    good = usage_csv(scene, start, end)
    assert team1.post(f"/reports/{report.pk}/usage/", {"file": _csv(good)}).status_code == 302
    before = (
        list(GpuUsage.objects.values_list("cluster_id", "gpu_hours")),
        report.__class__.objects.get(pk=report.pk).usage_sha256,
        AuditEntry.objects.count(),
    )
    bad = (
        "JobID,Cluster,Start,End,AllocGPUs\n"
        f"2001,{scene.hub_a.name},{kst(start)},{kst(start, 5)},8\n"  # line 2: fine
        f"2002,AI-HUB-Z,{kst(start)},{kst(start, 5)},8\n"  # line 3: a cluster the team does not hold
        f"2003,{scene.hub_a.name},{kst(start, 9)},{kst(start, 5)},8\n"  # line 4: ends before it starts
        f"2004,{scene.hub_a.name},{kst(start)},{kst(start, 5)},abc\n"  # line 5: not a number of GPUs
        f"2001,{scene.hub_a.name},{kst(start)},{kst(start, 5)},8\n"  # line 6: the same job again
    ).encode()
    response = team1.post(f"/reports/{report.pk}/usage/", {"file": _csv(bad)})
    assert response.status_code == 400
    page = _text(response)
    assert "The usage file was not stored: 4 lines need fixing." in page
    for line in (3, 4, 5, 6):
        assert f"line {line}:" in page
    assert "line 2:" not in page
    assert "“AI-HUB-Z” is not a cluster this team holds GPUs on." in page
    # Through the API too: 400, every line number, nothing stored.
    api = en(token_client(scene.team1.lead_contact))
    answer = api.post(f"/api/v1/reports/{report.pk}/usage/", {"file": _csv(bad)}, format="multipart")
    assert answer.status_code == 400
    body = answer.json()
    assert body["code"] == "invalid" and [e.split(":")[0] for e in body["errors"]["file"]] == [
        "line 3", "line 4", "line 5", "line 6",
    ]  # fmt: skip
    after = (
        list(GpuUsage.objects.values_list("cluster_id", "gpu_hours")),
        report.__class__.objects.get(pk=report.pk).usage_sha256,
        AuditEntry.objects.count(),
    )
    assert after == before


def test_utilisation_equals_hand_computed_example(scene, team1, client_for, officer):
    report = _report(scene, scene.team1, 0)
    start, end = scene.period(0)
    assert team1.post(f"/reports/{report.pk}/usage/", {"file": _csv(usage_csv(scene, start, end))}).status_code == 302
    # By hand: job 1001 runs 64 GPUs for 10 days = 240 h -> 15,360 GPU-hours; job 1002 starts
    # the day before the period at 12:00 and ends on its first day at 12:00: only 12 h count,
    # 32 x 12 = 384; job 1003 starts 12:00 UTC (21:00 KST) on the last day and ends 03:00 KST
    # the day after: 3 h inside, 8 x 3 = 24. Used: 15,360 + 384 + 24 = 15,768 GPU-hours.
    # Granted: 16 nodes x 8 = 128 GPUs for the period's days x 24 h.
    days = (end - start).days + 1
    expected_percent = {28: "18.3", 29: "17.7", 30: "17.1", 31: "16.6"}[days]
    # 15768 / (128 x 672) = 18.33 %, / (128 x 696) = 17.70 %, / (128 x 720) = 17.11 %, / (128 x 744) = 16.56 %
    assert round(float(Fraction(15768, 128 * days * 24) * 100), 1) == float(expected_percent)
    usage = GpuUsage.objects.get(report=report, cluster=scene.hub_a)
    assert str(usage.gpu_hours) == "15768.00" and usage.granted_gpus == 128
    page = _text(team1.get(f"/reports/{report.pk}/"))
    assert "15,768" in page and f"{expected_percent}%" in page
    # Submitted, the officer's utilisation page and the API show the same figure.
    team1.post(
        f"/reports/{report.pk}/",
        {"progress": "1단계 목표: 사전학습 30% 완료", "links": "https://example.kr/model", "revision": "1"},
    )
    confirm = team1.post(f"/reports/{report.pk}/submit/")
    assert confirm.status_code == 200 and "A submitted report cannot be edited or withdrawn." in _text(confirm)
    assert ProgressReport.objects.get(pk=report.pk).state == ReportState.DRAFT  # nothing until confirmed
    team1.post(f"/reports/{report.pk}/submit/", {"confirm": "yes"})
    assert ProgressReport.objects.get(pk=report.pk).state == ReportState.SUBMITTED
    office = en(client_for(officer))
    overview = _text(office.get(f"/reports/officer/utilisation/?programme={scene.programme.pk}"))
    assert f"{expected_percent}%" in overview and 'data-testid="utilisation-chart"' in overview
    body = en(token_client(officer)).get(f"/api/v1/reports/{report.pk}/").json()
    assert body["usage"][0]["percent"] == expected_percent and body["usage"][0]["gpu_hours"] == "15768.00"


def test_review_returns_with_comment_and_mails_the_team(
    scene, team1, client_for, officer, mailoutbox, django_capture_on_commit_callbacks
):
    report = _report(scene, scene.team1, 0)
    start, end = scene.period(0)
    team1.post(f"/reports/{report.pk}/usage/", {"file": _csv(usage_csv(scene, start, end))})
    team1.post(f"/reports/{report.pk}/", {"progress": "진행 보고", "links": "", "revision": "1"})
    team1.post(f"/reports/{report.pk}/submit/", {"confirm": "yes"})
    office = en(client_for(officer))
    refused = office.post(f"/reports/{report.pk}/review/", {"decision": "return", "comment": ""})
    assert refused.status_code == 400 and "Say what the team should change" in _text(refused)
    with django_capture_on_commit_callbacks(execute=True):
        office.post(f"/reports/{report.pk}/review/", {"decision": "return", "comment": "증빙 자료를 보완하세요"})
    report.refresh_from_db()
    assert report.state == ReportState.RETURNED and report.officer_comment == "증빙 자료를 보완하세요"
    assert any("증빙 자료를 보완하세요" in m.body for m in mailoutbox)
    assert "증빙 자료를 보완하세요" in _text(team1.get(f"/reports/{report.pk}/"))
    assert AuditEntry.objects.filter(action="report.return").count() == 1
    # The team edits again, adds a spending line with its evidence (a non-PDF is refused).
    bad = team1.post(
        f"/reports/{report.pk}/spending/",
        {
            "category": "purchase",
            "amount": "5000000",
            "description": "말뭉치",
            "evidence": SimpleUploadedFile("x.pdf", b"not a pdf"),
        },
    )
    assert bad.status_code == 400 and report.spending.count() == 0
    ok = team1.post(
        f"/reports/{report.pk}/spending/",
        {
            "category": "purchase",
            "amount": "5000000",
            "description": "말뭉치",
            "evidence": SimpleUploadedFile("invoice.pdf", pdf_bytes(), content_type="application/pdf"),
        },
    )
    assert ok.status_code == 302 and report.spending.get().amount == 5_000_000


def _low_use_period(scene, team1, office, index: int) -> ProgressReport:
    """Team 1 files period ``index`` with one small job (8 GPUs for a day on 128 granted) and the officer accepts it."""
    report = _report(scene, scene.team1, index)
    start, _end = scene.period(index)
    data = f"JobID,Cluster,Start,End,AllocGPUs\n{index}01,{scene.hub_a.name},{kst(start)},{kst(start + timedelta(days=1))},8\n"
    assert team1.post(f"/reports/{report.pk}/usage/", {"file": _csv(data.encode())}).status_code == 302
    team1.post(f"/reports/{report.pk}/", {"progress": "저사용 기간", "links": "", "revision": "1"})
    team1.post(f"/reports/{report.pk}/submit/", {"confirm": "yes"})
    office.post(f"/reports/{report.pk}/review/", {"decision": "accept", "comment": ""})
    assert ProgressReport.objects.get(pk=report.pk).state == ReportState.ACCEPTED
    return report


def session_api(user):
    """A DRF client signed in with ``user``'s session, recently re-authenticated: the API as
    the portal's own pages call it. A re-authenticated session covers every write of the
    next five minutes, where a token client proves each write with a new authenticator code
    (two a 30-second step: the journey below would wait 75 s for codes)."""
    from rest_framework.test import APIClient

    from tests.conftest import mark_reauthenticated

    client = APIClient()
    client.force_login(user)
    mark_reauthenticated(client, user)
    return client


def test_reclaim_journey_streak_held_nodes_window_and_the_next_run(scene, team1, client_for, officer):
    office = en(client_for(officer))
    api = en(session_api(officer))
    propose = {
        "programme": scene.programme.pk,
        "consortium": scene.team1.pk,
        "cluster": scene.hub_a.pk,
        "nodes": 4,
        "reason": "두 달 연속 사용률 50% 미만",
    }
    url = f"/reports/officer/utilisation/?programme={scene.programme.pk}"

    # One accepted low period: the rule needs two in a row; the page says so and offers no form.
    _low_use_period(scene, team1, office, 0)
    page = _text(office.get(url))
    assert "Not possible: 1 low period in a row of 2 needed." in page and 'data-testid="propose-form"' not in page
    refused = api.post("/api/v1/reclaims/", propose, format="json")
    assert refused.status_code == 409 and refused.json()["code"] == "not_low_use"
    assert GpuReclaim.objects.count() == 0

    _low_use_period(scene, team1, office, 1)
    assert 'data-testid="propose-form"' in _text(office.get(url))
    # More nodes than the team holds on the cluster (16): refused, nothing stored.
    too_many = api.post("/api/v1/reclaims/", {**propose, "nodes": 17}, format="json")
    assert too_many.status_code == 400 and "holds 16 nodes" in too_many.json()["detail"]
    assert GpuReclaim.objects.count() == 0
    # Through the page: proposed, the team notified and shown the proposal.
    office.post("/reports/reclaims/propose/", {**propose, "nodes": "4"})
    reclaim = GpuReclaim.objects.get()
    assert (reclaim.nodes, reclaim.gpus, reclaim.state) == (4, 32, ReclaimState.PROPOSED)
    assert "32" in _text(team1.get("/reports/")) and 'data-testid="reclaim-alert"' in _text(team1.get("/reports/"))
    # The rest, 12 nodes, can still be proposed; 13 cannot (4 already proposed).
    assert api.post("/api/v1/reclaims/", {**propose, "nodes": 13}, format="json").status_code == 400

    # The team responds within the window.
    team1.post(f"/reports/reclaims/{reclaim.pk}/respond/", {"response": "다음 달 대규모 학습 예정입니다"})
    reclaim.refresh_from_db()
    assert reclaim.response == "다음 달 대규모 학습 예정입니다"
    # Not applied before the window ends (page and API).
    office.post(f"/reports/reclaims/{reclaim.pk}/decide/", {"decision": "apply", "confirm": "yes"})
    assert GpuReclaim.objects.get().state == ReclaimState.PROPOSED
    early = api.post(f"/api/v1/reclaims/{reclaim.pk}/decide/", {"apply": True}, format="json")
    assert early.status_code == 409 and early.json()["code"] == "window_open"

    inputs_before, _sha, _phase = allocation_inputs_build(programme=scene.programme)
    team_id = scene.setup.applications[0].pk
    before = next(t for t in inputs_before["teams"] if t["id"] == team_id)["requested_gpus"]
    assert before == 512

    # The window ends (the clock moves past respond_by); the team can no longer respond.
    GpuReclaim.objects.filter(pk=reclaim.pk).update(respond_by=timezone.now() - timedelta(minutes=1))
    late = en(token_client(scene.team1.lead_contact)).post(
        f"/api/v1/reclaims/{reclaim.pk}/respond/", {"response": "늦은 답변"}, format="json"
    )
    assert late.status_code == 409 and late.json()["code"] == "window_closed"
    confirm = office.post(f"/reports/reclaims/{reclaim.pk}/decide/", {"decision": "apply"})
    assert confirm.status_code == 200 and "An applied reclaim cannot be withdrawn." in _text(confirm)
    office.post(f"/reports/reclaims/{reclaim.pk}/decide/", {"decision": "apply", "confirm": "yes"})
    assert GpuReclaim.objects.get().state == ReclaimState.APPLIED
    assert api.post(f"/api/v1/reclaims/{reclaim.pk}/decide/", {"apply": False}, format="json").status_code == 409

    # The next allocation run's inputs: the team asks for at most what it holds (128) less the
    # 32 GPUs returned, so 96 instead of its request of 512; the other team is unchanged.
    inputs_after, sha_after, _phase = allocation_inputs_build(programme=scene.programme)
    after = {t["id"]: t["requested_gpus"] for t in inputs_after["teams"]}
    assert after[team_id] == 128 - 32 == 96
    assert after[scene.setup.applications[1].pk] == 512
    assert [e.action for e in AuditEntry.objects.filter(action__startswith="reclaim.").order_by("id")] == [
        "reclaim.propose", "reclaim.respond", "reclaim.apply",
    ]  # fmt: skip
    history = _text(team1.get("/reports/reclaims/"))
    assert "다음 달 대규모 학습 예정입니다" in history and "Applied: the GPUs went back to the pool" in history


def test_a_team_sees_only_its_own_and_reviewers_see_none(scene, client_for, reviewer):
    team2 = en(client_for(scene.team2.lead_contact))
    team2.get("/reports/")
    own = _report(scene, scene.team2, 0)
    other = _report(scene, scene.team1, 0)
    assert team2.get(f"/reports/{own.pk}/").status_code == 200
    assert team2.get(f"/reports/{other.pk}/").status_code == 404
    assert team2.post(f"/reports/{other.pk}/", {"progress": "x", "revision": "1"}).status_code == 404
    api = en(token_client(scene.team2.lead_contact))
    ids = {r["consortium"] for r in api.get("/api/v1/reports/").json()["results"]}
    assert ids == {scene.team2.pk}
    assert api.get(f"/api/v1/reports/{other.pk}/").status_code == 404
    assert api.patch(f"/api/v1/reports/{other.pk}/", {"progress": "x", "revision": 1}, format="json").status_code == 404
    rev = en(client_for(reviewer))
    for url in (
        "/reports/",
        f"/reports/{own.pk}/",
        "/reports/usage/",
        "/reports/officer/",
        "/reports/officer/utilisation/",
        "/reports/reclaims/",
    ):
        assert rev.get(url).status_code == 404, url
    rev_api = en(token_client(reviewer))
    assert rev_api.get("/api/v1/reports/").json()["results"] == []
    assert rev_api.get(f"/api/v1/reports/{own.pk}/").status_code == 404
    assert rev_api.get("/api/v1/reclaims/").json()["results"] == []


def test_api_edit_with_stale_revision_and_submit(scene, team1):
    report = _report(scene, scene.team1, 2)
    api = en(token_client(scene.team1.lead_contact))
    saved = api.patch(
        f"/api/v1/reports/{report.pk}/",
        {"progress": "API 보고", "links": ["https://example.kr/a"], "revision": 1},
        format="json",
    )
    assert saved.status_code == 200 and saved.json()["revision"] == 2
    stale = api.patch(f"/api/v1/reports/{report.pk}/", {"progress": "덮어쓰기", "revision": 1}, format="json")
    assert stale.status_code == 409 and stale.json()["code"] == "stale_revision"
    unknown = api.patch(f"/api/v1/reports/{report.pk}/", {"progres": "x", "revision": 2}, format="json")
    assert unknown.status_code == 400 and "progres" in unknown.json()["errors"]
    incomplete = api.post(f"/api/v1/reports/{report.pk}/submit/")
    assert incomplete.status_code == 400 and "the GPU usage file" in incomplete.json()["detail"]
    start, end = scene.period(2)
    assert (
        api.post(
            f"/api/v1/reports/{report.pk}/usage/", {"file": _csv(usage_csv(scene, start, end))}, format="multipart"
        ).status_code
        == 200
    )
    line = api.post(
        f"/api/v1/reports/{report.pk}/spending/",
        {
            "category": "labelling",
            "amount": 7_000_000,
            "description": "라벨링",
            "evidence": SimpleUploadedFile("e.pdf", pdf_bytes(), content_type="application/pdf"),
        },
        format="multipart",
    )
    assert line.status_code == 201 and line.json()["amount"] == 7_000_000
    submitted = api.post(f"/api/v1/reports/{report.pk}/submit/")
    assert submitted.status_code == 200 and submitted.json()["state"] == "submitted"
    assert (
        api.patch(f"/api/v1/reports/{report.pk}/", {"progress": "x", "revision": 2}, format="json").status_code == 409
    )


# Queries per page whatever the number of teams (measured: the same at 2 and 5 teams, 4 periods each).
QUERY_BUDGET = {"/reports/officer/": 11, "/reports/officer/utilisation/": 13, "/reports/reclaims/": 5}


@pytest.mark.parametrize("teams", [2, 5])
def test_officer_list_pages_cost_the_same_queries_at_two_sizes(
    teams, client_for, officer, django_assert_max_num_queries
):
    scene = build_scene(teams=teams, officer=officer)
    from reporting import services

    services.reports_ensure(programme=scene.programme)
    for report in ProgressReport.objects.filter(programme=scene.programme):
        grants = services._granted(report)
        for grant in grants.values():
            GpuUsage.objects.create(report=report, cluster=grant.cluster, gpu_hours=1000, granted_gpus=grant.gpus)
    ProgressReport.objects.filter(programme=scene.programme).update(state=ReportState.ACCEPTED)
    for allocation in scene.run.allocations.prefetch_related("grants"):
        grant = allocation.grants.get()
        GpuReclaim.objects.create(
            programme=scene.programme, consortium=allocation.consortium, allocation=allocation, cluster=grant.cluster,
            nodes=1, gpus=8, reason="저사용", proposed_by=officer, respond_by=timezone.now() + timedelta(days=14),
        )  # fmt: skip
    office = en(client_for(officer))
    office.get(f"/reports/officer/?programme={scene.programme.pk}")  # warm: the plan exists
    counts = {}
    for url in (
        f"/reports/officer/?programme={scene.programme.pk}",
        f"/reports/officer/utilisation/?programme={scene.programme.pk}",
        f"/reports/reclaims/?programme={scene.programme.pk}",
    ):
        with django_assert_max_num_queries(QUERY_BUDGET[url.split("?")[0]]) as captured:
            assert office.get(url).status_code == 200
        counts[url.split("?")[0]] = len(captured)


@pytest.mark.parametrize("teams", [2, 5])
def test_the_officers_report_list_api_costs_the_same_queries_at_two_sizes(
    teams, officer, django_assert_max_num_queries
):
    scene = build_scene(teams=teams, officer=officer)
    from reporting import services

    services.reports_ensure(programme=scene.programme)
    for report in ProgressReport.objects.filter(programme=scene.programme):
        for grant in services._granted(report).values():
            GpuUsage.objects.create(report=report, cluster=grant.cluster, gpu_hours=1000, granted_gpus=grant.gpus)
    api = en(token_client(officer))
    api.get("/api/v1/reports/")
    with django_assert_max_num_queries(12):
        body = api.get(f"/api/v1/reports/?programme={scene.programme.pk}").json()
    assert body["count"] == teams * 4 and all(r["usage"] for r in body["results"])
