from django.conf import settings


def client_ip(request) -> str | None:
    """The client's address: the TCP peer, or the entry a trusted proxy appended.

    Only the last ``TRUSTED_PROXY_COUNT`` entries of X-Forwarded-For were written by
    our own proxies; anything to their left is whatever the client sent, so a spoofed
    header cannot change the address used for throttling and the audit trail.
    """
    count = settings.TRUSTED_PROXY_COUNT
    if count > 0:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= count:
            return forwarded[-count]
    return request.META.get("REMOTE_ADDR") or None
