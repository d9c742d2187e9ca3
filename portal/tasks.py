from celery import shared_task


@shared_task(name="portal.ping")
def ping_task(value: str = "ping") -> str:
    """A round trip through the broker and a worker, used by health checks and tests."""
    return f"pong:{value}"
