"""Response headers that the portal adds to every answer, pages, API, static files and errors alike.

``Permissions-Policy`` switches off the browser features the portal never uses (camera,
microphone, location, payment, USB, sensors, screen capture, MIDI), for its own pages and
for anything they might embed; ``fullscreen`` stays allowed for the portal's own pages.
Django's ``SecurityMiddleware`` sends the other secure headers (nosniff, referrer policy,
HSTS in production), django-csp the Content-Security-Policy.
"""

from __future__ import annotations

from django.conf import settings

DEFAULT_PERMISSIONS_POLICY = {
    "accelerometer": "()",
    "camera": "()",
    "display-capture": "()",
    "fullscreen": "(self)",
    "geolocation": "()",
    "gyroscope": "()",
    "magnetometer": "()",
    "microphone": "()",
    "midi": "()",
    "payment": "()",
    "usb": "()",
}


def permissions_policy_header() -> str:
    policy = getattr(settings, "PERMISSIONS_POLICY", DEFAULT_PERMISSIONS_POLICY)
    return ", ".join(f"{feature}={allow}" for feature, allow in policy.items())


class PermissionsPolicyMiddleware:
    """Adds ``Permissions-Policy`` to every response (first in the stack, so the answers of
    the other middleware — static files, refusals, error pages — carry it too)."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.header = permissions_policy_header()

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", self.header)
        return response
