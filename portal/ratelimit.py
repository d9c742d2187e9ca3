"""Rate limits on submitting and uploading (SPEC §4, §10): against abuse volumes only.

Each limited action counts per user and per application in fixed windows held in the
shared cache (Redis in production, or the database cache), so every web process counts
together. The limits (``PORTAL_RATE_LIMITS``) are sized far above what a team does: a
handful of last-minute resubmits a minute, or a script uploading a dozen files, are never
refused; fifty submits of one application in a second are. SPEC §4 says no one is refused
for the portal's own slowness, so:

- a retry of the same request (the same ``Idempotency-Key``) is counted once, however often
  a slow answer made the client send it again;
- the check never waits: with the cache unavailable it lets the request through and logs a
  line (fail open) rather than refuse or delay a submission before the deadline.

A refusal is ``RateLimited``: HTTP 429 with ``Retry-After`` (the seconds until the window
that refused it ends) and a message saying so, and nothing done.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time

from django.conf import settings
from django.core.cache import caches
from django.utils.translation import gettext as _

from portal.errors import DomainError

logger = logging.getLogger(__name__)

#: (count, seconds) windows per subject; overridable with the setting of the same name.
DEFAULT_RATE_LIMITS = {
    "submit": {"user": [(10, 10), (30, 60)], "application": [(10, 10), (30, 60)]},
    "upload": {"user": [(20, 10), (60, 60)], "application": [(30, 10), (120, 60)]},
}


class RateLimited(DomainError):
    """Too many requests of one kind: 429, ``Retry-After`` seconds, nothing done."""

    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int):
        super().__init__(message, details={"retry_after": retry_after})
        self.retry_after = retry_after
        self.headers = {"Retry-After": str(retry_after)}


def _limits(scope: str) -> dict:
    return getattr(settings, "PORTAL_RATE_LIMITS", DEFAULT_RATE_LIMITS)[scope]


def _count(cache, key: str, timeout: int) -> int:
    cache.add(key, 0, timeout=timeout)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=timeout)
        return 1


def _count_all(cache, counters: list[tuple[str, int]]) -> list[int]:
    """``_count`` for each (key, timeout), in one round trip to Redis (a pipeline) when the
    cache is Redis: a submission in the deadline rush waits for Redis once, not once per counter."""
    from django.core.cache.backends.redis import RedisCache

    if not isinstance(cache, RedisCache):
        return [_count(cache, key, timeout) for key, timeout in counters]
    pipe = cache._cache.get_client(write=True).pipeline(transaction=False)
    for key, timeout in counters:
        full = cache.make_and_validate_key(key)
        pipe.set(full, 0, ex=timeout, nx=True)  # ``add`` of 0, as ``_count`` does
        pipe.incr(full)
    return pipe.execute()[1::2]


def rate_limit_check(*, scope: str, user, application, request_key: str = "") -> None:
    """Count one ``scope`` action ("submit", "upload") by ``user`` on ``application``;
    raise ``RateLimited`` if that exceeds a limit. Called after the permission check (so
    nobody can spend another team's allowance) and before any work.

    ``request_key`` (an idempotency key) makes repeats of one request count once.
    """
    now = time.time()
    retry_after = 0
    try:
        cache = caches[getattr(settings, "PORTAL_RATE_LIMIT_CACHE", "default")]
        if request_key:
            digest = hashlib.sha256(request_key.encode()).hexdigest()[:32]
            longest = max(seconds for windows in _limits(scope).values() for _count_, seconds in windows)
            if not cache.add(f"rl:{scope}:seen:{application.pk}:{digest}", 1, timeout=longest + 5):
                return  # the same request again: already counted
        counters = [
            (limit, seconds, int(now // seconds), f"rl:{scope}:{subject}:{ident}:{seconds}:{int(now // seconds)}")
            for subject, ident in (("user", user.pk), ("application", application.pk))
            for limit, seconds in _limits(scope)[subject]
        ]
        counts = _count_all(cache, [(key, seconds + 5) for _limit, seconds, _window, key in counters])
        for (limit, seconds, window, _key), count in zip(counters, counts, strict=True):
            if count > limit:
                retry_after = max(retry_after, math.ceil((window + 1) * seconds - now))
    except Exception as exc:  # noqa: BLE001 -- any cache failure: fail open, never refuse for it
        logger.warning(
            "rate limit not checked (%s by user %s on application %s): the cache is unavailable: %s",
            scope, getattr(user, "pk", None), getattr(application, "pk", None), exc.__class__.__name__,
        )  # fmt: skip
        return
    if retry_after:
        logger.info("rate limit: %s refused for user %s on application %s", scope, user.pk, application.pk)
        if scope == "submit":
            message = _(
                "Too many submissions of this application in a short time. Nothing was changed; "
                "try again in %(seconds)s seconds."
            )
        else:
            message = _(
                "Too many uploads to this application in a short time. Nothing was stored; "
                "try again in %(seconds)s seconds."
            )
        raise RateLimited(message % {"seconds": max(1, retry_after)}, retry_after=max(1, retry_after))


class RateLimitedPageMiddleware:
    """Pages: a ``RateLimited`` raised by a view becomes a 429 page with ``Retry-After``
    (the API answers it through its exception handler, in the API's error shape)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, RateLimited):
            return None
        from django.shortcuts import render

        from portal.redirects import safe_next_url

        back = safe_next_url(request, request.headers.get("Referer"), "")
        context = {"title": _("Too many requests"), "message": exception.message, "back_url": back}
        response = render(request, "portal/refused.html", context, status=429)
        response["Retry-After"] = str(exception.retry_after)
        return response
