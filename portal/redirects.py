"""Where a form may send the browser next: only back into the portal (no open redirect)."""

from __future__ import annotations

from django.utils.http import url_has_allowed_host_and_scheme


def safe_next_url(request, candidate: str | None, fallback: str) -> str:
    """``candidate`` (a ``next`` field, a Referer) if it points into this portal — a path,
    or an absolute URL on this host with the request's scheme — else ``fallback``.

    Uses Django's ``url_has_allowed_host_and_scheme``, as its own login and language views do:
    ``https://evil.example/``, ``//evil.example``, ``/\\evil.example`` and ``javascript:`` are refused.
    """
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return fallback
