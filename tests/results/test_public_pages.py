"""The public results pages and the open data (issue 21), read as an anonymous citizen.

A programme with a published selection (one applicant not selected), a published stage
evaluation whose teams imported a harness results file, a model card and a typed-in result,
and a later stage that is finalised but not published. The pages and every export are
searched for the name, login and e-mail of every reviewer and contact, every comment and
gate reason, the receipt numbers and the unselected applicant's name: none may appear;
the unpublished phase and its numbers neither.
"""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

import jsonschema
import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from evaluations import services as evaluation_services
from evaluations.models import PhaseResult
from results.charts import attainment_svg
from results.selectors import PublicAttainment
from tests.results.builders import CARD_FILE, HARNESS_FILE, NOT_SELECTED_NAME, SELECTED_NAMES, World, import_file

pytestmark = pytest.mark.django_db


def _client(lang: str) -> Client:
    c = Client()
    c.cookies["django_language"] = lang
    return c


def published_world(programme, officer, *, unpublished_stage=True) -> World:
    world = World(programme, officer)
    world.add_references()
    a, b, c = world.teams
    import_file(phase=world.stage, application=a, path=HARNESS_FILE)  # 76.8 / 55.8
    import_file(phase=world.stage, application=b, path=CARD_FILE)  # 77.6 / 57.0
    evaluation_services.benchmark_result_submit(
        objective=world.kmmlu, application=c, by=c.consortium.lead_contact, score="64", evidence="run log"
    )
    world.published_stage = world.stage
    world.finish_stage()
    if unpublished_stage:
        stage3 = world.next_stage()
        stage3.name = "3차 단계평가 미공개"
        stage3.name_en = "Third stage unpublished"
        stage3.save(update_fields=["name", "name_en"])
        for team in world.teams:
            evaluation_services.benchmark_result_submit(
                objective=world.kmmlu, application=team, by=team.consortium.lead_contact, score="71.2345",
                evidence="run log",
            )  # fmt: skip
        world.finish_stage(expert=("33.3", "29.1"), panel=("23.45", "19.5"), publish=False)
    return world


def public_urls(world) -> list[str]:
    p = world.programme.pk
    return [
        reverse("results:public_index"),
        reverse("results:public_programme", args=[p]),
        reverse("results:public_phase", args=[p, world.selection.pk]),
        reverse("results:public_phase", args=[p, world.published_stage.pk]),
        reverse("results:public_export", args=[p, "results.csv"]),
        reverse("results:public_export", args=[p, "attainment.csv"]),
        reverse("results:public_export", args=[p, "results.json"]),
        reverse("results:public_schema"),
        reverse("results:public_verify"),
    ]


def test_public_pages_show_published_results_and_nothing_sealed_or_personal(programme, officer):
    world = published_world(programme, officer)
    unpublished = world.stage
    secret_scores = {str(r.score) for r in PhaseResult.objects.filter(phase=unpublished)}
    public_scores = {str(r.score) for r in PhaseResult.objects.exclude(phase=unpublished)}
    secret_scores -= public_scores
    assert secret_scores  # the unpublished phase has numbers of its own
    assert len(world.private) > 30
    for lang in ("ko", "en"):
        client = _client(lang)
        for url in public_urls(world):
            response = client.get(url)
            assert response.status_code == 200, url
            body = b"".join(response.streaming_content) if response.streaming else response.content
            text = body.decode("utf-8-sig")
            leaked = [marker for marker in world.private if marker in text]
            assert not leaked, (url, lang, leaked)
            assert unpublished.name not in text and unpublished.name_en not in text
            assert not [s for s in secret_scores if s in text], (url, secret_scores)
            assert "71.2345" not in text
    # The unpublished phase has no page of its own either.
    phase_url = reverse("results:public_phase", args=[programme.pk, unpublished.pk])
    assert _client("ko").get(phase_url).status_code == 404


