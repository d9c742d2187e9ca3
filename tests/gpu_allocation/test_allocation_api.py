"""The allocation-run API: start (202), 409 for a second active run, status and result, approve,
404 for those who may not see runs, and constant query counts on the lists."""

from __future__ import annotations

import pytest

from gpu_allocation.enums import RunStatus
from gpu_allocation.models import AllocationRun
from gpu_allocation.services import allocation_run_execute, allocation_run_start
from portal.korean import particle
from portal.models import AuditEntry
from tests.factories_allocation import allocation_setup, request_changed

pytestmark = pytest.mark.django_db


def test_start_answers_202_with_the_run_id_and_a_second_start_409(api_for, officer):
    setup = allocation_setup()
    api = api_for(officer)
    url = f"/api/v1/programmes/{setup.programme.pk}/allocation-runs/"
    first = api.post(url)
    assert first.status_code == 202
    body = first.json()
    run = AllocationRun.objects.get(pk=body["id"])
    assert (body["status"], body["inputs_sha256"], body["url"]) == (
        "queued",
        run.inputs_sha256,
        f"http://testserver/api/v1/allocation-runs/{run.pk}/",
    )
    second = api.post(url)
    assert second.status_code == 409
    assert second.json()["detail"] == (
        f"이 사업의 배분 실행이 이미 대기 중이거나 진행 중입니다(실행 #{run.pk}, 대기 중). "
        "끝날 때까지 기다린 뒤 필요하면 새로 실행하십시오."
    )
    english = api.post(url, HTTP_ACCEPT_LANGUAGE="en")
    assert english.json()["detail"] == (
        f"An allocation run for this programme is already queued or running (run #{run.pk}, Queued). "
        "Wait for it to finish, then start a new one if needed."
    )
    assert second.json()["active_run_id"] == run.pk
    assert AllocationRun.objects.count() == 1


def test_start_without_active_teams_is_a_clear_409(api_for, officer, programme):
    response = api_for(officer).post(f"/api/v1/programmes/{programme.pk}/allocation-runs/")
    assert (response.status_code, response.json()["code"]) == (409, "no_teams")
    assert response.json()["detail"] == "배분할 활동 팀이 없습니다. 먼저 선정 평가나 단계 평가를 확정하십시오."


def test_status_progress_and_result_are_read_back(api_for, officer):
    setup = allocation_setup()
    run = allocation_run_start(programme=setup.programme, by=officer, enqueue=False)
    api = api_for(officer)
    queued = api.get(f"/api/v1/allocation-runs/{run.pk}/").json()
    assert (queued["status"], queued["progress"], queued["result"], queued["allocations"]) == ("queued", 0, None, [])
    allocation_run_execute(run_id=run.pk, sleep=lambda s: None)
    done = api.get(f"/api/v1/allocation-runs/{run.pk}/").json()
    assert (done["status"], done["progress"], done["attempts"]) == ("succeeded", 100, 1)
    assert [a["application"] for a in done["allocations"]] == [a.pk for a in setup.applications]
    first = done["allocations"][0]
    assert first["total_gpus"] == sum(g["gpus"] for g in first["grants"])
    assert {g["cluster_name"] for a in done["allocations"] for g in a["grants"]} <= {"AI-HUB-A", "AI-HUB-B"}
    assert done["result"]["teams"][0]["total_gpus"] == first["total_gpus"]


def test_approve_through_the_api_and_audit(api_for, officer):
    setup = allocation_setup()
    run = allocation_run_start(programme=setup.programme, by=officer, enqueue=False)
    allocation_run_execute(run_id=run.pk, sleep=lambda s: None)
    api = api_for(officer)
    response = api.post(f"/api/v1/allocation-runs/{run.pk}/approve/", {"reason": "검토 완료"}, format="json")
    assert response.status_code == 200
    assert response.json()["approved_at"] is not None
    entry = AuditEntry.objects.get(action="allocation_run.approve", object_id=str(run.pk))
    assert (entry.actor_id, entry.reason) == (officer.pk, "검토 완료")
    again = api.post(f"/api/v1/allocation-runs/{run.pk}/approve/", {}, format="json")
    assert again.status_code == 409
    assert (again.json()["code"], again.json()["detail"]) == (
        "already_approved",
        f"실행 {particle(f'#{run.pk}', '은/는')} 이미 승인된 배분입니다. 배분을 바꾸려면 새로 실행하십시오.",
    )


def test_approving_a_queued_run_is_409_and_changes_nothing(api_for, officer):
    setup = allocation_setup()
    run = allocation_run_start(programme=setup.programme, by=officer, enqueue=False)
    response = api_for(officer).post(f"/api/v1/allocation-runs/{run.pk}/approve/")
    assert response.status_code == 409
    run.refresh_from_db()
    assert (run.status, run.approved_at) == (RunStatus.QUEUED, None)


@pytest.mark.parametrize("role", ["applicant", "reviewer"])
def test_runs_are_404_for_everyone_but_officers(api_for, officer, role):
    from tests.factories import UserFactory

    setup = allocation_setup()
    run = allocation_run_start(programme=setup.programme, by=officer, enqueue=False)
    api = api_for(UserFactory(role=role))
    assert api.get(f"/api/v1/allocation-runs/{run.pk}/").status_code == 404
    assert api.post(f"/api/v1/allocation-runs/{run.pk}/approve/").status_code == 404
    assert api.post(f"/api/v1/programmes/{setup.programme.pk}/allocation-runs/").status_code == 404
    assert api.get(f"/api/v1/programmes/{setup.programme.pk}/allocation-runs/").status_code == 404
    assert api.get("/api/v1/allocation-runs/").json()["results"] == []
    assert AllocationRun.objects.count() == 1


def test_anonymous_is_refused(client):
    assert client.get("/api/v1/allocation-runs/").status_code in (401, 403)


def make_runs(officer, n: int):
    """``n`` finished runs of one programme (each after a change of one request, so none is reused)."""
    setup = allocation_setup()
    application = setup.applications[-1]
    for i in range(n):
        request_changed(application, requested_gpus=8 * (i + 1))
        run = allocation_run_start(programme=setup.programme, by=officer, enqueue=False)
        allocation_run_execute(run_id=run.pk, sleep=lambda s: None)
    return setup


@pytest.mark.parametrize("n", [3, 30])
def test_run_lists_cost_a_constant_number_of_queries(api_for, officer, django_assert_max_num_queries, n):
    setup = make_runs(officer, n)
    api = api_for(officer)
    with django_assert_max_num_queries(6):
        body = api.get("/api/v1/allocation-runs/").json()
    assert body["count"] == n
    with django_assert_max_num_queries(7):
        body = api.get(f"/api/v1/programmes/{setup.programme.pk}/allocation-runs/").json()
    assert len(body["results"]) == n
