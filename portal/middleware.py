import time

from django.contrib.auth import logout
from django.shortcuts import redirect
from django.urls import reverse

from portal.audit import RequestContext, current_request
from portal.net import client_ip

SESSION_STARTED_KEY = "portal_session_started"
SESSION_TOUCHED_KEY = "portal_session_touched"
SECOND_FACTOR_OK_KEY = "portal_second_factor_ok"


class RequestContextMiddleware:
    """Makes the user and client address known to services (for the audit trail), slides
    a signed-in session's idle expiry (saving it at most every ``SESSION_TOUCH_SECONDS``)
    and ends a session at its absolute lifetime whatever the activity."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from django.conf import settings

        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            started = request.session.get(SESSION_STARTED_KEY)
            now = int(time.time())
            if started is None:
                request.session[SESSION_STARTED_KEY] = now
            elif now - started > settings.SESSION_ABSOLUTE_SECONDS:
                logout(request)
            if request.user.is_authenticated and now - request.session.get(SESSION_TOUCHED_KEY, 0) >= (
                settings.SESSION_TOUCH_SECONDS
            ):
                request.session[SESSION_TOUCHED_KEY] = now  # modified: saved with a fresh expiry
        token = current_request.set(RequestContext(user=getattr(request, "user", None), ip=client_ip(request)))
        try:
            return self.get_response(request)
        finally:
            current_request.reset(token)


# Paths a staff member without a second factor may still reach: setting it up,
# logging out, language switch, static files, health and public verification.
_TWO_FACTOR_EXEMPT_PREFIXES = ("/accounts/", "/i18n/", "/static/", "/healthz", "/verify/", "/favicon")


class StaffTwoFactorMiddleware:
    """Officers and administrators must have TOTP before any other page (SPEC §10)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and user.needs_second_factor
            and not request.session.get(SECOND_FACTOR_OK_KEY)
            and not request.path.startswith(_TWO_FACTOR_EXEMPT_PREFIXES)
        ):
            from allauth.mfa.models import Authenticator

            if Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
                request.session[SECOND_FACTOR_OK_KEY] = True
            else:
                if request.path.startswith("/api/"):
                    from django.http import JsonResponse

                    from portal.api_auth import two_factor_enrolment_message

                    return JsonResponse(
                        {"detail": two_factor_enrolment_message(), "code": "two_factor_required"}, status=403
                    )
                return redirect(reverse("mfa_activate_totp"))
        return self.get_response(request)


class RefusedAccessAuditMiddleware:
    """Records every 404 answered to a signed-in user: objects the user may not see answer
    404, so this is the trail of attempts on another party's objects (who, when, from
    where, which path and method)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if (
            response.status_code == 404
            and user is not None
            and user.is_authenticated
            and not request.path.startswith(("/static/", "/favicon"))
        ):
            from portal.audit import audit_record

            audit_record(
                action="access.refused",
                actor=user,
                object_type="path",
                object_repr=request.path[:255],
                after={"method": request.method},
            )
        return response


class AccessLogMiddleware:
    """Records each successful read of personal data by a reviewer, officer or
    administrator (who, when, from where, what, which action): ``portal/access_log.py``."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        from portal.access_log import access_log_record

        access_log_record(request, response)
        return response
