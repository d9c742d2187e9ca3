"""Reminders before a report is due (issue 23): seven and two days before, once each, to the
team's contacts, through the outbox, by a real Celery worker, read back from a mail server."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from portal.models import OutboxMessage, SentEmail
from reporting.models import ProgressReport, ReportState
from reporting.tasks import send_report_reminders
from tests.conftest import real_worker, requires_redis
from tests.evaluations.test_scoring_reminders import MailServer, wait_for
from tests.reporting.conftest import build_scene

SMTP_PORT = 8751


def test_beat_runs_the_reminders():
    from portal.celery import app

    app.loader.import_default_modules()
    assert app.conf.beat_schedule["reporting.send_report_reminders"]["task"] == "reporting.send_report_reminders"
    assert "reporting.send_report_reminders" in app.tasks


def _due_in(scene):
    """Team 1's report of this period is due in 6 days (its 7-day reminder is due), team 2's in
    1 day (the 2-day one); every other report is past due or submitted."""
    from reporting import services

    services.reports_ensure(programme=scene.programme)
    now = timezone.now()
    current = max(r.period_start for r in ProgressReport.objects.filter(programme=scene.programme))
    ProgressReport.objects.filter(programme=scene.programme).exclude(period_start=current).update(
        due_at=now - timedelta(days=3)
    )
    ProgressReport.objects.filter(consortium=scene.team1, period_start=current).update(due_at=now + timedelta(days=6))
    ProgressReport.objects.filter(consortium=scene.team2, period_start=current).update(due_at=now + timedelta(days=1))
    return current


@pytest.mark.worker
@requires_redis
@pytest.mark.django_db(transaction=True)
def test_reminders_go_once_each_through_a_real_worker(settings):
    scene = build_scene()
    _due_in(scene)
    # Each team is written to in its lead contact's language.
    type(scene.team2.lead_contact).objects.filter(pk=scene.team2.lead_contact_id).update(language="en")
    type(scene.team1.lead_contact).objects.filter(pk=scene.team1.lead_contact_id).update(language="ko")
    server = MailServer(SMTP_PORT)
    try:
        with real_worker(
            settings,
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=str(SMTP_PORT),
        ):
            send_report_reminders.delay()
            assert wait_for(lambda: len(server.received()) >= 2), server.received()
            for _ in range(3):  # beat runs it again and again: nothing more goes out
                send_report_reminders.delay()
            time.sleep(4)
            assert wait_for(lambda: OutboxMessage.objects.exclude(status="done").count() == 0, 30)
    finally:
        server.close()
    messages = server.received()
    assert len(messages) == 2 and SentEmail.objects.count() == 2
    to = {str(m["To"]).strip() for m in messages}
    assert to == {scene.team1.lead_contact.email, scene.team2.lead_contact.email}
    subjects = {str(m["To"]).strip(): str(m["Subject"]) for m in messages}
    assert subjects[scene.team2.lead_contact.email].startswith("[IAFM] Report for ")
    assert "보고서 제출 기한" in subjects[scene.team1.lead_contact.email]
    assert all(s.endswith("KST") for s in subjects.values())
    reminded = {r.consortium_id: r.reminded_days for r in ProgressReport.objects.all() if r.reminded_days}
    assert reminded == {scene.team1.pk: [7], scene.team2.pk: [2]}


@pytest.mark.django_db
def test_the_two_day_reminder_follows_and_a_submitted_report_gets_none(mailoutbox, django_capture_on_commit_callbacks):
    from reporting.services import report_reminders_send

    scene = build_scene()
    current = _due_in(scene)
    now = timezone.now()

    def send(at):
        with django_capture_on_commit_callbacks(execute=True):
            return report_reminders_send(now=at)

    assert send(now) == 2
    assert send(now + timedelta(minutes=30)) == 0
    # Four and a half days later team 1's report is inside its last two days; team 2's is past due.
    assert send(now + timedelta(days=4, hours=12)) == 1
    assert send(now + timedelta(days=4, hours=13)) == 0
    keys = sorted(SentEmail.objects.values_list("key", flat=True))
    assert len(mailoutbox) == 3 and len(set(keys)) == 3
    assert sorted(k.rsplit(":", 1)[1] for k in keys) == ["2", "2", "7"]
    # A submitted report is never reminded.
    ProgressReport.objects.filter(consortium=scene.team1, period_start=current).update(
        state=ReportState.SUBMITTED, reminded_days=[]
    )
    assert send(now + timedelta(days=5)) == 0
