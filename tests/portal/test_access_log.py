"""Access records of personal data: who, when, from where, what and which action, for
every successful read by a reviewer, officer or administrator (SPEC §10)."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from portal.access_log import access_log_prune
from portal.models import AccessLog, AuditEntry
from tests.factories_consortia import submitted_application
from tests.factories_notices import approved_run, stored_notices

pytestmark = pytest.mark.django_db


def test_an_officer_reading_an_application_is_recorded(client_for, officer, programme):
    application = submitted_application(programme=programme)
    c = client_for(officer)
    path = reverse("consortia:officer_application_detail", args=[application.pk])
    assert c.get(path, REMOTE_ADDR="203.0.113.7").status_code == 200
    (record,) = AccessLog.objects.all()
    assert (record.user, record.username, record.role) == (officer, officer.username, "officer")
    assert (record.ip_address, record.action, record.method) == ("203.0.113.7", "view", "GET")
    assert (record.target, record.object_id, record.path) == (
        "consortia:officer_application_detail",
        str(application.pk),
        path,
    )
    assert timezone.now() - record.at < timedelta(minutes=1)


def test_owners_pages_without_personal_data_and_refusals_leave_no_access_record(
    client_for, officer, applicant, programme
):
    application = submitted_application(programme=programme)
    lead = application.consortium.lead_contact
    assert (
        client_for(lead).get(reverse("consortia:consortium_detail", args=[application.consortium.pk])).status_code
        == 200
    )
    assert client_for(officer).get(reverse("portal:home")).status_code == 200
    refused = client_for(applicant).get(reverse("consortia:officer_application_detail", args=[application.pk]))
    assert refused.status_code == 404
    assert AccessLog.objects.count() == 0
    assert AuditEntry.objects.filter(action="access.refused").count() == 1  # recorded as a refusal instead


def test_api_reads_with_a_token_are_recorded_with_the_token_user(api_for, officer, programme):
    application = submitted_application(programme=programme)
    api = api_for(officer)
    assert api.get("/api/v1/applications/").status_code == 200
    assert api.get(f"/api/v1/applications/{application.pk}/").status_code == 200
    records = list(AccessLog.objects.order_by("id").values_list("username", "target", "object_id", "action"))
    assert records == [
        (officer.username, "api:application-list", "", "view"),
        (officer.username, "api:application-detail", str(application.pk), "view"),
    ]


def test_a_notice_download_is_recorded_as_a_download(client_for, admin_user):
    setup = approved_run(teams=1)
    (notice,) = stored_notices(setup.run)
    response = client_for(admin_user).get(reverse("gpu_allocation:notice_pdf", args=[notice.pk]))
    assert response.status_code == 200
    record = AccessLog.objects.get(target="gpu_allocation:notice_pdf")
    assert (record.action, record.object_id, record.role) == ("download", str(notice.pk), "admin")


def test_records_are_append_only_and_pruned_after_the_retention(settings, officer):
    settings.ACCESS_LOG_RETENTION_DAYS = 730
    now = timezone.now()
    keep = AccessLog.objects.create(
        user=officer, username="o", role="officer", action="view", target="x", method="GET", path="/"
    )
    old = AccessLog.objects.create(
        user=officer, username="o", role="officer", action="view", target="x", method="GET", path="/"
    )
    AccessLog.objects.filter(pk=old.pk).update(at=now - timedelta(days=731))
    AccessLog.objects.filter(pk=keep.pk).update(at=now - timedelta(days=729))
    keep.refresh_from_db()
    with pytest.raises(PermissionError):
        keep.save()
    assert access_log_prune(now=now) == 1
    assert list(AccessLog.objects.values_list("pk", flat=True)) == [keep.pk]


def test_the_prune_runs_daily_from_the_beat_schedule():
    from django.conf import settings

    from portal.celery import app

    app.loader.import_default_modules()
    entries = {e["task"]: e["schedule"] for e in settings.CELERY_BEAT_SCHEDULE.values()}
    assert entries["portal.access_log_prune"] == 24 * 60 * 60.0
    assert "portal.access_log_prune" in app.tasks


def test_administrators_read_and_filter_the_records_and_that_reading_is_recorded(
    client_for, admin_user, officer, programme
):
    application = submitted_application(programme=programme)
    client_for(officer).get(reverse("consortia:officer_application_detail", args=[application.pk]))
    a = client_for(admin_user)
    page = a.get(reverse("portal:access_log"), {"account": officer.username})
    assert page.status_code == 200
    body = page.content.decode()
    # the page names the page read by its title, not its route name
    assert f"신청서 (담당자 화면) #{application.pk}" in body and officer.username in body
    assert "consortia:officer_application_detail" not in body
    assert AccessLog.objects.filter(username=admin_user.username, target="portal:access_log").count() == 1
    other_day = a.get(reverse("portal:access_log"), {"day": "2020-01-01"}).content.decode()
    assert "신청서 (담당자 화면)" not in other_day
    assert a.get(reverse("portal:access_log"), {"day": "2026-02-30"}).status_code == 200  # an impossible day is ignored
    assert client_for(officer).get(reverse("portal:access_log")).status_code == 404
