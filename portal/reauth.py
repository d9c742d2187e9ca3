"""Re-authentication before the most consequential actions (SPEC §10).

Starting or approving an allocation run and issuing or exporting award notices ask the
officer to prove again who they are, whatever the age of their session:

- in the portal (a session), django-allauth's re-authentication: the password or an
  authenticator code, then the suspended request goes on; the proof holds for
  ``ACCOUNT_REAUTHENTICATION_TIMEOUT`` seconds (5 minutes);
- over the API with a token, a current authenticator code in the ``X-OTP`` header of
  the request itself (officers and administrators always have one: see
  ``StaffTwoFactorMiddleware`` and ``portal.api_auth.StaffTokenAuthentication``), each code
  accepted once (``portal.totp.totp_code_accept``); a session-authenticated API call needs
  the portal's recent re-authentication.

The check comes right after the permission check (someone who may not act at all still
gets 404) and before the request's input is read or validated: a wrong code answers 403,
never a validation message.
"""

from __future__ import annotations

from allauth.account.internal.flows.reauthentication import did_recently_reauthenticate
from allauth.core.exceptions import ReauthenticationRequired
from django.utils.translation import gettext as _
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import PermissionDenied

from portal.totp import totp_code_accept

OTP_HEADER = "X-OTP"


def recently_authenticated(request) -> bool:
    """Whether the request's user proved who they are just now (see the module docstring)."""
    user = request.user
    if not user.is_authenticated:
        return False
    if isinstance(getattr(request, "auth", None), Token):
        # NOTE: the code is spent by the first check; a second check of the same request
        # (one action calling another) reads the outcome instead of spending it again.
        if not hasattr(request, "_portal_step_up"):
            request._portal_step_up = totp_code_accept(user, request.headers.get(OTP_HEADER, ""))
        return request._portal_step_up
    return did_recently_reauthenticate(request)


def require_recent_authentication_page(request) -> None:
    """For portal pages: raise allauth's signal, which its middleware turns into the
    re-authentication page and, once done, the suspended request carried on."""
    if not recently_authenticated(request):
        raise ReauthenticationRequired()


def require_recent_authentication_api(request) -> None:
    """For the API: a 403 that says how to prove it, and nothing done."""
    if not recently_authenticated(request):
        raise PermissionDenied(
            _(
                "This action needs a fresh proof of who you are: send the current code of your authenticator "
                "app in the %(header)s header (each code works once; wait for the next one to act again), or "
                "re-authenticate in the portal (%(path)s) and try again within 5 minutes."
            )
            % {"header": OTP_HEADER, "path": "/accounts/reauthenticate/"},
            code="reauthentication_required",
        )
