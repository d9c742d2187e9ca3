from allauth.account.adapter import DefaultAccountAdapter

from portal.enums import Role
from portal.net import client_ip


class PortalAccountAdapter(DefaultAccountAdapter):
    """Sign-up creates applicants only; other roles are granted by administrators."""

    def save_user(self, request, user, form, commit=True):
        user.role = Role.APPLICANT
        return super().save_user(request, user, form, commit=commit)

    def get_client_ip(self, request):
        # NOTE: the same trusted-proxy rule as the audit trail, so a forged
        # X-Forwarded-For cannot dodge the login throttle.
        return client_ip(request) or "0.0.0.0"  # noqa: S104 -- a placeholder address, not a bind
