"""Reminders before a scoring window closes (issue 19): two days and one day before, to the
reviewers who still have unsubmitted sheets, once each, in the reviewer's language — run by
a real Celery worker through the outbox and read back from a mail server."""

from __future__ import annotations

import email
import email.policy
import socketserver
import threading
import time
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from evaluations.enums import AssignmentStatus
from evaluations.models import Assignment
from evaluations.reminders import reminder_due
from evaluations.tasks import scoring_reminders_send_task
from portal.models import OutboxMessage, SentEmail
from tests.conftest import real_worker, requires_redis
from tests.factories import ProgrammeFactory, UserFactory
from tests.factories_evaluations import assign, selection_phase, submit_scores, submitted_application

SMTP_PORT = 8551


def test_beat_runs_the_reminders_often():
    from django.conf import settings

    from portal.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["scoring-reminders"]
    assert entry["task"] == "evaluations.send_scoring_reminders" and entry["schedule"] <= 15 * 60
    app.loader.import_default_modules()
    assert "evaluations.send_scoring_reminders" in app.tasks


@pytest.mark.parametrize(
    ("hours_left", "due"),
    [
        (72, None),
        (48.01, None),
        (48, "2d"),
        (30, "2d"),
        (24.01, "2d"),
        (24, "1d"),
        (0.5, "1d"),
        (0, None),
        (-1, None),
    ],
)
def test_which_reminder_is_due(hours_left, due):
    now = timezone.now()
    assert reminder_due(closes_at=now + timedelta(hours=hours_left), now=now) == due


class MailServer:
    """A minimal SMTP server in a thread of the test that keeps every accepted message whole."""

    def __init__(self, port: int):
        self.port = port
        self.messages: list[email.message.EmailMessage] = []
        self.lock = threading.Lock()
        owner = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                owner._session(self.rfile, self.wfile)

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def _session(self, rfile, wfile):
        wfile.write(b"220 mail.example.kr ESMTP\r\n")
        while line := rfile.readline():
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                wfile.write(b"250 mail.example.kr\r\n")
            elif verb in (b"MAIL", b"RCPT", b"RSET", b"NOOP"):
                wfile.write(b"250 OK\r\n")
            elif verb == b"DATA":
                wfile.write(b"354 go ahead\r\n")
                body = []
                while (chunk := rfile.readline()) not in (b".\r\n", b".\n", b""):
                    body.append(chunk[1:] if chunk.startswith(b"..") else chunk)
                with self.lock:
                    self.messages.append(email.message_from_bytes(b"".join(body), policy=email.policy.default))
                wfile.write(b"250 queued\r\n")
            elif verb == b"QUIT":
                wfile.write(b"221 bye\r\n")
                return
            else:
                wfile.write(b"502 unknown\r\n")

    def received(self) -> list[email.message.EmailMessage]:
        with self.lock:
            return list(self.messages)


def wait_for(predicate, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.3)
    return False


def _scene():
    """Phase A closes in 47 hours, phase B in 23 hours, phase C in five days, phase D has closed.

    ko_reviewer: A (one being scored, one awaiting the declaration, one submitted), B (one).
    en_reviewer: A (one being scored). done_reviewer: A (submitted only). conflicted: A (conflict).
    """
    now = timezone.now()
    phases = {}
    for name, hours in (("A", 47), ("B", 23), ("C", 120), ("D", -2)):
        programme = ProgrammeFactory()
        phases[name] = selection_phase(
            programme=programme,
            name=f"1차 선정평가 {name}",
            name_en=f"Selection {name}",
            scoring_opens_at=now - timedelta(days=10),
            scoring_closes_at=now + timedelta(hours=hours),
        )
    apps = {name: [submitted_application(programme=p.programme) for _ in range(3)] for name, p in phases.items()}
    ko = UserFactory(role="reviewer", full_name="김평가", language="ko")
    en = UserFactory(role="reviewer", full_name="Jane Reviewer", language="en")
    done = UserFactory(role="reviewer", full_name="박완료", language="ko")
    conflicted = UserFactory(role="reviewer", full_name="이충돌", language="ko")
    full = {"technology": 30, "capability": 25, "impact": 20}
    assign(phases["A"], apps["A"][0], ko)
    assign(phases["A"], apps["A"][1], ko, declared=False)
    submit_scores(assign(phases["A"], apps["A"][2], ko), full)
    assign(phases["B"], apps["B"][0], ko)
    assign(phases["A"], apps["A"][0], en)
    submit_scores(assign(phases["A"], apps["A"][1], done), full)
    Assignment.objects.filter(pk=assign(phases["A"], apps["A"][2], conflicted).pk).update(
        status=AssignmentStatus.CONFLICTED
    )
    for name in ("C", "D"):
        assign(phases[name], apps[name][0], ko)
        assign(phases[name], apps[name][0], en)
    return phases, apps, {"ko": ko, "en": en, "done": done, "conflicted": conflicted}


