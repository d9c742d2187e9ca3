from celery import shared_task
from django.db import InterfaceError, OperationalError


@shared_task(name="portal.ping", ignore_result=False)
def ping_task(value: str = "ping") -> str:
    """A round trip through the broker and a worker, used by health checks and tests."""
    return f"pong:{value}"


@shared_task(
    name="portal.send_email",
    acks_late=True,
    # A lost database session is retried here; a refusing mail server is retried by the
    # outbox (portal/mail.py), whose schedule survives a broker that restarts empty.
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=5,
)
def send_email_task(*, key: str, to: list[str], subject: str, body: str) -> str:
    """Idempotent: a redelivered message finds its key and sends nothing."""
    from portal.mail import mail_deliver

    return mail_deliver(key=key, to=to, subject=subject, body=body)


@shared_task(name="portal.outbox_drain")
def outbox_drain_task() -> int:
    from portal.outbox import outbox_drain

    return outbox_drain()


@shared_task(name="portal.access_log_prune")
def access_log_prune_task() -> int:
    from portal.access_log import access_log_prune

    return access_log_prune()
