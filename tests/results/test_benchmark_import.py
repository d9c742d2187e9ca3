"""Benchmark results imported in the formats teams already produce (issue 21).

Through the team's page and the API: a real lm-evaluation-harness results file and a real
model card's ``model-index`` give the right team scores and ratios, the file is kept with
its SHA-256, and every file that cannot be read (or matches nothing) is refused with a
message and changes nothing.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from evaluations.enums import PhaseStatus
from evaluations.models import BenchmarkResult, Phase
from portal.models import AuditEntry
from results.models import BenchmarkImport, ImportedResult, ObjectiveMapping, ReferenceModel
from tests.results.builders import CARD_FILE, HARNESS_FILE, World

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(programme, officer):
    return World(programme, officer)


@pytest.fixture
def client_for(client_for):
    """Clients that ask for English (the messages are asserted in English; Korean is tested below)."""

    def make(user, **kwargs):
        c = client_for(user, **kwargs)
        c.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
        return c

    return make


@pytest.fixture
def api_for(api_for):
    def make(user):
        c = api_for(user)
        c.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
        return c

    return make


def _media_files() -> set[Path]:
    root = Path(settings.MEDIA_ROOT) / "benchmark-imports"
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def _state():
    return (
        list(BenchmarkResult.objects.order_by("id").values_list("id", "score", "evidence")),
        BenchmarkImport.objects.count(),
        ImportedResult.objects.count(),
        AuditEntry.objects.exclude(action__startswith="auth.").count(),  # a first token use logs in
        _media_files(),
    )


def test_harness_results_file_imports_through_the_team_page(world, client_for):
    team = world.teams[0]
    client = client_for(team.consortium.lead_contact)
    url = reverse("results:import", args=[world.stage.pk, team.pk])
    assert client.get(url).status_code == 200
    data = HARNESS_FILE.read_bytes()
    with HARNESS_FILE.open("rb") as fh:
        response = client.post(url, {"file": fh})
    assert response.status_code == 200
    body = response.content.decode()
    # What it found, what it matched.
    assert "lm-evaluation-harness" in body and "hangang-lab/hangang-13b" in body
    assert "kobest_boolq" in body  # found, not used
    assert "76.8000" in body and "55.8000" in body
    results = {r.objective.benchmark: r for r in BenchmarkResult.objects.filter(application=team)}
    assert str(results["KMMLU"].score) == "76.8000"
    assert str(results["HAERAE"].score) == "55.8000"
    record = BenchmarkImport.objects.get()
    assert record.sha256 == hashlib.sha256(data).hexdigest()
    assert record.format == "lm_eval_harness" and record.model_name == "hangang-lab/hangang-13b"
    with record.file.open("rb") as stored:
        assert stored.read() == data
    assert record.sha256 in results["KMMLU"].evidence
    assert {i.result_id for i in ImportedResult.objects.filter(source=record)} == {r.id for r in results.values()}
    # The ratios: KMMLU 76.8 / 80 = 0.96 (met), HAERAE 55.8 / 60 = 0.93 (not met).
    page = client.get(reverse("evaluations:benchmarks", args=[world.stage.pk, team.pk])).content.decode()
    assert "76.8000 → 0.9600" in page and "55.8000 → 0.9300" in page
    # The stored file is evidence the team and the officer can download, byte for byte.
    download = client.get(reverse("results:import_file", args=[record.pk]))
    assert b"".join(download.streaming_content) == data and download["X-Content-SHA256"] == record.sha256
    officer_download = client_for(world.officer).get(reverse("results:import_file", args=[record.pk]))
    assert officer_download.status_code == 200
    # The officer finds every team's files beside the objective mapping.
    mapping_page = client_for(world.officer).get(reverse("results:mapping", args=[world.stage.pk])).content.decode()
    assert reverse("results:import_detail", args=[record.pk]) in mapping_page and record.sha256[:16] in mapping_page
    other_team = client_for(world.teams[1].consortium.lead_contact)
    assert other_team.get(reverse("results:import_file", args=[record.pk])).status_code == 404
    assert other_team.get(reverse("results:import_detail", args=[record.pk])).status_code == 404


def test_model_card_model_index_imports_through_the_api(world, api_for):
    team = world.teams[1]
    api = api_for(team.consortium.lead_contact)
    data = CARD_FILE.read_bytes()
    with CARD_FILE.open("rb") as fh:
        response = api.post(
            "/api/v1/benchmark-imports/",
            {"phase": world.stage.pk, "application": team.pk, "file": fh},
            format="multipart",
        )
    assert response.status_code == 201, response.content
    report = response.json()
    assert report["format"] == "model_card" and report["model_name"] == "hangang-13b"
    assert report["sha256"] == hashlib.sha256(data).hexdigest()
    assert {(f["task"], f["metric"], f["value"]) for f in report["found"]} == {
        ("HAERAE-HUB/KMMLU", "acc", "77.6"),
        ("HAERAE-HUB/HAE_RAE_BENCH", "acc_norm", "57.0"),
    }
    assert {(m["objective"], m["score"]) for m in report["matched"]} == {
        ("LLM · KMMLU", "77.6000"),
        ("LLM · HAERAE", "57.0000"),
    }
    assert report["missed"] == []
    import os

    assert os.environ["HF_HUB_OFFLINE"] == "1"  # the model card was parsed offline
    # KMMLU 77.6 / 80 = 0.97; HAERAE 57 / 60 = 0.95 exactly, which meets 0.95.
    from evaluations.ranking_snapshot import phase_snapshot

    attainment = {a.benchmark: a for a in phase_snapshot(phase=world.stage).attainment[team.pk]}
    assert (str(attainment["KMMLU"].ratio), attainment["KMMLU"].met) == ("0.9700", True)
    assert (str(attainment["HAERAE"].ratio), attainment["HAERAE"].met) == ("0.9500", True)
    listed = api.get(f"/api/v1/benchmark-imports/?phase={world.stage.pk}").json()
    assert [row["sha256"] for row in listed["results"]] == [report["sha256"]]
    assert api_for(world.teams[0].consortium.lead_contact).get("/api/v1/benchmark-imports/").json()["results"] == []


def test_a_check_only_import_shows_the_matches_and_stores_nothing(world, api_for):
    team = world.teams[0]
    before = _state()
    with HARNESS_FILE.open("rb") as fh:
        response = api_for(team.consortium.lead_contact).post(
            "/api/v1/benchmark-imports/",
            {"phase": world.stage.pk, "application": team.pk, "file": fh, "dry_run": "true"},
            format="multipart",
        )
    assert response.status_code == 200
    assert response.json()["stored"] is False and len(response.json()["matched"]) == 2
    assert _state() == before


def test_an_objective_not_mapped_is_reported_and_the_rest_imported(world, client_for):
    ObjectiveMapping.objects.filter(objective=world.haerae).update(task="", metric="")
    team = world.teams[0]
    with HARNESS_FILE.open("rb") as fh:
        response = client_for(team.consortium.lead_contact).post(
            reverse("results:import", args=[world.stage.pk, team.pk]), {"file": fh}
        )
    assert response.status_code == 200
    assert "has not mapped this objective" in response.content.decode()
    assert list(BenchmarkResult.objects.filter(application=team).values_list("objective__benchmark", flat=True)) == [
        "KMMLU"
    ]


BAD_FILES = [
    ("results.json", b'{"results": {"kmmlu": {"acc,none": 0.7,}}}', "is not valid JSON (line 1, column"),
    ("results.json", json.dumps({"config": {"model": "hf"}, "versions": {}}).encode(), "has no “results” object"),
    ("results.json", json.dumps({"results": {"kmmlu": [0.7]}}).encode(), "is not an object of metrics"),
    ("results.json", json.dumps({"results": {"kmmlu": {"alias": "kmmlu"}}}).encode(), "holds no numeric metric"),
    ("README.md", b"# hangang-13b\n\nNo metadata here.\n", "has no YAML metadata block"),
    ("README.md", b"---\nmodel-index: [\n---\n# x\n", "YAML metadata cannot be read"),
    (
        "README.md",
        b"---\nmodel-index:\n- name: m\n  results:\n  - task:\n      type: text-generation\n    metrics:\n"
        b"    - type: acc\n      value: 70\n---\n",
        "“model-index” cannot be read",
    ),
    ("README.md", b"---\nlicense: mit\n---\n# m\n", "has no “model-index” results"),
    ("scores.bin", b"\xff\xfe\x00\x01binary", "is not UTF-8 text"),
    ("notes.txt", b"KMMLU 77.6\n", "neither an lm-evaluation-harness results JSON"),
    ("empty.json", b"", "The file is empty"),
    (
        "other.json",
        json.dumps({"results": {"arc_easy": {"acc,none": 0.8}}, "versions": {"arc_easy": 1}}).encode(),
        "None of the results in “other.json” matches an objective of this phase",
    ),
]


@pytest.mark.parametrize(("name", "content", "message"), BAD_FILES, ids=[m for _n, _c, m in BAD_FILES])
def test_unreadable_files_are_refused_with_a_message_and_change_nothing(
    world, client_for, api_for, name, content, message
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    team = world.teams[0]
    client = client_for(team.consortium.lead_contact)
    # A result typed in earlier stays exactly as it was.
    client.post(
        reverse("evaluations:benchmarks", args=[world.stage.pk, team.pk]),
        {"objective": world.kmmlu.pk, "score": "70", "evidence": "run log"},
    )
    before = _state()
    page = client.post(
        reverse("results:import", args=[world.stage.pk, team.pk]), {"file": SimpleUploadedFile(name, content)}
    )
    assert page.status_code == 400
    assert message in page.content.decode()
    api = api_for(team.consortium.lead_contact)
    response = api.post(
        "/api/v1/benchmark-imports/",
        {"phase": world.stage.pk, "application": team.pk, "file": SimpleUploadedFile(name, content)},
        format="multipart",
    )
    assert response.status_code == 400, response.content
    detail = response.json()["detail"]
    assert message in detail and ("Nothing was stored" in detail or "nothing was stored" in detail)
    assert _state() == before


def test_refusals_are_told_in_korean_by_default(world, client_for):
    from django.core.files.uploadedfile import SimpleUploadedFile

    team = world.teams[0]
    client = client_for(team.consortium.lead_contact)
    del client.defaults["HTTP_ACCEPT_LANGUAGE"]
    page = client.post(
        reverse("results:import", args=[world.stage.pk, team.pk]),
        {"file": SimpleUploadedFile("results.json", b'{"config": {}}')},
    )
    assert page.status_code == 400
    assert "JSON에 “results” 객체가 없습니다" in page.content.decode()
    assert "아무것도 저장되지 않았습니다" in page.content.decode()


def test_a_file_over_the_limit_is_refused_413(world, api_for, settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.BENCHMARK_IMPORT_MAX_MB = 1
    team = world.teams[0]
    before = _state()
    big = b'{"results": {"kmmlu": {"acc,none": 0.7}}, "pad": "' + b"x" * (1024 * 1024) + b'"}'
    response = api_for(team.consortium.lead_contact).post(
        "/api/v1/benchmark-imports/",
        {"phase": world.stage.pk, "application": team.pk, "file": SimpleUploadedFile("results.json", big)},
        format="multipart",
    )
    assert response.status_code == 413
    assert "larger than the limit of 1 MB" in response.json()["detail"]
    assert _state() == before


def test_import_after_the_close_is_refused_and_results_stay_frozen(world, client_for, api_for):
    team = world.teams[0]
    Phase.objects.filter(pk=world.stage.pk).update(scoring_closes_at=timezone.now() - timedelta(minutes=1))
    before = _state()
    with HARNESS_FILE.open("rb") as fh:
        page = client_for(team.consortium.lead_contact).post(
            reverse("results:import", args=[world.stage.pk, team.pk]), {"file": fh}
        )
    assert page.status_code == 409 and "frozen at the close of the phase" in page.content.decode()
    with HARNESS_FILE.open("rb") as fh:
        response = api_for(team.consortium.lead_contact).post(
            "/api/v1/benchmark-imports/",
            {"phase": world.stage.pk, "application": team.pk, "file": fh},
            format="multipart",
        )
    assert response.status_code == 409 and response.json()["code"] == "frozen"
    assert _state() == before


def test_only_the_team_itself_imports(world, client_for, api_for, officer):
    team = world.teams[0]
    stranger = world.teams[1].consortium.lead_contact
    url = reverse("results:import", args=[world.stage.pk, team.pk])
    assert client_for(stranger).get(url).status_code == 404
    assert client_for(officer).get(url).status_code == 404
    with HARNESS_FILE.open("rb") as fh:
        response = api_for(stranger).post(
            "/api/v1/benchmark-imports/",
            {"phase": world.stage.pk, "application": team.pk, "file": fh},
            format="multipart",
        )
    assert response.status_code == 404
    assert BenchmarkImport.objects.count() == 0


# --------------------------------------------------------------------------- mapping and reference models


def test_officer_maps_objectives_through_page_and_api_until_the_phase_closes(world, client_for, api_for, officer):
    api = api_for(officer)
    url = f"/api/v1/phases/{world.stage.pk}/objective-mapping/"
    rows = api.get(url).json()["mappings"]
    assert [(r["benchmark"], r["task"], r["metric"], r["harness_scale"]) for r in rows] == [
        ("KMMLU", "kmmlu", "acc,none", "100.0000"),
        ("HAERAE", "haerae", "acc_norm", "100.0000"),
    ]
    payload = {"mappings": [{"objective": world.kmmlu.pk, "task": "kmmlu_direct", "metric": "exact_match,none"}]}
    assert api.put(url, payload, format="json").status_code == 200
    assert ObjectiveMapping.objects.get(objective=world.kmmlu).task == "kmmlu_direct"
    bad = api.put(url, {"mappings": [{"objective": world.kmmlu.pk, "task": "kmmlu", "metric": ""}]}, format="json")
    assert bad.status_code == 400 and "needs both a task and a metric" in bad.json()["detail"]
    assert ObjectiveMapping.objects.get(objective=world.kmmlu).task == "kmmlu_direct"
    # The page: the form shows each objective and saves.
    client = client_for(officer)
    page_url = reverse("results:mapping", args=[world.stage.pk])
    assert "kmmlu_direct" in client.get(page_url).content.decode()
    form = {
        "mapping-TOTAL_FORMS": "2", "mapping-INITIAL_FORMS": "2",
        "mapping-0-objective": world.kmmlu.pk, "mapping-0-task": "kmmlu", "mapping-0-metric": "acc",
        "mapping-0-harness_scale": "100", "mapping-0-card_scale": "1",
        "mapping-1-objective": world.haerae.pk, "mapping-1-task": "haerae", "mapping-1-metric": "acc_norm,none",
        "mapping-1-harness_scale": "100", "mapping-1-card_scale": "1",
    }  # fmt: skip
    assert client.post(page_url, form).status_code == 302
    assert ObjectiveMapping.objects.get(objective=world.kmmlu).metric == "acc"
    assert api_for(world.teams[0].consortium.lead_contact).get(url).status_code == 404
    Phase.objects.filter(pk=world.stage.pk).update(scoring_closes_at=timezone.now() - timedelta(seconds=1))
    refused = api.put(url, payload, format="json")
    assert refused.status_code == 409 and "frozen with the phase" in refused.json()["detail"]
    assert client.post(page_url, form).status_code == 409
    assert ObjectiveMapping.objects.get(objective=world.kmmlu).metric == "acc"


def test_reference_models_are_kept_per_phase_and_frozen_with_it(world, api_for, client_for, officer):
    api = api_for(officer)
    created = api.post(
        "/api/v1/reference-models/",
        {
            "phase": world.stage.pk,
            "name": "Global-A",
            "version": "2026-06",
            "source_url": "https://leaderboard.example.org/ko-llm",
            "scores": [{"objective": world.kmmlu.pk, "score": "80"}, {"objective": world.haerae.pk, "score": "58.5"}],
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    ref_id = created.json()["id"]
    # The objective compares against Global-A at 80: another number for it is refused.
    clash = api.patch(
        f"/api/v1/reference-models/{ref_id}/",
        {"scores": [{"objective": world.kmmlu.pk, "score": "81"}]},
        format="json",
    )
    assert clash.status_code == 400 and "must be the same number" in clash.json()["detail"]
    no_version = api.post(
        "/api/v1/reference-models/",
        {"phase": world.stage.pk, "name": "Global-C", "source_url": "https://x.example.org/",
         "scores": [{"objective": world.kmmlu.pk, "score": "70"}]},
        format="json",
    )  # fmt: skip
    assert no_version.status_code == 400 and "version or its release date" in no_version.json()["detail"]
    page = client_for(officer).get(reverse("results:reference_models", args=[world.stage.pk]))
    assert page.status_code == 200 and "Global-A" in page.content.decode()
    form = {
        "name": "Global-B", "released_on": "2026-05-20", "source_url": "https://papers.example.org/global-b",
        f"score_{world.haerae.pk}": "60",
    }  # fmt: skip
    assert client_for(officer).post(reverse("results:reference_models", args=[world.stage.pk]), form).status_code == 302
    assert ReferenceModel.objects.filter(phase=world.stage).count() == 2
    assert api_for(world.teams[0].consortium.lead_contact).get(f"/api/v1/reference-models/{ref_id}/").status_code == 404
    Phase.objects.filter(pk=world.stage.pk).update(status=PhaseStatus.FINALISED)
    refused = api.patch(f"/api/v1/reference-models/{ref_id}/", {"name": "Global-A2"}, format="json")
    assert refused.status_code == 409 and "frozen with the phase" in refused.json()["detail"]
    assert api.delete(f"/api/v1/reference-models/{ref_id}/").status_code == 409
    assert ReferenceModel.objects.get(pk=ref_id).name == "Global-A"
