"""The application's states and the one function that changes them.

    draft ──submit──▶ submitted ──withdraw──▶ withdrawn
                       │  ▲                     │
                       └──┘ resubmit            └──submit──▶ submitted

Every edge names the permission that guards it; nothing else assigns ``Application.state``.
All edges are possible only up to the programme's deadline (the services check it inside
their transaction).
"""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _

from consortia.enums import ApplicationState as S
from consortia.models import Application
from portal.audit import audit_record
from portal.errors import DomainError
from portal.korean import particles

TRANSITIONS: dict[tuple[str, str], str] = {
    (S.DRAFT, S.SUBMITTED): "consortia.submit_application",
    (S.SUBMITTED, S.SUBMITTED): "consortia.submit_application",  # a resubmission: a new version
    (S.WITHDRAWN, S.SUBMITTED): "consortia.submit_application",
    (S.SUBMITTED, S.WITHDRAWN): "consortia.withdraw_application",
}


def application_transition(
    *, application: Application, to: str, by, reason: str = "", extra: dict | None = None
) -> Application:
    """Move a locked ``application`` to ``to`` along an allowed edge, save and audit it.

    The caller holds the application's row lock inside its transaction. Refuses edges not in
    :data:`TRANSITIONS` with a 409.
    """
    before = application.state
    if (before, to) not in TRANSITIONS:
        raise DomainError(
            particles(
                _("An application cannot go from %(before)s to %(after)s.")
                % {"before": S(before).label, "after": S(to).label}
            ),
            code="invalid_transition",
        )
    application.state = to
    application.withdrawn_at = timezone.now() if to == S.WITHDRAWN else None
    application.save(update_fields=["state", "withdrawn_at"])
    action = "application.withdraw" if to == S.WITHDRAWN else "application.submit"
    audit_record(
        action=action,
        obj=application,
        actor=by,
        before={"state": before},
        after={"state": to, **(extra or {})},
        reason=reason,
    )
    return application
