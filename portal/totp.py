"""Authenticator-app (TOTP) codes of a user's django-allauth authenticator: one place for
the demo command, the API's step-up check (``portal/reauth.py``) and the tests."""

from __future__ import annotations

import time

from allauth.mfa import app_settings
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value, validate_totp_code
from allauth.mfa.utils import decrypt


def totp_secret(user) -> str | None:
    """The user's TOTP secret, or None if they have no authenticator."""
    authenticator = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()
    return None if authenticator is None else decrypt(authenticator.data["secret"])


def totp_code(secret: str) -> str:
    """The code an authenticator app shows now for ``secret``."""
    return format_hotp_value(hotp_value(secret, int(time.time()) // app_settings.TOTP_PERIOD))


def totp_code_is_current(user, code: str) -> bool:
    """Whether ``code`` is the user's current code (within allauth's tolerance)."""
    code = (code or "").strip()
    secret = totp_secret(user) if code.isdigit() else None
    return secret is not None and validate_totp_code(secret, code)
