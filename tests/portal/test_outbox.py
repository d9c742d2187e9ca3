"""The outbox in-process: published after commit, never when rolled back, headers safe."""

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import transaction

from portal.mail import mail_queue, mail_send_once
from portal.models import OutboxMessage, SentEmail

pytestmark = pytest.mark.django_db(transaction=True)


def test_queued_mail_is_sent_once_after_commit():
    with transaction.atomic():
        mail_queue(key="k1", to=["a@example.kr"], subject="제목", body="본문")
        assert mail.outbox == []
    assert [m.subject for m in mail.outbox] == ["제목"]
    assert OutboxMessage.objects.get().status == "done"  # the sent-mail row is recorded
    assert mail_send_once(key="k1", to=["a@example.kr"], subject="제목", body="본문") is False
    assert len(mail.outbox) == 1


def test_rolled_back_request_publishes_nothing():
    with pytest.raises(RuntimeError), transaction.atomic():
        mail_queue(key="k2", to=["a@example.kr"], subject="s", body="b")
        raise RuntimeError("the request failed")
    assert (OutboxMessage.objects.count(), SentEmail.objects.count(), len(mail.outbox)) == (0, 0, 0)


@pytest.mark.parametrize("subject", ["hello\nBcc: victim@example.com", "x\r\nTo: y@example.com"])
def test_line_breaks_in_headers_are_refused(subject):
    with pytest.raises(ValidationError):
        mail_queue(key="k3", to=["a@example.kr"], subject=subject, body="b")
    assert OutboxMessage.objects.count() == 0
