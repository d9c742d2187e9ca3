"""API authentication: DRF's token, refused to staff who have no second factor (SPEC §10).

Officers and administrators must enrol an authenticator app before they use the portal;
``StaffTwoFactorMiddleware`` enforces it for sessions (pages and session-authenticated API
calls), and this class for API tokens, which the middleware never sees (DRF reads the
token inside the view). Either way the answer is the same 403 saying how to enrol.
"""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext as _
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed, PermissionDenied


def two_factor_enrolment_message() -> str:
    """What a staff member without an authenticator app is told, pages and API alike."""
    return _(
        "Officers and administrators must set up two-factor authentication before using the portal or its "
        "API: sign in to the portal and add an authenticator app at %(path)s, then try again."
    ) % {"path": reverse("mfa_activate_totp")}


class StaffTokenAuthentication(TokenAuthentication):
    """``Authorization: Token …``; an officer's or administrator's token works only once
    they have enrolled TOTP (403 with how to enrol; nothing is done)."""

    def authenticate_credentials(self, key):
        from allauth.mfa.models import Authenticator
        from django.db.models import Exists, OuterRef
        from rest_framework.authtoken.models import Token

        # One query, as DRF's own: the token, its user and whether they enrolled TOTP.
        enrolled = Authenticator.objects.filter(user=OuterRef("user"), type=Authenticator.Type.TOTP)
        token = Token.objects.select_related("user").annotate(has_totp=Exists(enrolled)).filter(key=key).first()
        if token is None:
            raise AuthenticationFailed(_("Invalid token."))
        if not token.user.is_active:
            raise AuthenticationFailed(_("User inactive or deleted."))
        if token.user.needs_second_factor and not token.has_totp:
            raise PermissionDenied(two_factor_enrolment_message(), code="two_factor_required")
        return token.user, token
