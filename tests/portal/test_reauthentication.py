"""Re-authentication before starting or approving an allocation run and before issuing
or exporting award notices (SPEC §10): a signed-in session is not enough."""

import time

import pytest
from django.urls import reverse

from gpu_allocation.enums import RunStatus
from gpu_allocation.models import AllocationRun, AwardNotice, NoticeExport
from portal.models import AuditEntry
from tests.conftest import mark_reauthenticated, token_client
from tests.factories_allocation import allocation_setup

pytestmark = pytest.mark.django_db

PASSWORD = "Correct-Horse-42!"  # the factories' password


def start_path(setup) -> str:
    return reverse("gpu_allocation:run_start", args=[setup.programme.pk])


def test_starting_a_run_asks_for_the_password_then_carries_on(client_for, officer):
    setup = allocation_setup()
    c = client_for(officer, reauthenticated=False)
    response = c.post(start_path(setup))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_reauthenticate"))
    assert not AllocationRun.objects.exists()

    page = c.get(response["Location"])
    assert page.status_code == 200 and 'name="password"' in page.content.decode()
    wrong = c.post(response["Location"], {"password": "not-the-password"})
    assert wrong.status_code == 200 and not AllocationRun.objects.exists()

    done = c.post(response["Location"], {"password": PASSWORD})
    run = AllocationRun.objects.get()  # the suspended request went on, once
    assert done.status_code == 302 and done["Location"] == reverse("gpu_allocation:run_detail", args=[run.pk])
    assert run.status in (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.SUCCEEDED)

    # Within the window the next consequential action goes straight through (it is
    # refused or reused on its own terms, not sent back to the password).
    again = c.post(start_path(setup))
    assert again.status_code == 409  # the run list, refusing: a run is already queued
    assert "이미 대기 중이거나 진행 중입니다" in again.content.decode()


def test_the_proof_lapses_after_the_window(client_for, officer, settings):
    settings.ACCOUNT_REAUTHENTICATION_TIMEOUT = 300
    setup = allocation_setup()
    c = client_for(officer)  # re-authenticated just now
    session = c.session
    session["account_authentication_methods"][0]["at"] = time.time() - 301
    session.save()
    response = c.post(start_path(setup))
    assert response["Location"].startswith(reverse("account_reauthenticate"))
    assert not AllocationRun.objects.exists()


def test_approving_issuing_and_exporting_each_ask_first(
    client_for, officer, admin_user, django_capture_on_commit_callbacks
):
    from tests.factories_notices import approved_run

    run = approved_run(teams=2).run
    c = client_for(officer, reauthenticated=False)
    a = client_for(admin_user, reauthenticated=False)
    pending = approved_run(teams=2, approved=False).run  # a run the officer could approve
    audit_before = AuditEntry.objects.count()
    notices_before = AwardNotice.objects.count()
    issue = c.post(reverse("gpu_allocation:notice_issue", args=[run.pk]))
    assert issue["Location"].startswith(reverse("account_reauthenticate"))
    export = a.post(reverse("gpu_allocation:notice_export_start", args=[run.pk]))
    assert export["Location"].startswith(reverse("account_reauthenticate"))
    approve = c.post(reverse("gpu_allocation:run_approve", args=[pending.pk]), {"reason": "1차 선정 결과에 따른 배분"})
    assert approve["Location"].startswith(reverse("account_reauthenticate"))
    pending.refresh_from_db()
    assert pending.approved_at is None
    assert not NoticeExport.objects.exists()
    assert list(AuditEntry.objects.order_by("id").values_list("action", flat=True)[audit_before:]) == []
    assert AwardNotice.objects.count() == notices_before

    # The same request once the officer has re-authenticated does its work.
    mark_reauthenticated(c, officer)
    with django_capture_on_commit_callbacks(execute=True):  # the page enqueues; the task issues
        c.post(reverse("gpu_allocation:notice_issue", args=[run.pk]))
    assert AwardNotice.objects.count() == notices_before + 2


def test_people_who_may_not_act_still_get_404_not_a_password_prompt(client_for, applicant):
    setup = allocation_setup()
    response = client_for(applicant, reauthenticated=False).post(start_path(setup))
    assert response.status_code == 404


def test_api_token_calls_need_a_current_authenticator_code(officer):
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    setup = allocation_setup()
    url = f"/api/v1/programmes/{setup.programme.pk}/allocation-runs/"
    bare = APIClient()
    bare.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=officer)[0].key}")
    refused = bare.post(url)
    assert refused.status_code == 403
    assert "X-OTP" in refused.json()["detail"] and not AllocationRun.objects.exists()
    wrong = bare.post(url, HTTP_X_OTP="12345x")
    assert wrong.status_code == 403 and not AllocationRun.objects.exists()
    accepted = token_client(officer).post(url)
    assert accepted.status_code == 202, accepted.content
    assert AllocationRun.objects.count() == 1


def test_session_api_calls_need_the_portal_re_authentication(officer):
    from rest_framework.test import APIClient

    setup = allocation_setup()
    url = f"/api/v1/programmes/{setup.programme.pk}/allocation-runs/"
    api = APIClient()
    api.force_login(officer)
    session = api.session
    session["portal_second_factor_ok"] = True
    session.save()
    refused = api.post(url)
    assert refused.status_code == 403 and "/accounts/reauthenticate/" in refused.json()["detail"]
    assert not AllocationRun.objects.exists()