@pytest.mark.worker
@requires_redis
@pytest.mark.django_db(transaction=True)
def test_reminders_reach_reviewers_with_unsubmitted_sheets_once_in_their_language(settings):
    phases, apps, people = _scene()
    server = MailServer(SMTP_PORT)
    try:
        with real_worker(
            settings,
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=str(SMTP_PORT),
            PORTAL_BASE_URL="https://portal.example.kr",
        ):
            scoring_reminders_send_task.delay()
            assert wait_for(lambda: len(server.received()) >= 3), server.received()
            # Beat runs the task again and again: nothing more goes out.
            for _ in range(3):
                scoring_reminders_send_task.delay()
            time.sleep(4)
            assert wait_for(lambda: OutboxMessage.objects.exclude(status="done").count() == 0, 30)
    finally:
        server.close()

    messages = server.received()
    by_recipient = {(str(m["To"]).strip(), str(m["Subject"]).strip()): m.get_content() for m in messages}
    ko, en = people["ko"], people["en"]
    a_close = timezone.localtime(phases["A"].scoring_closes_at).strftime("%Y-%m-%d %H:%M KST")
    b_close = timezone.localtime(phases["B"].scoring_closes_at).strftime("%Y-%m-%d %H:%M KST")
    assert sorted(by_recipient) == sorted(
        [
            (ko.email, f"[알림] 1차 선정평가 A 평가 마감 이틀 전입니다({a_close})"),
            (ko.email, f"[알림] 1차 선정평가 B 평가가 내일 마감됩니다({b_close})"),
            (en.email, f"Reminder: scoring of Selection A closes in two days ({a_close})"),
        ]
    )
    assert len(messages) == 3 and SentEmail.objects.count() == 3

    ko_a = by_recipient[(ko.email, f"[알림] 1차 선정평가 A 평가 마감 이틀 전입니다({a_close})")]
    receipts = [a.versions.get().receipt_number for a in apps["A"]]
    assert "김평가 님, 안녕하세요." in ko_a
    assert "1차 선정평가 A에서 아직 제출하지 않은 평가가 2건 있습니다:" in ko_a
    assert f"- {receipts[0]} {apps['A'][0].consortium.name} (미제출)" in ko_a
    assert f"- {receipts[1]} {apps['A'][1].consortium.name} (이해충돌 신고 전)" in ko_a
    assert receipts[2] not in ko_a  # submitted: not listed
    queue = "https://portal.example.kr" + reverse("evaluations:reviewer_queue")
    assert queue in ko_a.splitlines()  # the link on a line of its own

    en_a = by_recipient[(en.email, f"Reminder: scoring of Selection A closes in two days ({a_close})")]
    assert "Hello Jane Reviewer," in en_a
    assert "You have 1 review in Selection A that is not submitted yet:" in en_a
    assert f"- {receipts[0]} {apps['A'][0].consortium.name} (not submitted)" in en_a
    assert f"The scoring window closes at {a_close}." in en_a
    assert queue in en_a.splitlines()

    # Nobody else: not the reviewer with everything submitted, not the conflicted one,
    # nothing for the phase closing in five days or the closed one.
    recipients = {str(m["To"]).strip() for m in messages}
    assert recipients == {ko.email, en.email}


@pytest.mark.django_db
def test_the_next_reminder_and_an_extended_window(mailoutbox, django_capture_on_commit_callbacks):
    """A day later the 1-day reminder follows the 2-day one; extending the window gives the
    new close its own reminders; a late 2-day reminder is never sent."""
    phases, _apps, people = _scene()
    now = timezone.now()

    def scoring_reminders_send(*, now):
        from evaluations.reminders import scoring_reminders_send as send

        with django_capture_on_commit_callbacks(execute=True):
            return send(now=now)

    assert scoring_reminders_send(now=now) == 3
    assert scoring_reminders_send(now=now + timedelta(minutes=10)) == 0
    keys = set(SentEmail.objects.values_list("key", flat=True))
    assert len(keys) == 3

    # 24 hours later phase A is inside its last day: the 1-day reminder to both reviewers;
    # phase B has closed by then.
    assert scoring_reminders_send(now=now + timedelta(hours=24)) == 2
    assert scoring_reminders_send(now=now + timedelta(hours=24, minutes=30)) == 0

    # The officer extends phase A by a week: its reminders come again before the new close,
    # but not now (more than two days left).
    phases["A"].scoring_closes_at += timedelta(days=7)
    phases["A"].save(update_fields=["scoring_closes_at"])
    assert scoring_reminders_send(now=now + timedelta(hours=25)) == 0
    assert scoring_reminders_send(now=now + timedelta(days=7, hours=1)) == 2
    subjects = [m.subject for m in mailoutbox]
    assert len(subjects) == len(set(subjects)) == 7, subjects

    # Once the reviewer submits, no more reminders for them.
    for a in Assignment.objects.filter(phase=phases["A"], reviewer=people["en"]):
        a.status = AssignmentStatus.SUBMITTED
        a.save(update_fields=["status"])
    assert scoring_reminders_send(now=now + timedelta(days=8, hours=1)) == 1  # ko only
