"""Receipt mails survive a broker that restarts empty and a mail server that refuses.

Real processes throughout: a Redis of the test's own (keeps nothing on disk, killed and
restarted by PID), a Celery worker and Celery beat on it (the beat runs the outbox sweep
every second here, every 30 s by default), PostgreSQL (the test database) and a tiny SMTP
server in the test. The retry and lease timings are shortened through the environment;
the code paths are the production ones. Each test prints its figures (``-s`` shows them).
"""

from __future__ import annotations

import time
from collections import Counter
from contextlib import ExitStack

import pytest

from portal.models import AuditEntry, OutboxMessage, SentEmail
from tests.faults.stack import SmtpServer, Stack, own_stack, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

REDIS_PORT = 6391
SMTP_PORT = 6398  # in the range kept for these tests; a plain TCP port, not a Redis
REPUBLISH_SECONDS = 4


@pytest.fixture
def stack_for(tmp_path, settings):
    """``stack_for(**env)``: own Redis, publisher pointed at it, a tiny SMTP server (not yet
    listening) that the worker mails through; worker and beat started by the test."""
    smtp = SmtpServer(SMTP_PORT)
    env = {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(SMTP_PORT),
        "EMAIL_TIMEOUT": "5",
        "OUTBOX_SWEEP_SECONDS": "1",
        "OUTBOX_REPUBLISH_SECONDS": str(REPUBLISH_SECONDS),
        "OUTBOX_RETRY_BASE_SECONDS": "1",
        "OUTBOX_RETRY_MAX_SECONDS": "3",
    }
    # This process publishes too (after each commit): same lease as the worker's.
    settings.OUTBOX_REPUBLISH_SECONDS = REPUBLISH_SECONDS
    with ExitStack() as contexts:

        def make(**extra: str) -> Stack:
            stack = contexts.enter_context(own_stack(tmp_path, settings, redis_port=REDIS_PORT, env={**env, **extra}))
            stack.smtp = smtp
            return stack

        yield make
        smtp.stop_listening()


def submit_receipts(count: int) -> list[str]:
    """``count`` applications submitted through the service; their receipt numbers."""
    from tests.factories_consortia import submitted_application

    subjects = []
    for _ in range(count):
        application = submitted_application()
        subjects.append(application.versions.get().receipt_number)
    return subjects


def receipt_rows():
    return OutboxMessage.objects.filter(dedupe_key__startswith="mail:receipt:")


def received_per_receipt(smtp: SmtpServer, receipts: list[str]) -> Counter:
    counts = Counter({number: 0 for number in receipts})
    for subject in smtp.subjects():
        for number in receipts:
            if number in subject:
                counts[number] += 1
    return counts


def test_receipts_published_before_redis_restarts_empty_are_each_mailed_once(stack_for):
    stack = stack_for()
    stack.smtp.listen()
    # The worker is away (a deploy, a crash) while applicants submit: the broker holds the mails.
    receipts = submit_receipts(30)
    rows = receipt_rows()
    assert (rows.count(), rows.filter(status="published").count(), stack.redis.queue_length()) == (30, 30, 30)

    stack.redis.kill()  # Redis dies and comes back empty: the 30 messages are gone
    stack.redis.start()
    assert stack.redis.queue_length() == 0
    restarted = time.monotonic()
    stack.start_worker()
    stack.start_beat()

    wait_for(lambda: SentEmail.objects.filter(key__startswith="receipt:").count() == 30, 60, "30 receipts mailed")
    recovered = time.monotonic() - restarted
    # The broker redelivers every message once more (as after a visibility timeout): nothing is sent twice.
    from portal.tasks import send_email_task

    for row in rows:
        send_email_task.apply_async(kwargs=row.kwargs)
    wait_for(lambda: stack.redis.queue_length() == 0, 30, "the redelivered messages to be consumed")
    time.sleep(REPUBLISH_SECONDS + 2)  # and a sweep past the lease finds nothing left to publish

    counts = received_per_receipt(stack.smtp, receipts)
    lost = sum(1 for n in counts.values() if n == 0)
    duplicated = sum(n - 1 for n in counts.values() if n > 1)
    print(
        f"\nredis restarted empty: 30 receipts, lost {lost}, duplicated {duplicated}, all mailed {recovered:.1f} s after"
    )
    assert (lost, duplicated, len(stack.smtp.received)) == (0, 0, 30)
    assert set(rows.values_list("status", flat=True)) == {"done"}
    assert all(n == 1 for n in counts.values())


