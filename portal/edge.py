"""What the portal does at its edge, before any other middleware: the health answer and the
time a request waited behind the front proxy.

``HealthCheckMiddleware`` comes first in ``MIDDLEWARE``: a container's own health probe
(``http://127.0.0.1:8000/healthz``) is answered whatever ``ALLOWED_HOSTS`` and the https
redirect say, because the host check (``request.get_host()``) and ``SECURE_SSL_REDIRECT``
live in SecurityMiddleware and CommonMiddleware further down.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.http import JsonResponse

HEALTH_PATH = "/healthz"


class HealthCheckMiddleware:
    """Answer ``GET``/``HEAD /healthz`` with the health report (200 or 503) before any
    host validation or redirect. The answer is the same JSON as before: each part's status."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info == HEALTH_PATH and request.method in ("GET", "HEAD"):
            from portal.health import health_report

            report = health_report()
            response = JsonResponse(report, status=200 if report["status"] == "ok" else 503)
            response["Cache-Control"] = "no-store"
            return response
        return self.get_response(request)


def request_queue_seconds(request) -> float | None:
    """Seconds between the front proxy receiving the request and the portal starting on it.

    The proxy writes ``X-Request-Start: t=<seconds since the epoch>`` (nginx's ``$msec``),
    replacing whatever the client sent. The header is believed only when a proxy is
    configured (``TRUSTED_PROXY_COUNT`` > 0): without one, it came from the client.
    """
    if settings.TRUSTED_PROXY_COUNT <= 0:
        return None
    raw = request.META.get("HTTP_X_REQUEST_START", "")
    value = raw[2:] if raw.startswith("t=") else raw
    try:
        started = float(value)
    except ValueError:
        return None
    waited = time.time() - started
    # NOTE: clocks of two machines may disagree by a little; a negative wait is clock skew.
    return max(waited, 0.0) if waited < 24 * 60 * 60 else None


class RequestQueueMiddleware:
    """Report the proxy queue time as ``Server-Timing: queue;dur=<ms>`` on the response, so
    that an operator sees from the outside whether requests wait for a free web worker."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        waited = request_queue_seconds(request)
        response = self.get_response(request)
        if waited is not None:
            response["Server-Timing"] = f"queue;dur={waited * 1000:.1f}"
        return response