def test_published_phases_show_rank_score_decision_teams_and_the_attainment_chart(programme, officer):
    world = published_world(programme, officer, unpublished_stage=False)
    client = _client("ko")
    page = client.get(reverse("results:public_programme", args=[programme.pk])).content.decode()
    for name in SELECTED_NAMES:
        assert name in page
    assert NOT_SELECTED_NAME not in page
    assert "선정 및 활동 팀" in page and "공공데이터" in page  # Korean renders
    assert reverse("results:public_export", args=[programme.pk, "results.json"]) in page
    assert reverse("results:public_verify") in page
    selection = client.get(reverse("results:public_phase", args=[programme.pk, world.selection.pk])).content.decode()
    for r in PhaseResult.objects.filter(phase=world.selection):
        assert f">{r.score}<" in selection
    assert "이름을 밝히지 않은 신청자" in selection  # the unselected applicant, not named
    assert "예비 1순위" in selection  # a passing applicant not selected: on the reserve list
    stage = client.get(reverse("results:public_phase", args=[programme.pk, world.published_stage.pk])).content.decode()
    rows = list(PhaseResult.objects.filter(phase=world.published_stage).select_related("application__consortium"))
    for r in rows:
        assert r.application.consortium.name in stage and f">{r.score}<" in stage
    assert stage.count('data-testid="attainment-chart"') == 3
    assert stage.count('role="img"') == 3
    # Ratios: the harness team 0.96 / 0.93, the model-card team 0.97 / 0.95, the typed-in team 0.80 / none.
    for ratio in ("96.0 %", "93.0 %", "97.0 %", "95.0 %", "80.0 %"):
        assert ratio in stage
    assert "목표 95.0 %" in stage  # the 95 % line is labelled
    assert "Global-A" in stage and "https://papers.example.org/global-b" in stage and "2026-05-20" in stage
    english = _client("en").get(reverse("results:public_phase", args=[programme.pk, world.published_stage.pk]))
    assert "Benchmark attainment against the reference models" in english.content.decode()


def test_a_phase_appears_only_once_published(programme, officer):
    world = World(programme, officer)
    import_file(phase=world.stage, application=world.teams[0], path=HARNESS_FILE)
    url = reverse("results:public_programme", args=[programme.pk])
    client = _client("en")
    assert world.stage.name not in client.get(url).content.decode()  # cached now
    world.finish_stage(publish=False)
    finalised = client.get(url).content.decode()
    assert world.stage.name not in finalised
    assert client.get(reverse("results:public_phase", args=[programme.pk, world.stage.pk])).status_code == 404
    data = client.get(reverse("results:public_export", args=[programme.pk, "results.json"])).json()
    assert [p["id"] for p in data["phases"]] == [world.selection.pk]
    evaluation_services.phase_publish(phase=world.stage, by=officer)
    published = client.get(url).content.decode()  # a new publication makes a new cache key
    assert world.stage.name in published
    data = client.get(reverse("results:public_export", args=[programme.pk, "results.json"])).json()
    assert [p["id"] for p in data["phases"]] == [world.selection.pk, world.stage.pk]