@pytest.mark.parametrize("outage", ["answers 421", "refuses connections"])
def test_a_mail_server_unavailable_for_a_while_gets_every_receipt_once_afterwards(stack_for, outage):
    stack = stack_for()
    if outage == "answers 421":
        stack.smtp.mode = "busy"
        stack.smtp.listen()
    stack.start_worker()
    stack.start_beat()
    started = time.monotonic()
    receipts = submit_receipts(15)
    rows = receipt_rows()

    # Each mail is refused at least twice while the outage lasts; none is given up or sent.
    wait_for(lambda: rows.filter(failures__gte=2).count() == 15, 60, "every mail to be refused twice")
    time.sleep(max(0.0, 20 - (time.monotonic() - started)))  # a 20 s outage
    assert (SentEmail.objects.count(), rows.filter(status="failed").count()) == (0, 0)
    assert all("421" in e or "Connection" in e for e in rows.values_list("last_error", flat=True))

    if outage == "answers 421":
        stack.smtp.mode = "accept"
    else:
        stack.smtp.listen()
    back = time.monotonic()
    wait_for(lambda: rows.filter(status="done").count() == 15, 60, "every mail to be sent")
    recovered = time.monotonic() - back
    time.sleep(REPUBLISH_SECONDS + 2)

    counts = received_per_receipt(stack.smtp, receipts)
    lost = sum(1 for n in counts.values() if n == 0)
    duplicated = sum(n - 1 for n in counts.values() if n > 1)
    attempts = sorted(rows.values_list("failures", flat=True))
    print(
        f"\nmail server {outage} for 20 s: 15 receipts, lost {lost}, duplicated {duplicated}, "
        f"refused attempts per mail {attempts[0]}-{attempts[-1]}, all sent {recovered:.1f} s after it came back"
    )
    assert (lost, duplicated, len(stack.smtp.received), SentEmail.objects.count()) == (0, 0, 15, 15)


def test_a_mail_server_refusing_past_the_retry_window_leaves_a_visible_failure_and_an_alert(
    stack_for, admin_user, client
):
    stack = stack_for(MAIL_RETRY_SECONDS="4")
    stack.smtp.mode = "busy"
    stack.smtp.listen()
    stack.start_worker()
    stack.start_beat()
    receipts = submit_receipts(3)
    rows = receipt_rows()

    wait_for(lambda: rows.filter(status="failed").count() == 3, 60, "the mails to be given up")
    stack.smtp.mode = "accept"
    time.sleep(REPUBLISH_SECONDS + 2)  # given up means given up: no late copy once the server is back
    assert (len(stack.smtp.received), SentEmail.objects.count()) == (0, 0)
    failed = list(rows.order_by("id"))
    assert all(r.failed_at and r.failures >= 2 and "421" in r.last_error for r in failed)
    # The alert: one ERROR line per mail in the worker's log, one audit entry per mail ...
    log = stack.log.read_text()
    assert sum(1 for line in log.splitlines() if "ERROR" in line and "gave up on mail:receipt:" in line) == 3
    audited = AuditEntry.objects.filter(action="outbox.failed").values_list("after", flat=True)
    assert sorted(a["dedupe_key"] for a in audited) == sorted(f"mail:receipt:{n}" for n in receipts)
    # ... and the failed rows listed for the administrator.
    from tests.conftest import mark_reauthenticated

    client.force_login(admin_user)
    mark_reauthenticated(client, admin_user)
    session = client.session
    session["portal_second_factor_ok"] = True
    session.save()
    page = client.get("/admin/portal/outboxmessage/", {"status__exact": "failed"})
    assert page.status_code == 200
    text = page.content.decode()
    assert all(f"mail:receipt:{n}" in text for n in receipts)
