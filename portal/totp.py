"""Authenticator-app (TOTP) codes of a user's django-allauth authenticator: one place for
the demo command, the API's step-up check (``portal/reauth.py``) and the tests.

A step-up code sent over the API (``X-OTP``) is accepted **once**: the code of the current
30-second step or of the one before (an app's code read just before it changed), and each
of those steps at most once per user. The steps already spent are kept on the user's own
authenticator row (``Authenticator.data``), changed under a row lock, so the rule holds
across web workers and machines and does not depend on the cache being up.
"""

from __future__ import annotations

import time

from allauth.core.internal.cryptokit import compare_user_code
from allauth.mfa import app_settings
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from allauth.mfa.utils import decrypt
from django.db import transaction

#: Where the spent steps are kept in the authenticator's JSON (allauth itself only reads "secret").
USED_STEPS_KEY = "portal_api_used_steps"
#: How many steps a code stays acceptable: the current one and the one before.
ACCEPTED_STEPS = 2


def totp_secret(user) -> str | None:
    """The user's TOTP secret, or None if they have no authenticator."""
    authenticator = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()
    return None if authenticator is None else decrypt(authenticator.data["secret"])


def totp_has_authenticator(user) -> bool:
    """Whether the user has enrolled an authenticator app."""
    return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


def totp_step(at: float | None = None) -> int:
    """The number of the 30-second step ``at`` (default: now) falls in."""
    return int(time.time() if at is None else at) // app_settings.TOTP_PERIOD


def totp_code(secret: str, step: int | None = None) -> str:
    """The code an authenticator app shows for ``secret`` now (or during ``step``)."""
    return format_hotp_value(hotp_value(secret, totp_step() if step is None else step))


def totp_steps_used(user) -> set[int]:
    """The recent steps whose code this user has already spent on an API step-up."""
    authenticator = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()
    return set() if authenticator is None else set(authenticator.data.get(USED_STEPS_KEY, []))


def totp_code_accept(user, code: str) -> bool:
    """Accept ``code`` as the user's step-up proof, once.

    True if it is the code of the current or the previous step and that step was not spent
    yet; the step is then recorded as spent (in the same transaction), so the same code, or
    any other code of that step, is refused from now on. False for anything else (wrong,
    old, malformed, already used, or no authenticator).
    """
    code = (code or "").strip()
    if not (code.isascii() and code.isdigit() and len(code) == app_settings.TOTP_DIGITS):
        return False
    with transaction.atomic():
        authenticator = (
            Authenticator.objects.select_for_update().filter(user=user, type=Authenticator.Type.TOTP).first()
        )
        if authenticator is None:
            return False
        secret = decrypt(authenticator.data["secret"])
        now = totp_step()
        for step in range(now, now - ACCEPTED_STEPS, -1):
            if compare_user_code(actual=code, expected=totp_code(secret, step)):
                break
        else:
            return False
        used = {s for s in authenticator.data.get(USED_STEPS_KEY, []) if s > now - ACCEPTED_STEPS}
        if step in used:
            return False
        authenticator.data = {**authenticator.data, USED_STEPS_KEY: sorted(used | {step})}
        authenticator.save(update_fields=["data"])
        return True
