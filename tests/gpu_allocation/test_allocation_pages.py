"""Allocation pages: the GPU pool (list, add, edit), runs (start, list, detail with progress, chart,
table, explanations, change against the approved allocation, approval), 404s, query budgets."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from gpu_allocation.enums import RunStatus
from gpu_allocation.models import AllocationRun, GpuCluster
from gpu_allocation.services import allocation_run_approve, allocation_run_execute, allocation_run_start
from portal.models import AuditEntry
from tests.factories import UserFactory
from tests.factories_allocation import GpuClusterFactory, allocation_setup, request_changed, stage_phase_eliminating

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english():
    """Messages in English, as the assertions are written (Korean is the portal's default)."""
    from django.utils import translation

    with translation.override("en"):
        yield


def executed_run(setup, officer) -> AllocationRun:
    run = allocation_run_start(programme=setup.programme, by=officer, enqueue=False)
    return allocation_run_execute(run_id=run.pk, sleep=lambda s: None)


def cluster_post(**overrides) -> dict:
    today = timezone.localdate()
    data = {
        "name": "AI-HUB-C",
        "gpu_model": "B200",
        "nodes": "16",
        "gpus_per_node": "8",
        "equivalence": "2.00",
        "period_start": str(today),
        "period_end": str(today + timedelta(days=180)),
        "is_active": "on",
    }
    data.update(overrides)
    return data


def test_pool_page_lists_clusters_with_capacity(client_for, officer):
    setup = allocation_setup()
    response = client_for(officer).get(f"/allocation/pool/?programme={setup.programme.pk}")
    assert response.status_code == 200
    text = response.content.decode()
    assert "AI-HUB-A" in text and "AI-HUB-B" in text
    assert ">512<" in text and ">256<" in text and ">768<" in text


def test_an_officer_adds_and_edits_a_cluster(client_for, officer, programme):
    c = client_for(officer)
    response = c.post(f"/allocation/pool/new/?programme={programme.pk}", cluster_post())
    assert response.status_code == 302
    cluster = GpuCluster.objects.get(programme=programme, name="AI-HUB-C")
    assert (cluster.capacity, str(cluster.equivalence)) == (128, "2.00")
    response = c.post(f"/allocation/pool/{cluster.pk}/edit/", cluster_post(nodes="20"))
    assert response.status_code == 302
    cluster.refresh_from_db()
    assert cluster.capacity == 160
    assert list(
        AuditEntry.objects.filter(object_id=str(cluster.pk), object_type="gpu_allocation.gpucluster").values_list(
            "action", flat=True
        )
    ) == [
        "gpu_cluster.create",
        "gpu_cluster.update",
    ]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [({"nodes": "0"}, "nodes"), ({"period_end": "2000-01-01"}, "period_end"), ({"equivalence": "abc"}, "equivalence")],
)
def test_bad_cluster_input_is_a_400_and_changes_nothing(client_for, officer, programme, overrides, field):
    response = client_for(officer).post(f"/allocation/pool/new/?programme={programme.pk}", cluster_post(**overrides))
    assert response.status_code == 400
    assert list(response.context["form"].errors) == [field]
    assert f'id="error_1_id_{field}"' in response.content.decode()
    assert GpuCluster.objects.count() == 0


def test_a_duplicate_cluster_name_in_a_period_is_a_400(client_for, officer, programme):
    existing = GpuClusterFactory(programme=programme, name="AI-HUB-C")
    response = client_for(officer).post(
        f"/allocation/pool/new/?programme={programme.pk}", cluster_post(period_start=str(existing.period_start))
    )
    assert response.status_code == 400
    assert GpuCluster.objects.count() == 1


def test_shrinking_a_cluster_under_the_approved_allocation_is_a_409(client_for, officer):
    setup = allocation_setup()
    allocation_run_approve(run=executed_run(setup, officer), by=officer)
    cluster = setup.clusters[1]
    data = cluster_post(name=cluster.name, gpu_model=cluster.gpu_model, nodes="1", equivalence="1.2",
                        period_start=str(cluster.period_start), period_end=str(cluster.period_end))  # fmt: skip
    response = client_for(officer).post(f"/allocation/pool/{cluster.pk}/edit/", data)
    assert response.status_code == 409
    assert "노드 수를 줄이거나 풀에서 뺄 수 없습니다" in response.content.decode()  # Korean, the default language
    cluster.refresh_from_db()
    assert cluster.nodes == 32


