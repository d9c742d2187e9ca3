"""Evaluation pages: who sees what (404), refusals shown as messages, constant query counts, exports."""

import csv
import io
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from evaluations import services
from evaluations.enums import AssignmentStatus, PhaseStatus
from evaluations.models import Assignment, Phase
from tests.factories_evaluations import (
    assign,
    bulk_selection_phase,
    decide_all_ties,
    reviewers,
    selection_phase,
    submit_scores,
    submitted_application,
)

pytestmark = pytest.mark.django_db


def test_reviewer_queue_lists_only_own_assignments(programme, client_for):
    phase = selection_phase(programme=programme)
    me, other = reviewers(2)
    mine = submitted_application(programme=programme, title="내 과제")
    theirs = submitted_application(programme=programme, title="남의 과제")
    assign(phase, mine, me, declared=False)
    assign(phase, theirs, other)
    page = client_for(me).get(reverse("evaluations:reviewer_queue"))
    assert page.status_code == 200
    html = page.content.decode()
    assert mine.consortium.name in html and theirs.consortium.name not in html


def test_declaration_before_the_application_opens(programme, client_for):
    phase = selection_phase(programme=programme)
    (me,) = reviewers(1)
    application = submitted_application(programme=programme)
    assignment = assign(phase, application, me, declared=False)
    client = client_for(me)
    opened = client.get(reverse("evaluations:assignment_score", args=[assignment.pk]))
    assert opened.status_code == 302 and opened["Location"].endswith(f"/reviews/{assignment.pk}/declare/")
    declared = client.post(reverse("evaluations:assignment_declare", args=[assignment.pk]), {"has_conflict": "0"})
    assert declared.status_code == 302
    page = client.get(reverse("evaluations:assignment_score", args=[assignment.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Novelty and feasibility of the approach." in html  # the rubric beside the criterion
    assert 'step="0.1"' in html


def test_conflicted_reviewer_gets_404_and_officer_is_prompted(programme, officer, client_for):
    phase = selection_phase(programme=programme)
    (me,) = reviewers(1)
    assignment = assign(phase, submitted_application(programme=programme), me, declared=False)
    client = client_for(me)
    client.post(
        reverse("evaluations:assignment_declare", args=[assignment.pk]), {"has_conflict": "1", "reason": "자문 계약"}
    )
    assert client.get(reverse("evaluations:assignment_score", args=[assignment.pk])).status_code == 404
    assert client.get(reverse("evaluations:assignment_declare", args=[assignment.pk])).status_code == 404
    prompt = client_for(officer).get(reverse("evaluations:phase_assignments", args=[phase.pk])).content.decode()
    assert "Replace reviewer" in prompt or "평가위원 교체" in prompt
    assert "자문 계약" in prompt


def test_reviewer_cannot_open_another_reviewers_assignment_or_unassigned_application(programme, client_for):
    phase = selection_phase(programme=programme)
    me, other = reviewers(2)
    theirs = submit_scores(
        assign(phase, submitted_application(programme=programme), other),
        {"technology": 30, "capability": 20, "impact": 20},
    )
    client = client_for(me)
    assert client.get(reverse("evaluations:assignment_score", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("evaluations:assignment_declare", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("evaluations:phase_ranking", args=[phase.pk])).status_code == 404
    assert client.get(reverse("evaluations:phase_list")).status_code == 404


def test_scoring_page_after_window_shows_message_and_changes_nothing(programme, client_for):
    phase = selection_phase(programme=programme)
    (me,) = reviewers(1)
    assignment = assign(phase, submitted_application(programme=programme), me)
    Phase.objects.filter(pk=phase.pk).update(
        scoring_closes_at=timezone.now() - timedelta(minutes=1), scoring_opens_at=timezone.now() - timedelta(days=5)
    )
    client = client_for(me)
    response = client.post(
        reverse("evaluations:assignment_score", args=[assignment.pk]),
        {"score_technology": "30", "score_capability": "20", "score_impact": "20", "submit": "1"},
    )
    assert response.status_code == 409
    html = response.content.decode()
    assert "closed" in html or "마감" in html
    assert "disabled" in html
    assert not assignment.scores.exists()


def test_scoring_page_saves_draft_then_submits(programme, client_for):
    phase = selection_phase(programme=programme)
    (me,) = reviewers(1)
    assignment = assign(phase, submitted_application(programme=programme), me)
    client = client_for(me)
    url = reverse("evaluations:assignment_score", args=[assignment.pk])
    bad = client.post(url, {"score_technology": "40.5", "save": "1"})
    assert bad.status_code == 400
    assert client.post(url, {"score_technology": "35.5", "comment_technology": "좋음", "save": "1"}).status_code == 302
    assert (
        client.post(
            url,
            {
                "score_technology": "35.5",
                "score_capability": "20",
                "score_impact": "20.1",
                "comment": "총평",
                "submit": "1",
                "confirm": "yes",  # the confirmation page's own post
            },
        ).status_code
        == 302
    )
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.SUBMITTED
    assert sorted(str(s.value) for s in assignment.scores.all()) == ["20.0", "20.1", "35.5"]


def _ranking_queries(client, phase):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(reverse("evaluations:phase_ranking", args=[phase.pk]))
    assert response.status_code == 200
    return len(ctx.captured_queries), response


def test_ranking_page_query_count_is_the_same_for_10_and_500_applications(officer, client_for):
    from tests.factories import ProgrammeFactory

    client = client_for(officer)
    small = bulk_selection_phase(programme=ProgrammeFactory(), applications=10)
    large = bulk_selection_phase(programme=ProgrammeFactory(), applications=500)
    _ranking_queries(client, small)  # warm the session (and the live ranking's cache)
    n_small, _ = _ranking_queries(client, small)
    cold_large, _ = _ranking_queries(client, large)  # computed: every input read once
    n_large, response = _ranking_queries(client, large)  # from the cache until an input changes
    small.criteria.filter(order=1).update(name="기술성 (수정)")  # any input change: computed again
    cache.clear()  # as cold as the first look at the large phase (no input stamp cached either)
    cold_small, _ = _ranking_queries(client, small)
    print("ranking page queries", n_small, n_large, "computing", cold_small, cold_large)
    assert n_small == n_large <= 15
    assert cold_small == cold_large
    html = response.content.decode()
    # The charts are drawn on the server (inline SVG): the ranking loads no charting script.
    assert html.count('class="svg-chart"') == 2 and "chart.umd" not in html and "cut-line" in html
    assert html.count("<tr class=") <= 52  # paginated to 50 rows (+ the cut line)


def test_ranking_page_of_finalised_phase_reads_the_snapshot_with_constant_queries(officer, client_for):
    from tests.factories import ProgrammeFactory

    client = client_for(officer)
    counts = []
    for size in (10, 120):
        phase = bulk_selection_phase(programme=ProgrammeFactory(), applications=size)
        decide_all_ties(phase, officer)
        services.phase_finalise(phase=phase, by=officer)
        _ranking_queries(client, phase)
        counts.append(_ranking_queries(client, phase)[0])
    assert counts[0] == counts[1]


def test_exports_neutralise_formula_cells(programme, officer, client_for):
    phase = selection_phase(programme=programme)
    application = submitted_application(programme=programme, title='=HYPERLINK("http://x")')
    application.consortium.name = "@evil"
    application.consortium.save()
    for r in reviewers(3):
        submit_scores(assign(phase, application, r), {"technology": 30, "capability": 25, "impact": 20})
    client = client_for(officer)

    body = client.get(reverse("evaluations:phase_export", args=[phase.pk, "csv"])).content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0][:5] == ["rank", "receipt_number", "consortium", "title", "score"]
    assert rows[1][2] == "'@evil" and rows[1][3].startswith("'=HYPERLINK") and rows[1][4] == "75.00"

    response = client.get(reverse("evaluations:phase_export", args=[phase.pk, "xlsx"]))
    sheet = load_workbook(io.BytesIO(response.content)).active
    values = [c.value for c in sheet[2]]
    assert values[2] == "'@evil" and values[3].startswith("'=HYPERLINK") and float(values[4]) == 75.0


def test_officer_pages_render(programme, officer, client_for):
    phase = selection_phase(programme=programme)
    app = submitted_application(programme=programme)
    for r in reviewers(2):
        submit_scores(assign(phase, app, r), {"technology": 30, "capability": 25, "impact": 20})
    client = client_for(officer)
    for name in ("phase_detail", "phase_assignments", "phase_ranking", "phase_gates", "panel_import"):
        assert client.get(reverse(f"evaluations:{name}", args=[phase.pk])).status_code == 200, name
    assert client.get(reverse("evaluations:phase_list")).status_code == 200
    assert client.get(reverse("evaluations:phase_create") + f"?programme={programme.pk}").status_code == 200
    assert client.get(reverse("evaluations:appeal_list")).status_code == 200


def test_phase_create_page_and_open_scoring(past_deadline_programme, officer, client_for):
    programme = past_deadline_programme
    client = client_for(officer)
    now = timezone.localtime()
    data = {
        "name": "1차 선정평가", "name_en": "Selection", "kind": "selection", "teams_to_keep": "5", "pass_threshold": "70",
        "reviewers_per_application": "5", "aggregation_method": "trimmed_mean", "tie_break_keys": "tech",
        "scoring_opens_at": now.strftime("%Y-%m-%dT%H:%M"), "scoring_closes_at": (now + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M"),
        "show_comments_to_applicants": "on", "appeal_window_days": "7", "appeal_scope": "",
        "criteria-TOTAL_FORMS": "2", "criteria-INITIAL_FORMS": "0",
        "criteria-0-key": "tech", "criteria-0-name": "기술성", "criteria-0-source": "expert", "criteria-0-max_points": "60",
        "criteria-1-key": "plan", "criteria-1-name": "계획", "criteria-1-source": "expert", "criteria-1-max_points": "30",
        "objectives-TOTAL_FORMS": "0", "objectives-INITIAL_FORMS": "0",
    }  # fmt: skip
    response = client.post(reverse("evaluations:phase_create") + f"?programme={programme.pk}", data)
    assert response.status_code == 400  # 60 + 30 != 100: refused at creation already
    assert not Phase.objects.filter(programme=programme).exists()
    data["criteria-1-max_points"] = "40"
    response = client.post(reverse("evaluations:phase_create") + f"?programme={programme.pk}", data)
    assert response.status_code == 302
    phase = Phase.objects.get(programme=programme)
    assert phase.tie_break_criteria == ["tech"] and phase.criteria.count() == 2
    assert client.post(reverse("evaluations:phase_edit", args=[phase.pk]), data).status_code == 302
    client.post(reverse("evaluations:phase_action", args=[phase.pk, "open-scoring"]))
    phase.refresh_from_db()
    assert phase.status == PhaseStatus.SCORING


def test_applicant_sees_own_result_with_anonymised_comments_and_files_appeal(programme, officer, client_for):
    phase = selection_phase(programme=programme, teams_to_keep=1)
    app = submitted_application(programme=programme)
    other = submitted_application(programme=programme)
    pool = reviewers(3)
    for r in pool:
        submit_scores(assign(phase, app, r), {"technology": 30, "capability": 25, "impact": 20})
        submit_scores(assign(phase, other, r), {"technology": 35, "capability": 25, "impact": 20})
    services.phase_finalise(phase=phase, by=officer)
    client = client_for(app.consortium.lead_contact)
    url = reverse("evaluations:result_detail", args=[phase.pk, app.pk])
    assert client.get(url).status_code == 404  # not published yet
    services.phase_publish(phase=phase, by=officer)

    page = client.get(url)
    html = page.content.decode()
    assert page.status_code == 200 and "75.00" in html and "technology 의견" in html
    assert all(r.username not in html and r.full_name not in html for r in pool)
    assert client.get(reverse("evaluations:result_detail", args=[phase.pk, other.pk])).status_code == 404
    assert client.post(url, {"grounds": "misreading", "text": "오독이 있었습니다"}).status_code == 302
    assert phase.appeals.get().application == app
    assert client.post(url, {"grounds": "misreading", "text": "다시"}).status_code == 409


def test_stage_assignment_of_previous_phase_and_benchmark_page(programme, officer, client_for):
    from tests.factories_evaluations import stage_phase

    phase = selection_phase(programme=programme, teams_to_keep=1)
    app = submitted_application(programme=programme)
    for r in reviewers(3):
        submit_scores(assign(phase, app, r), {"technology": 30, "capability": 25, "impact": 20})
    services.phase_finalise(phase=phase, by=officer)
    stage = stage_phase(programme=programme)
    client = client_for(app.consortium.lead_contact)
    objective = stage.objectives.first()
    url = reverse("evaluations:benchmarks", args=[stage.pk, app.pk])
    assert client.get(url).status_code == 200
    assert client.post(url, {"objective": objective.pk, "score": "78", "evidence": "eval log"}).status_code == 302
    assert "0.9750" in client.get(url).content.decode()
    stranger = client_for(submitted_application(programme=programme).consortium.lead_contact)
    assert stranger.get(url).status_code == 404
    assert Assignment.objects.filter(phase=stage).count() == 0


def test_reviewer_downloads_only_attachments_of_the_scored_version(programme, client_for):
    import hashlib

    from django.core.files.base import ContentFile

    from consortia.models import ApplicationVersion, Attachment

    phase = selection_phase(programme=programme)
    me, other = reviewers(2)
    application = submitted_application(programme=programme)
    body = b"%PDF-1.4\n% demo\n"
    listed = Attachment(
        application=application,
        original_name="plan.pdf",
        size=len(body),
        sha256=hashlib.sha256(body).hexdigest(),
        uploaded_by=application.consortium.lead_contact,
    )
    listed.file.save("plan.pdf", ContentFile(body), save=True)
    later = Attachment(
        application=application,
        original_name="later.pdf",
        size=len(body),
        sha256=listed.sha256,
        uploaded_by=application.consortium.lead_contact,
    )
    later.file.save("later.pdf", ContentFile(body), save=True)
    ApplicationVersion.objects.create(
        application=application, number=2, receipt_number=f"ATT-{application.pk}", submitted_at=timezone.now(),
        submitted_by=application.consortium.lead_contact, sha256="1" * 64,
        content={"title": "v2", "attachments": [{"id": listed.pk, "sha256": listed.sha256, "original_name": "plan.pdf", "title": "", "pages": 1}]},
    )  # fmt: skip
    mine = assign(phase, application, me)
    assign(phase, application, other, declared=False)
    url = reverse("evaluations:review_attachment", args=[mine.pk, listed.pk])

    response = client_for(me).get(url)
    assert response.status_code == 200 and b"".join(response.streaming_content) == body
    assert "plan.pdf" in client_for(me).get(reverse("evaluations:assignment_score", args=[mine.pk])).content.decode()
    assert client_for(me).get(reverse("evaluations:review_attachment", args=[mine.pk, later.pk])).status_code == 404
    assert client_for(other).get(url).status_code == 404


def test_scoring_page_after_finalisation_shows_message(programme, officer, client_for):
    phase = selection_phase(programme=programme)
    me, other = reviewers(2)
    application = submitted_application(programme=programme)
    mine = assign(phase, application, me)
    submit_scores(mine, {"technology": 30, "capability": 25, "impact": 20})
    submit_scores(assign(phase, application, other), {"technology": 30, "capability": 25, "impact": 20})
    services.phase_finalise(phase=phase, by=officer)
    Assignment.objects.filter(pk=mine.pk).update(status=AssignmentStatus.ACTIVE)  # as if re-opened by mistake
    response = client_for(me).post(
        reverse("evaluations:assignment_score", args=[mine.pk]), {"score_technology": "10", "save": "1"}
    )
    assert response.status_code == 409
    assert "확정" in response.content.decode()
    assert sorted(str(s.value) for s in mine.scores.all()) == ["20.0", "25.0", "30.0"]


def test_officer_decides_appeal_on_its_page_and_upheld_reopens_review(programme, officer, client_for):
    phase = selection_phase(programme=programme, teams_to_keep=1)
    app = submitted_application(programme=programme)
    (first, second) = reviewers(2)
    for r in (first, second):
        submit_scores(assign(phase, app, r), {"technology": 30, "capability": 25, "impact": 20})
    services.phase_finalise(phase=phase, by=officer)
    services.phase_publish(phase=phase, by=officer)
    appeal = services.appeal_file(
        phase=phase, application=app, by=app.consortium.lead_contact, grounds="misreading", text="오독"
    )
    url = reverse("evaluations:appeal_decide", args=[appeal.pk])
    assert client_for(first).get(url).status_code == 404
    assert client_for(app.consortium.lead_contact).get(url).status_code == 404
    assert client_for(officer).post(url, {"upheld": "1", "reasons": ""}).status_code == 400

    response = client_for(officer).post(url, {"upheld": "1", "reasons": "평가 오류 확인"})

    assert response.status_code == 302
    appeal.refresh_from_db()
    assert appeal.status == "upheld" and appeal.rescore_until is not None
    reopened = Assignment.objects.get(phase=phase, reviewer=first)
    assert reopened.status == AssignmentStatus.ACTIVE
    page = client_for(first).get(reverse("evaluations:assignment_score", args=[reopened.pk]))
    assert page.status_code == 200 and 'name="submit"' in page.content.decode()


def test_a_reviewer_affiliated_after_assignment_no_longer_sees_it_listed(programme, client_for, api_for):
    from evaluations.selectors import assignments_visible_to
    from tests.factories_evaluations import affiliate, assign, reviewers, selection_phase, submitted_application

    phase = selection_phase(programme=programme)
    (reviewer,) = reviewers(1)
    kept_app, conflicted_app = submitted_application(programme=programme), submitted_application(programme=programme)
    kept, conflicted = assign(phase, kept_app, reviewer), assign(phase, conflicted_app, reviewer)
    assert set(assignments_visible_to(reviewer)) == {kept, conflicted}
    affiliate(reviewer, conflicted_app)  # joins the team's organisation after the assignment
    assert list(assignments_visible_to(reviewer)) == [kept]
    queue = client_for(reviewer).get(reverse("evaluations:reviewer_queue")).content.decode()
    assert reverse("evaluations:assignment_score", args=[kept.pk]) in queue or str(kept_app.title) in queue
    assert str(conflicted_app.title) not in queue
    assert api_for(reviewer).get(f"/api/v1/assignments/{kept.pk}/").status_code == 200
    assert api_for(reviewer).get(f"/api/v1/assignments/{conflicted.pk}/").status_code == 404


@pytest.mark.parametrize("language", ["ko", "en"])
def test_the_reviewer_queue_costs_the_same_queries_with_two_or_twelve_assignments(programme, client_for, language):
    """SPEC §10: the queue reads what it shows in a constant number of queries, in either
    language (the phase's English name is read with the list, not once a row)."""
    phase = selection_phase(programme=programme)
    Phase.objects.filter(pk=phase.pk).update(name_en="First selection")
    (me,) = reviewers(1)
    client = client_for(me)

    def queries() -> tuple[int, str]:
        with CaptureQueriesContext(connection) as ctx:
            page = client.get(reverse("evaluations:reviewer_queue"), HTTP_ACCEPT_LANGUAGE=language)
        assert page.status_code == 200
        return len(ctx.captured_queries), page.content.decode()

    for _ in range(2):
        assign(phase, submitted_application(programme=programme), me)
    queries()  # the first request reads what is kept for the session
    few, html = queries()
    for _ in range(10):
        assign(phase, submitted_application(programme=programme), me)
    many, html = queries()
    assert many == few
    assert ("First selection" in html) == (language == "en")
