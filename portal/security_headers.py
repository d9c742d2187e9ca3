"""Response headers that the portal adds to every answer, pages, API, static files and errors alike.

``Permissions-Policy`` switches off the browser features the portal never uses (camera,
microphone, location, payment, USB, sensors, screen capture, MIDI), for its own pages and
for anything they might embed; ``fullscreen`` stays allowed for the portal's own pages.
Django's ``SecurityMiddleware`` sends the other secure headers (nosniff, referrer policy,
HSTS in production), django-csp the Content-Security-Policy.
"""

from __future__ import annotations

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject
from csp.middleware import CSPMiddleware as _CSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.core.signals import setting_changed  # (what django.test.signals sends)
from django.dispatch import receiver

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


class CSPMiddleware(_CSPMiddleware):
    """django-csp's middleware, with the policy text built once per process.

    django-csp builds both headers from the settings on every response. When a response
    carries no per-view change (``@csp_update``/``@csp_replace``/``@csp_exempt``) and the
    page used no nonce, the text is always the same: it is built once (again after a test
    changes the settings) and reused. Anything else goes through django-csp unchanged.
    """

    _ATTRIBUTES = (
        "_csp_config", "_csp_update", "_csp_replace", "_csp_exempt",
        "_csp_config_ro", "_csp_update_ro", "_csp_replace_ro", "_csp_exempt_ro",
    )  # fmt: skip
    _built: dict[str, tuple[str, str, tuple[str, ...], tuple[str, ...]]] = {}

    @classmethod
    def _policies(cls) -> tuple[str, str, tuple[str, ...], tuple[str, ...]]:
        built = cls._built.get("policy")
        if built is None:
            enforced = getattr(settings, "CONTENT_SECURITY_POLICY", None) or {}
            report_only = getattr(settings, "CONTENT_SECURITY_POLICY_REPORT_ONLY", None) or {}
            built = (
                build_policy(),
                build_policy(report_only=True),
                tuple(enforced.get("EXCLUDE_URL_PREFIXES", None) or ()),
                tuple(report_only.get("EXCLUDE_URL_PREFIXES", None) or ()),
            )
            cls._built["policy"] = built
        return built

    def process_response(self, request, response):
        if (
            getattr(request, "_csp_nonce", None) is not None
            or any(hasattr(response, name) for name in self._ATTRIBUTES)
            or (settings.DEBUG and response.status_code in (404, 500))
        ):
            return super().process_response(request, response)
        csp, csp_ro, prefixes, prefixes_ro = self._policies()
        path = request.path_info
        if csp and HEADER not in response and not path.startswith(prefixes):
            response[HEADER] = csp
        if csp_ro and HEADER_REPORT_ONLY not in response and not path.startswith(prefixes_ro):
            response[HEADER_REPORT_ONLY] = csp_ro
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)
        return response


@receiver(setting_changed)
def _forget_built_policy(*, setting, **kwargs):
    if setting in ("CONTENT_SECURITY_POLICY", "CONTENT_SECURITY_POLICY_REPORT_ONLY"):
        CSPMiddleware._built.clear()