def test_starting_a_run_from_the_page_redirects_to_its_progress(client_for, officer):
    setup = allocation_setup()
    c = client_for(officer)
    response = c.post(f"/allocation/programmes/{setup.programme.pk}/runs/start/")
    run = AllocationRun.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/allocation/runs/{run.pk}/"
    page = c.get(response["Location"]).content.decode()
    assert f'hx-get="/allocation/runs/{run.pk}/progress/"' in page
    assert 'hx-trigger="every 1s"' in page
    assert 'aria-valuenow="0"' in page
    again = c.post(f"/allocation/programmes/{setup.programme.pk}/runs/start/", follow=True)
    assert f"이미 대기 중이거나 진행 중입니다(실행 #{run.pk}, 대기 중)" in again.content.decode()
    assert AllocationRun.objects.count() == 1


def test_the_progress_fragment_reports_progress_and_reloads_when_final(client_for, officer):
    setup = allocation_setup()
    run = allocation_run_start(programme=setup.programme, by=officer, enqueue=False)
    AllocationRun.objects.filter(pk=run.pk).update(
        status=RunStatus.RUNNING, progress=55, progress_message="Sharing GPUs and budgets"
    )
    c = client_for(officer)
    fragment = c.get(f"/allocation/runs/{run.pk}/progress/", HTTP_HX_REQUEST="true")
    assert 'aria-valuenow="55"' in fragment.content.decode()
    assert "HX-Refresh" not in fragment
    AllocationRun.objects.filter(pk=run.pk).update(status=RunStatus.QUEUED, progress=0)
    allocation_run_execute(run_id=run.pk, sleep=lambda s: None)
    final = c.get(f"/allocation/runs/{run.pk}/progress/", HTTP_HX_REQUEST="true")
    assert final["HX-Refresh"] == "true"
    assert "hx-trigger" not in final.content.decode()


def test_run_detail_shows_table_chart_budgets_and_explanations(client_for, officer):
    setup = allocation_setup()
    run = executed_run(setup, officer)
    response = client_for(officer).get(f"/allocation/runs/{run.pk}/")
    text = response.content.decode()
    chart = json.loads(response.context["chart"])
    assert chart["type"] == "bar" and chart["options"]["scales"]["x"]["stacked"] is True
    assert [d["label"] for d in chart["data"]["datasets"]] == ["AI-HUB-A (H100)", "AI-HUB-B (H200)"]
    allocations = response.context["allocations"]
    assert [sum(d["data"][i] for d in chart["data"]["datasets"]) for i in range(5)] == [
        a.total_gpus for a in allocations
    ]
    assert "data-chart=" in text and "chart.umd.min.js" in text
    assert allocations[0].explanation_ko in text  # Korean is the default language
    assert f"{allocations[0].budget:,}원" in text
    assert 'data-testid="approve"' in text
    assert "There is no earlier approved allocation to compare with." in text or "비교할" in text


def test_run_detail_in_english_shows_the_english_explanation(client_for, officer):
    setup = allocation_setup()
    run = executed_run(setup, officer)
    c = client_for(officer)
    c.post("/i18n/setlang/", {"language": "en", "next": "/"})
    text = c.get(f"/allocation/runs/{run.pk}/").content.decode()
    first = run.allocations.order_by("rank").first()
    assert first.explanation_en in text


def test_a_failed_run_shows_the_clear_explanation(client_for, officer):
    setup = allocation_setup(budget_envelope=12_000_000_000)
    run = executed_run(setup, officer)
    text = client_for(officer).get(f"/allocation/runs/{run.pk}/").content.decode()
    assert 'data-testid="run-error"' in text
    assert run.result["error"]["ko"] in text


def test_approve_from_the_page_and_the_change_after_an_elimination(client_for, officer):
    setup = allocation_setup()
    first = executed_run(setup, officer)
    c = client_for(officer)
    response = c.post(f"/allocation/runs/{first.pk}/approve/", {"reason": "1차 배분", "confirm": "yes"})
    assert response.status_code == 302
    first.refresh_from_db()
    assert first.approved_by == officer
    stage_phase_eliminating(setup, eliminated=1)
    second = executed_run(setup, officer)
    response = c.get(f"/allocation/runs/{second.pk}/")
    diff = response.context["diff"]
    assert diff.baseline == first
    eliminated = setup.applications[-1].consortium
    rows = {row.consortium_id: row for row in diff.rows}
    assert rows[eliminated.pk].gpus_after is None and rows[eliminated.pk].gpus_before > 0
    kept = rows[setup.applications[0].consortium_id]
    assert kept.gpus_before is not None and kept.gpus_after is not None
    assert 'data-testid="diff-table"' in response.content.decode()


