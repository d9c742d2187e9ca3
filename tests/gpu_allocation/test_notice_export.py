"""ZIP export of a run's notices: one PDF per team with the right names, progress on the row,
idempotent builds, administrators only, and a build on a real Celery worker."""

from __future__ import annotations

import hashlib
import io
import time
import zipfile

import pytest
from django.urls import reverse

from awards.services import notice_export_build, notice_export_start, notice_issue_for_run
from gpu_allocation.enums import ExportStatus
from gpu_allocation.models import AwardNotice, NoticeExport
from portal.errors import DomainError
from tests.factories import UserFactory
from tests.factories_notices import KOREAN_TEAM_NAMES, approved_run


def zip_contents(export: NoticeExport) -> dict[str, bytes]:
    with export.file.open("rb") as handle:
        data = handle.read()
    assert hashlib.sha256(data).hexdigest() == export.sha256
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def expected_names(notices) -> list[str]:
    return [f"{n.number}_{n.allocation.consortium.name.replace(' ', '_')}.pdf" for n in notices]


@pytest.mark.django_db
def test_zip_holds_one_issued_pdf_per_team_with_its_name():
    setup = approved_run(teams=3)
    notices = notice_issue_for_run(run=setup.run, by=setup.officer)
    admin = UserFactory(role="admin")

    export = notice_export_start(run=setup.run, by=admin)
    export = notice_export_build(export_id=export.pk)

    files = zip_contents(export)
    assert (export.status, export.progress, export.attempts) == (ExportStatus.SUCCEEDED, 100, 1)
    assert sorted(files) == sorted(expected_names(notices))
    assert sorted(files) == sorted(
        f"IAFM-{setup.programme.year}-AN-{i:04d}_{name.replace(' ', '_')}.pdf"
        for i, name in enumerate(KOREAN_TEAM_NAMES[:3], start=1)
    )
    for notice in notices:
        name = expected_names([notice])[0]
        assert hashlib.sha256(files[name]).hexdigest() == notice.sha256


@pytest.mark.django_db
def test_export_issues_missing_notices_and_is_idempotent():
    setup = approved_run(teams=2)
    admin = UserFactory(role="admin")
    export = notice_export_start(run=setup.run, by=admin)
    assert notice_export_start(run=setup.run, by=admin).pk == export.pk  # rejoins the active export

    built = notice_export_build(export_id=export.pk)
    again = notice_export_build(export_id=export.pk)

    assert AwardNotice.objects.filter(allocation__run=setup.run).count() == 2
    assert (again.status, again.attempts, again.sha256) == (ExportStatus.SUCCEEDED, 1, built.sha256)
    assert len(zip_contents(built)) == 2


@pytest.mark.django_db
def test_export_refused_for_a_run_never_approved():
    setup = approved_run(teams=1, approved=False)
    with pytest.raises(DomainError):
        notice_export_start(run=setup.run, by=UserFactory(role="admin"))
    assert NoticeExport.objects.count() == 0


@pytest.mark.django_db
def test_zip_names_of_hostile_consortium_names_stay_flat():
    setup = approved_run(teams=1, names=["../../etc/passwd 컨소시엄"])
    export = notice_export_start(run=setup.run, by=UserFactory(role="admin"))
    files = zip_contents(notice_export_build(export_id=export.pk))
    (name,) = files
    assert "/" not in name and ".." not in name
    assert name.endswith("_etc_passwd_컨소시엄.pdf")


def test_export_pages_for_admin_and_404_for_officer(db, client_for, admin_user, officer):
    setup = approved_run(teams=1)
    notice_issue_for_run(run=setup.run, by=setup.officer)

    assert (
        client_for(officer).post(reverse("gpu_allocation:notice_export_start", args=[setup.run.pk])).status_code == 404
    )
    admin = client_for(admin_user)
    assert admin.post(reverse("gpu_allocation:notice_export_start", args=[setup.run.pk])).status_code == 302
    export = NoticeExport.objects.get()
    running = admin.get(reverse("gpu_allocation:notice_export_progress", args=[export.pk])).content.decode()
    assert 'hx-trigger="every 1s"' in running

    notice_export_build(export_id=export.pk)
    done = admin.get(reverse("gpu_allocation:notice_export_progress", args=[export.pk])).content.decode()
    assert "hx-trigger" not in done
    assert 'aria-valuenow="100"' in done
    download = admin.get(reverse("gpu_allocation:notice_export_download", args=[export.pk]))
    assert download.status_code == 200
    assert hashlib.sha256(b"".join(download.streaming_content)).hexdigest() == NoticeExport.objects.get().sha256
    assert (
        client_for(officer).get(reverse("gpu_allocation:notice_export_download", args=[export.pk])).status_code == 404
    )


def test_export_api_for_admin_only(db, api_for, admin_user, officer):
    setup = approved_run(teams=1)
    assert api_for(officer).post("/api/v1/notice-exports/", {"run": setup.run.pk}).status_code == 404
    response = api_for(admin_user).post("/api/v1/notice-exports/", {"run": setup.run.pk})
    assert response.status_code == 202
    export_id = response.json()["id"]
    notice_export_build(export_id=export_id)
    status = api_for(admin_user).get(f"/api/v1/notice-exports/{export_id}/").json()
    assert (status["status"], status["progress"]) == ("succeeded", 100)
    assert api_for(admin_user).get(f"/api/v1/notice-exports/{export_id}/zip/").status_code == 200
    assert api_for(officer).get(f"/api/v1/notice-exports/{export_id}/").status_code == 404
    assert api_for(officer).get(f"/api/v1/notice-exports/{export_id}/zip/").status_code == 404
    assert api_for(officer).get("/api/v1/notice-exports/").json()["results"] == []


@pytest.mark.worker
def test_zip_export_runs_on_a_real_celery_worker(celery_worker_process):
    """The row comes first, the task is enqueued on commit, a worker process builds the ZIP
    (issuing the notices it needs) and reports progress on the row."""
    setup = approved_run(teams=2)
    admin = UserFactory(role="admin")

    export = notice_export_start(run=setup.run, by=admin)

    deadline = time.monotonic() + 90
    seen_progress = set()
    while time.monotonic() < deadline:
        export.refresh_from_db()
        seen_progress.add(export.progress)
        if export.status in (ExportStatus.SUCCEEDED, ExportStatus.FAILED):
            break
        time.sleep(0.2)
    assert (export.status, export.error, export.progress) == (ExportStatus.SUCCEEDED, "", 100)
    notices = list(AwardNotice.objects.filter(allocation__run=setup.run).order_by("number"))
    assert sorted(zip_contents(export)) == sorted(expected_names(notices))
    assert len(notices) == 2
