"""E-mail through the outbox: sent once per key, retried while the mail server refuses
for a passing reason.

A mail server answering 4xx (421 "try again later", 451...) or not reachable at all
(connection refused, timed out, dropped) is asked again after a growing back-off, for
``MAIL_RETRY_SECONDS`` after the first refusal (one hour by default); then the outbox row
is failed, audited and logged at ERROR. A 5xx answer fails it at once. The unique key of
:class:`~portal.models.SentEmail` keeps each message to one hand-over however many times
its task runs.
"""

from __future__ import annotations

import smtplib
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction

from portal.models import SentEmail
from portal.outbox import outbox_done, outbox_fail, outbox_publish, outbox_retry_later


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
        dedupe_key=_outbox_key(key),
    )


def _outbox_key(key: str) -> str:
    return f"mail:{key}"


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
            outbox_done(dedupe_key=_outbox_key(key))
    except IntegrityError:
        outbox_done(dedupe_key=_outbox_key(key))  # sent before; the row may not say so yet
        return False
    return True


def mail_refusal(exc: BaseException) -> tuple[bool, str] | None:
    """``(passing, description)`` when ``exc`` is the mail server refusing or unreachable;
    ``None`` for any other error. 4xx answers and network failures pass; 5xx do not."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = sorted({code for code, _message in exc.recipients.values()})
        return all(400 <= code < 500 for code in codes), f"recipients refused ({', '.join(map(str, codes))})"
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return 400 <= exc.smtp_code < 500, f"SMTP {exc.smtp_code} {text}"[:200]
    if isinstance(exc, OSError):  # refused, reset, timed out, disconnected (SMTPException is an OSError)
        return True, f"{exc.__class__.__name__}: {exc}"[:200]
    return None


def mail_deliver(*, key: str, to: list[str], subject: str, body: str) -> str:
    """Hand the message to the mail server once; what the send task runs.

    Returns ``sent``, ``already_sent``, ``retry`` (refused for a passing reason: the outbox
    publishes it again after the back-off) or ``failed`` (given up: visible on the row,
    audited, logged at ERROR). Errors other than the mail server's propagate.
    """
    try:
        return "sent" if mail_send_once(key=key, to=to, subject=subject, body=body) else "already_sent"
    except Exception as exc:
        refusal = mail_refusal(exc)
        if refusal is None:
            raise
        passing, reason = refusal
        if passing:
            status = outbox_retry_later(
                dedupe_key=_outbox_key(key), error=reason, give_up_after=timedelta(seconds=settings.MAIL_RETRY_SECONDS)
            )
        else:
            status = outbox_fail(dedupe_key=_outbox_key(key), error=reason)
        if status is None:
            raise  # not queued through the outbox: nothing would try again
        return "failed" if status == "failed" else "retry"