@pytest.mark.parametrize("role", ["applicant", "reviewer"])
def test_pages_are_404_for_everyone_but_officers(client_for, officer, role):
    setup = allocation_setup()
    run = executed_run(setup, officer)
    c = client_for(UserFactory(role=role))
    for url in ["/allocation/pool/", "/allocation/runs/", f"/allocation/runs/{run.pk}/", f"/allocation/runs/{run.pk}/progress/",
                f"/allocation/pool/{setup.clusters[0].pk}/edit/"]:  # fmt: skip
        assert c.get(url).status_code == 404, url
    assert c.post(f"/allocation/runs/{run.pk}/approve/").status_code == 404
    assert c.post(f"/allocation/programmes/{setup.programme.pk}/runs/start/").status_code == 404
    run.refresh_from_db()
    assert run.approved_at is None and AllocationRun.objects.count() == 1


def test_anonymous_users_are_sent_to_log_in(client):
    response = client.get("/allocation/runs/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.parametrize("n", [3, 30])
def test_lists_cost_a_constant_number_of_queries(client_for, officer, django_assert_max_num_queries, n):
    setup = allocation_setup()
    for i in range(n):
        GpuClusterFactory(programme=setup.programme, name=f"EXTRA-{i}", is_active=False)
        AllocationRun.objects.create(
            programme=setup.programme, status=RunStatus.FAILED, inputs={}, inputs_sha256=f"{i:064d}", created_by=officer
        )
    c = client_for(officer)
    with django_assert_max_num_queries(12):
        assert c.get(f"/allocation/runs/?programme={setup.programme.pk}").status_code == 200
    with django_assert_max_num_queries(12):
        assert c.get(f"/allocation/pool/?programme={setup.programme.pk}").status_code == 200


@pytest.mark.parametrize("teams", [2, 5])
def test_run_detail_costs_a_constant_number_of_queries(client_for, officer, django_assert_max_num_queries, teams):
    from tests.factories_allocation import DEFAULT_TEAMS

    setup = allocation_setup(teams=DEFAULT_TEAMS[:teams])
    first = executed_run(setup, officer)
    allocation_run_approve(run=first, by=officer)
    request_changed(setup.applications[0], requested_gpus=256)
    second = executed_run(setup, officer)
    c = client_for(officer)
    with django_assert_max_num_queries(16):
        assert c.get(f"/allocation/runs/{second.pk}/").status_code == 200


def test_pages_show_one_programme_at_a_time_with_a_switch(client_for, officer):
    first = allocation_setup()
    second = allocation_setup()
    run = executed_run(first, officer)
    c = client_for(officer)
    other = c.get(f"/allocation/runs/?programme={second.programme.pk}")
    assert list(other.context["page"]) == []
    assert 'data-testid="programme-switch"' in other.content.decode()
    mine = c.get(f"/allocation/runs/?programme={first.programme.pk}")
    assert list(mine.context["page"]) == [run]
    assert c.get("/allocation/runs/?programme=999999").status_code == 404
    pool = c.get(f"/allocation/pool/?programme={second.programme.pk}")
    assert [cl.pk for cl in pool.context["clusters"]] == sorted(cl.pk for cl in second.clusters)
    assert pool.context["totals"] == {"nodes": 96, "gpus": 768, "equivalents": Decimal("819.20")}


def test_the_django_admin_shows_runs_read_only(client_for, officer, admin_user):
    setup = allocation_setup()
    run = executed_run(setup, officer)
    c = client_for(admin_user)
    assert c.get("/admin/gpu_allocation/allocationrun/").status_code == 200
    assert c.get("/admin/gpu_allocation/gpucluster/").status_code == 200
    allocation = run.allocations.order_by("rank").first()
    page = c.get(f"/admin/gpu_allocation/allocation/{allocation.pk}/change/")
    assert page.status_code == 200
    assert c.post(f"/admin/gpu_allocation/allocationrun/{run.pk}/delete/", {"post": "yes"}).status_code == 403
    assert AllocationRun.objects.filter(pk=run.pk).exists()
