"""Approving a run issues the award notices of its teams (through the outbox, after commit)."""

import pytest
from pypdf import PdfReader

from gpu_allocation.models import AwardNotice
from gpu_allocation.services import allocation_run_approve, allocation_run_execute, allocation_run_start
from portal.models import OutboxMessage
from tests.factories_allocation import allocation_setup, request_changed

pytestmark = pytest.mark.django_db(transaction=True)


def approved_run(officer):
    setup = allocation_setup()
    run = allocation_run_start(programme=setup.programme, by=officer, enqueue=False)
    run = allocation_run_execute(run_id=run.pk, sleep=lambda s: None)
    return allocation_run_approve(run=run, by=officer), setup


def test_approval_issues_one_notice_per_team(officer):
    run, setup = approved_run(officer)
    notices = AwardNotice.objects.filter(allocation__run=run)
    assert notices.count() == len(setup.applications) == 5
    assert OutboxMessage.objects.get(dedupe_key=f"notices:run:{run.pk}").status == "done"
    first = notices.order_by("number").first()
    with first.pdf.open("rb") as handle:
        text = PdfReader(handle).pages[0].extract_text()
    assert first.number in text


def test_a_new_approval_supersedes_the_teams_earlier_notices(officer):
    first, setup = approved_run(officer)
    request_changed(setup.applications[0], requested_gpus=640)
    second = allocation_run_start(programme=setup.programme, by=officer, enqueue=False)
    second = allocation_run_execute(run_id=second.pk, sleep=lambda s: None)
    allocation_run_approve(run=second, by=officer)
    old = AwardNotice.objects.filter(allocation__run=first)
    assert old.count() == 5
    assert all(n.superseded_at is not None and n.superseded_by_id for n in old)
    assert AwardNotice.objects.filter(allocation__run=second, superseded_at__isnull=True).count() == 5
