"""The application deadline: whether it has passed, and the one refusal after it.

Every write on a programme's organisations, consortia and applications refuses with the same
409 (``deadline_passed``, the same sentence) once the deadline has passed. Submission and
withdrawal and attachment uploads judge by the time the portal received the request
(``received=True``: nobody is refused for waiting in the portal's own queue); the other
writes by the server's time.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone
from django.utils.translation import gettext as _

from portal.errors import DomainError
from portal.formatting import kst
from portal.models import Programme


def deadline_passed(programme: Programme, *, now: datetime | None = None) -> bool:
    """True once ``now`` (default: the server's time) is after ``closes_at`` (at ``closes_at``
    exactly it is still open)."""
    return (now or timezone.now()) > programme.closes_at


def deadline_refusal(programme: Programme, *, now: datetime, received: bool = False) -> DomainError:
    """The 409 that says the deadline has passed and nothing was changed; its details carry the
    deadline and the time judged (``server_time``, and ``received_at`` when ``now`` is the time
    the portal received the request)."""
    error = DomainError(
        _("The application deadline (%(deadline)s) has passed; nothing was changed.")
        % {"deadline": kst(programme.closes_at)},
        code="deadline_passed",
        details={"deadline": programme.closes_at, "server_time": now},
    )
    if received:
        error.details["received_at"] = now
    return error


def refuse_after_deadline(programme: Programme, *, now: datetime | None = None, received: bool = False) -> None:
    """Raise :func:`deadline_refusal` if ``now`` (default: the server's time) is after the deadline."""
    now = now or timezone.now()
    if deadline_passed(programme, now=now):
        raise deadline_refusal(programme, now=now, received=received)
