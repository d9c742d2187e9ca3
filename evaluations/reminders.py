"""Reminders to reviewers before a scoring window closes.

Two days and one day before a phase's ``scoring_closes_at``, every reviewer who still has an
unsubmitted sheet in that phase (an assignment awaiting the declaration or being scored;
submitted, conflicted and replaced ones do not count) gets one e-mail listing those sheets,
in the reviewer's language (``User.language``). Reviewers with everything submitted get
nothing.

:func:`scoring_reminders_send` is run by Celery beat every few minutes and is safe to run
as often as it likes: each reminder has a key (phase, reviewer, which reminder, the window's
closing moment) that the outbox and the sent-mail table keep unique, so it goes out once.
A reminder whose moment has passed unsent (the phase opened with 30 hours left) is not sent
late: only the one that is due now. An extended window gets its own reminders before its
new close.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from evaluations.enums import AssignmentStatus, PhaseStatus
from evaluations.models import Assignment, Phase
from portal.formatting import kst
from portal.mail import _outbox_key as mail_outbox_key
from portal.mail import mail_queue
from portal.models import OutboxMessage

#: How long before the close each reminder is due, with its name in the mail's key.
REMINDERS = (("2d", timedelta(days=2)), ("1d", timedelta(days=1)))
#: Assignments whose sheet is still to be submitted.
UNSUBMITTED = (AssignmentStatus.AWAITING_DECLARATION, AssignmentStatus.ACTIVE)


def reminder_due(*, closes_at: datetime, now: datetime) -> str | None:
    """Which reminder is due at ``now`` (``"2d"``, ``"1d"``) or ``None``: the 2-day one from
    two days to one day before the close, the 1-day one in the last day."""
    left = closes_at - now
    if left <= timedelta(0):
        return None
    due = None
    for name, before in REMINDERS:
        if left <= before:
            due = name  # the later (closer) reminder wins
    return due


@dataclass(frozen=True)
class ReminderSheet:
    receipt_number: str
    consortium: str
    status: str


def _phase_name(phase: Phase, language: str) -> str:
    return phase.name_en if language == "en" and phase.name_en else phase.name


def reminder_message(*, phase: Phase, reviewer, sheets: list[ReminderSheet], left: str) -> tuple[str, str]:
    """Subject and body in the reviewer's language."""
    language = reviewer.language if reviewer.language in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE
    with translation.override(language):
        name = _phase_name(phase, language)
        when = kst(phase.scoring_closes_at, seconds=False)
        subject = (
            _("Reminder: scoring of %(phase)s closes in two days (%(when)s)")
            if left == "2d"
            else _("Reminder: scoring of %(phase)s closes tomorrow (%(when)s)")
        ) % {"phase": name, "when": when}
        lines = [
            _("Hello %(name)s,") % {"name": str(reviewer)},
            "",
            ngettext(
                "You have %(count)s review in %(phase)s that is not submitted yet:",
                "You have %(count)s reviews in %(phase)s that are not submitted yet:",
                len(sheets),
            )
            % {"count": len(sheets), "phase": name},
        ]
        for sheet in sheets:
            state = (
                _("declaration of interests still to make")
                if sheet.status == AssignmentStatus.AWAITING_DECLARATION
                else _("not submitted")
            )
            lines.append(f"- {sheet.receipt_number} {sheet.consortium} ({state})")
        lines += [
            "",
            _("The scoring window closes at %(when)s. After that, sheets can no longer be saved or submitted.")
            % {"when": when},
            "",
            _("Your reviews:"),
            settings.PORTAL_BASE_URL.rstrip("/") + reverse("evaluations:reviewer_queue"),
            "",
        ]
        return str(subject), "\n".join(str(line) for line in lines)


def scoring_reminders_send(*, now: datetime | None = None) -> int:
    """Queue every reminder due now that was not queued before; returns how many were new.

    One query finds the unsubmitted sheets of every phase whose window closes within two
    days; each reminder is queued in its own transaction (the outbox sends it after commit).
    """
    now = now or timezone.now()
    horizon = now + max(before for _name, before in REMINDERS)
    sheets = (
        Assignment.objects.filter(
            phase__status=PhaseStatus.SCORING,
            phase__scoring_opens_at__lte=now,
            phase__scoring_closes_at__gt=now,
            phase__scoring_closes_at__lte=horizon,
            status__in=UNSUBMITTED,
        )
        .exclude(reviewer__email="")
        .select_related("phase", "reviewer", "application__consortium", "version")
        .order_by("phase_id", "reviewer_id", "id")
    )
    grouped: dict[tuple[int, int], list[Assignment]] = {}
    for assignment in sheets:
        grouped.setdefault((assignment.phase_id, assignment.reviewer_id), []).append(assignment)
    queued = 0
    for (_phase_id, _reviewer_id), assignments in grouped.items():
        phase, reviewer = assignments[0].phase, assignments[0].reviewer
        left = reminder_due(closes_at=phase.scoring_closes_at, now=now)
        if left is None:
            continue
        key = f"scoring-reminder:{phase.pk}:{reviewer.pk}:{left}:{int(phase.scoring_closes_at.timestamp())}"
        subject, body = reminder_message(
            phase=phase,
            reviewer=reviewer,
            sheets=[
                ReminderSheet(
                    receipt_number=a.version.receipt_number if a.version_id else "",
                    consortium=a.application.consortium.name,
                    status=a.status,
                )
                for a in assignments
            ],
            left=left,
        )
        with transaction.atomic():
            queued += _queue_once(key=key, to=[reviewer.email], subject=subject, body=body)
    return queued


def _queue_once(*, key: str, to: list[str], subject: str, body: str) -> int:
    """Queue the reminder unless an earlier run did (1 if queued now). The outbox keeps one
    row per key and the sent-mail table one hand-over, so a race between two runs still
    sends it once; this check only keeps the count honest."""
    if OutboxMessage.objects.filter(dedupe_key=mail_outbox_key(key)).exists():
        return 0
    mail_queue(key=key, to=to, subject=subject, body=body)
    return 1
