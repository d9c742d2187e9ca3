"""Phase set-up through the page: blank extra rows are ignored, errors are listed at the top,
criteria must total 100 at creation, rows are added without JavaScript; benchmark objectives
only for the team's model categories, a missing result shown as not submitted."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from evaluations import services
from evaluations.models import BenchmarkResult, Objective, Phase
from tests.factories_evaluations import assign, reviewers, selection_phase, submit_scores, submitted_application

pytestmark = pytest.mark.django_db


def _form(**changes):
    now = timezone.localtime()
    data = {
        "name": "1차 선정평가", "name_en": "Selection", "kind": "selection", "teams_to_keep": "5", "pass_threshold": "70",
        "reviewers_per_application": "5", "aggregation_method": "trimmed_mean", "tie_break_keys": "tech",
        "scoring_opens_at": now.strftime("%Y-%m-%dT%H:%M"),
        "scoring_closes_at": (now + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M"),
        "show_comments_to_applicants": "on", "appeal_window_days": "7", "appeal_scope": "",
        "criteria-TOTAL_FORMS": "3", "criteria-INITIAL_FORMS": "0",
        "criteria-0-key": "tech", "criteria-0-name": "기술성", "criteria-0-source": "expert", "criteria-0-max_points": "60",
        "criteria-1-key": "plan", "criteria-1-name": "계획", "criteria-1-source": "expert", "criteria-1-max_points": "40",
        # the blank extra criterion row as a browser sends it (selects and defaults included)
        "criteria-2-key": "", "criteria-2-name": "", "criteria-2-source": "expert", "criteria-2-max_points": "0",
        # the blank extra objective row as a browser sends it: the select's first, empty choice and the default ratio
        "objectives-TOTAL_FORMS": "1", "objectives-INITIAL_FORMS": "0",
        "objectives-0-model_category": "", "objectives-0-benchmark": "", "objectives-0-reference_model": "",
        "objectives-0-reference_score": "", "objectives-0-target_ratio": "0.95",
    }  # fmt: skip
    data.update(changes)
    return data


def _create_url(programme):
    return reverse("evaluations:phase_create") + f"?programme={programme.pk}"


def test_blank_extra_rows_do_not_block_saving(past_deadline_programme, officer, client_for):
    client = client_for(officer)
    page = client.get(_create_url(past_deadline_programme)).content.decode()
    assert '<option value="" selected>—</option>' in page  # the extra objective row starts empty

    response = client.post(_create_url(past_deadline_programme), _form())

    assert response.status_code == 302
    phase = Phase.objects.get(programme=past_deadline_programme)
    assert list(phase.criteria.values_list("key", flat=True)) == ["tech", "plan"]
    assert phase.objectives.count() == 0


def test_errors_are_listed_at_the_top_with_links_to_their_fields(past_deadline_programme, officer, client_for):
    client = client_for(officer)
    data = _form(**{"name": "", "objectives-0-benchmark": "KMMLU"})  # a half-filled objective row

    response = client.post(_create_url(past_deadline_programme), data, HTTP_ACCEPT_LANGUAGE="ko")

    assert response.status_code == 400
    assert not Phase.objects.exists()
    html = response.content.decode()
    summary = html.index('data-testid="form-errors"')
    assert summary < html.index('<form method="post"')  # above the form, not 2,300 px down
    box = html[summary : html.index("</div>", summary)]
    assert "저장하지 않았습니다" in box
    assert 'href="#id_name"' in box
    assert "목표 (벤치마크 기준), 1행" in box  # the objective row's errors, named by section and row


def test_criteria_not_totalling_100_are_refused_at_creation(past_deadline_programme, officer, client_for, api_for):
    client = client_for(officer)

    response = client.post(
        _create_url(past_deadline_programme), _form(**{"criteria-1-max_points": "35"}), HTTP_ACCEPT_LANGUAGE="ko"
    )

    assert response.status_code == 400
    assert not Phase.objects.exists()
    html = response.content.decode()
    assert "100점" in html and "95" in html
    assert html.index("95") < html.index('<form method="post"')

    now = timezone.now()
    api = api_for(officer).post(
        "/api/v1/phases/",
        {
            "programme": past_deadline_programme.id,
            "name": "선정",
            "teams_to_keep": 5,
            "scoring_opens_at": now.isoformat(),
            "scoring_closes_at": (now + timedelta(days=3)).isoformat(),
            "criteria": [
                {"key": "a", "name": "가", "max_points": "60"},
                {"key": "b", "name": "나", "max_points": "35"},
            ],
        },  # fmt: skip
        format="json",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert api.status_code == 400
    assert "add up to 100" in str(api.json())
    assert not Phase.objects.exists()


def test_add_a_row_buttons_work_without_javascript(past_deadline_programme, officer, client_for):
    client = client_for(officer)
    data = _form(**{"objectives-0-model_category": "LLM", "objectives-0-benchmark": "KMMLU"})
    data["add_objectives"] = "1"

    response = client.post(_create_url(past_deadline_programme), data, HTTP_ACCEPT_LANGUAGE="ko")

    assert response.status_code == 200  # the same page again, nothing saved, no error shown yet
    assert not Phase.objects.exists()
    html = response.content.decode()
    assert 'name="objectives-TOTAL_FORMS" value="2"' in html
    assert 'name="objectives-1-benchmark"' in html
    assert 'value="KMMLU"' in html  # what was typed is kept
    assert 'data-testid="form-errors"' not in html and "invalid-feedback" not in html

    data.pop("add_objectives")
    data["add_criteria"] = "1"
    again = client.post(_create_url(past_deadline_programme), data)
    assert 'name="criteria-TOTAL_FORMS" value="4"' in again.content.decode()

    data.pop("add_criteria")
    data.update({
        "objectives-TOTAL_FORMS": "2", "objectives-0-reference_model": "글로벌 모델 A", "objectives-0-reference_score": "80",
        "objectives-1-model_category": "LMM", "objectives-1-benchmark": "K-MMBench",
        "objectives-1-reference_model": "글로벌 모델 B", "objectives-1-reference_score": "70", "objectives-1-target_ratio": "0.9",
        "criteria-TOTAL_FORMS": "3",
    })  # fmt: skip
    saved = client.post(_create_url(past_deadline_programme), data)
    assert saved.status_code == 302
    phase = Phase.objects.get(programme=past_deadline_programme)
    assert sorted(phase.objectives.values_list("benchmark", flat=True)) == ["K-MMBench", "KMMLU"]


@pytest.fixture
def stage_with_team(programme, officer):
    from tests.factories_evaluations import stage_phase

    selection = selection_phase(programme=programme, teams_to_keep=1)
    team = submitted_application(programme=programme, categories=("LLM",))
    for r in reviewers(3):
        submit_scores(assign(selection, team, r), {"technology": 30, "capability": 25, "impact": 20})
    services.phase_finalise(phase=selection, by=officer)
    stage = stage_phase(programme=programme)
    Objective.objects.create(
        phase=stage,
        model_category="LMM",
        benchmark="K-MMBench",
        reference_model="Global-C",
        reference_score=Decimal("70"),
    )
    return stage, team


def test_team_is_asked_only_for_its_categories_objectives(stage_with_team, client_for):
    stage, team = stage_with_team
    client = client_for(team.consortium.lead_contact)
    url = reverse("evaluations:benchmarks", args=[stage.pk, team.pk])

    page = client.get(url, HTTP_ACCEPT_LANGUAGE="ko").content.decode()

    assert "KMMLU" in page and "HAERAE" in page
    assert "K-MMBench" not in page  # an LMM objective, and the team builds an LLM
    assert "미제출" in page
    lmm = stage.objectives.get(benchmark="K-MMBench")
    refused = client.post(url, {"objective": lmm.pk, "score": "60", "evidence": "log"}, HTTP_ACCEPT_LANGUAGE="en")
    assert refused.status_code == 400
    assert "does not target" in refused.content.decode()
    assert not BenchmarkResult.objects.filter(objective=lmm).exists()


def test_missing_benchmark_result_is_shown_as_not_submitted(stage_with_team, officer, client_for):
    stage, team = stage_with_team
    kmmlu = stage.objectives.get(benchmark="KMMLU")
    services.benchmark_result_submit(
        objective=kmmlu, application=team, by=team.consortium.lead_contact, score="78", evidence="log"
    )

    page = client_for(officer).get(reverse("evaluations:phase_ranking", args=[stage.pk]), HTTP_ACCEPT_LANGUAGE="ko")

    html = page.content.decode()
    assert "KMMLU 0.9750" in html
    assert "HAERAE" in html and "0.0000" not in html  # the missing HAERAE result is not a ratio of 0
    cell = html[html.index("HAERAE") : html.index("HAERAE") + 120]
    assert "미제출" in cell and "미달성" not in cell
