"""E-mail through the outbox, sent at most once per key."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction

from portal.models import SentEmail
from portal.outbox import outbox_publish


def _safe_header(value: str) -> str:
    # NOTE: a line break in a header would let user text inject headers.
    if "\n" in value or "\r" in value:
        raise ValidationError("e-mail header values may not contain line breaks")
    return value


def mail_queue(*, key: str, to: list[str], subject: str, body: str) -> None:
    """Queue an e-mail in the caller's transaction; it is sent once, after commit."""
    _safe_header(subject)
    for address in to:
        _safe_header(address)
    outbox_publish(
        task_name="portal.send_email",
        kwargs={"key": key, "to": to, "subject": subject, "body": body},
        dedupe_key=f"mail:{key}",
    )


def mail_send_once(*, key: str, to: list[str], subject: str, body: str) -> bool:
    """Send unless a message with this key was already sent; True if sent now.

    The key row and the hand-over to the mail server share one transaction: if sending
    fails the row is rolled back and a retry sends again; if the row exists the message
    went out before and is not repeated.
    """
    try:
        with transaction.atomic():
            SentEmail.objects.create(key=key, recipients=to, subject=_safe_header(subject)[:300])
            send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, to)
    except IntegrityError:
        return False
    return True