def test_open_data_follows_its_json_schema_and_says_what_the_pages_say(programme, officer):
    published_world(programme, officer, unpublished_stage=False)
    client = _client("ko")
    data = client.get(reverse("results:public_export", args=[programme.pk, "results.json"])).json()
    schema = json.loads(client.get(reverse("results:public_schema")).content)
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(data, schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    selection, stage = data["phases"]
    assert [r["team"] is None for r in selection["results"]] == [False, False, False, True]
    by_team = {r["team"]["name"]: r for r in stage["results"]}
    harness = {
        a["benchmark"]: (a["team_score"], a["ratio"], a["met"]) for a in by_team[SELECTED_NAMES[0]]["attainment"]
    }
    assert harness == {"KMMLU": ("76.8000", "0.9600", True), "HAERAE": ("55.8000", "0.9300", False)}
    card = {a["benchmark"]: (a["ratio"], a["met"]) for a in by_team[SELECTED_NAMES[1]]["attainment"]}
    assert card == {"KMMLU": ("0.9700", True), "HAERAE": ("0.9500", True)}
    assert {r["name"] for r in stage["reference_models"]} == {"Global-A", "Global-B"}
    response = client.get(reverse("results:public_export", args=[programme.pk, "results.csv"]))
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert response["Content-Type"].startswith("text/csv") and len(rows) == 4 + 3
    stage_rows = {r["team"]: r for r in rows if r["phase_order"] == "2"}
    for r in stage["results"]:
        assert stage_rows[r["team"]["name"]]["score"] == r["score"]
        assert stage_rows[r["team"]["name"]]["decision"] == r["decision"]
    assert [r["team"] for r in rows if r["phase_order"] == "1"][-1] == ""  # not named
    attainment = list(csv.DictReader(io.StringIO(client.get(
        reverse("results:public_export", args=[programme.pk, "attainment.csv"])).content.decode("utf-8-sig"))))  # fmt: skip
    assert len(attainment) == 6
    assert {(r["team"], r["benchmark"], r["ratio"]) for r in attainment} >= {
        (SELECTED_NAMES[0], "KMMLU", "0.9600"),
        (SELECTED_NAMES[1], "HAERAE", "0.9500"),
    }


def _queries(url: str) -> int:
    cache.clear()
    with CaptureQueriesContext(connection) as ctx:
        assert Client().get(url).status_code == 200
    return len(ctx.captured_queries)


def test_public_pages_cost_the_same_queries_for_few_and_many_applicants(officer):
    from tests.factories import ProgrammeFactory

    small = World(ProgrammeFactory(), officer, teams=2, not_selected=1)
    large = World(ProgrammeFactory(), officer, teams=5, not_selected=12)
    for world in (small, large):
        world.finish_stage()
    for name, args in (
        ("results:public_programme", lambda w: [w.programme.pk]),
        ("results:public_phase", lambda w: [w.programme.pk, w.stage.pk]),
        ("results:public_export", lambda w: [w.programme.pk, "results.json"]),
    ):
        few, many = _queries(reverse(name, args=args(small))), _queries(reverse(name, args=args(large)))
        assert few == many, (name, few, many)
        assert few <= 10, (name, few)
    # A second look is answered from the cache with fewer queries.
    url = reverse("results:public_programme", args=[large.programme.pk])
    cold = _queries(url)
    with CaptureQueriesContext(connection) as ctx:
        Client().get(url)
    assert len(ctx.captured_queries) < cold


def test_verification_page_is_reached_from_the_public_pages():
    client = Client()
    # Every page's footer, the log-in page's too, leads a citizen to the public results.
    assert f'href="{reverse("results:public_index")}"' in client.get(reverse("account_login")).content.decode()
    response = client.get(reverse("results:public_verify"), {"code": "AB12-CD34"})
    assert response.status_code == 302 and response["Location"] == reverse("verify:notice", args=["AB12-CD34"])
    bad = client.get(reverse("results:public_verify"), {"code": "<script>"})
    assert bad.status_code == 400 and "<script>" not in bad.content.decode().split("<main", 1)[1].split("value=")[0]


def test_the_chart_draws_each_ratio_and_the_target_line():
    rows = [
        PublicAttainment("LLM", "KMMLU", "Global-A", Decimal("80"), Decimal("0.95"), Decimal("76.8"), Decimal("0.96"), True),
        PublicAttainment("LLM", "HAE<RAE>", "Global-B", Decimal("60"), Decimal("0.95"), None, Decimal("0"), False),
    ]  # fmt: skip
    with translation.override("en"):
        svg = str(attainment_svg(rows, chart_id="c1", title="Team <A>"))
    assert svg.startswith("<svg") and 'role="img"' in svg and 'aria-labelledby="c1-title c1-desc"' in svg
    assert '<title id="c1-title">Team &lt;A&gt;</title>' in svg and "HAE&lt;RAE&gt;" in svg
    assert "96.0 %" in svg and "not submitted" in svg and svg.count('stroke-dasharray="5 4"') == 1


def test_public_pages_answer_with_redis_unreachable(programme, officer, settings):
    """The cache fails open: with Redis gone the data is computed and the page still answers."""
    world = World(programme, officer)
    world.finish_stage()
    settings.CACHES = {"default": {"BACKEND": "portal.cache.FailOpenRedisCache", "LOCATION": "redis://127.0.0.1:1/0"}}
    response = _client("ko").get(reverse("results:public_phase", args=[programme.pk, world.stage.pk]))
    assert response.status_code == 200 and SELECTED_NAMES[0] in response.content.decode()


def test_a_phase_page_shows_its_results_a_page_at_a_time_and_the_open_data_keeps_every_row(officer, monkeypatch):
    """What one request reads and sends does not grow with the number of applicants (SPEC §10):
    the selection's 17 results come 5 to a page, in rank order; the programme page counts all
    of them, the open data lists all of them, and each page costs the same queries."""
    import results.selectors
    from tests.factories import ProgrammeFactory

    monkeypatch.setattr(results.selectors, "PHASE_PAGE_SIZE", 5)
    small = World(ProgrammeFactory(), officer, teams=2, not_selected=1)
    world = World(ProgrammeFactory(), officer, teams=5, not_selected=12)
    url = reverse("results:public_phase", args=[world.programme.pk, world.selection.pk])
    cache.clear()
    client = _client("en")

    first = client.get(url).content.decode()
    assert "1 / 4" in first
    rows = [r for r in PhaseResult.objects.filter(phase=world.selection).order_by("rank", "application_id")]
    body = first.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    assert body.count("<tr>") == 5
    assert all(f'<td class="num">{r.rank}</td>' in body for r in rows[:5])
    last = client.get(url, {"page": 4}).content.decode().split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    assert last.count("<tr>") == 2 and all(f'<td class="num">{r.rank}</td>' in last for r in rows[15:])
    # An unknown page number shows the last page rather than an error.
    assert client.get(url, {"page": 99}).status_code == 200
    programme_page = client.get(reverse("results:public_programme", args=[world.programme.pk])).content.decode()
    assert "17 applications" in programme_page
    exported = client.get(reverse("results:public_export", args=[world.programme.pk, "results.csv"]))
    lines = list(csv.reader(io.StringIO(b"".join(exported.streaming_content if exported.streaming else [exported.content]).decode("utf-8-sig"))))  # fmt: skip
    assert sum(1 for line in lines[1:] if line[3] == str(world.selection.order)) == 17
    small_url = reverse("results:public_phase", args=[small.programme.pk, small.selection.pk])
    assert _queries(small_url) == _queries(url)
