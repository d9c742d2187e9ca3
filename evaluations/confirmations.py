"""What the confirmation step says before a reviewer submits a score sheet and before an
officer finalises or publishes a phase (``portal/confirm.py``)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from evaluations.enums import AssignmentStatus, CriterionSource
from evaluations.models import Appeal, Phase
from evaluations.selectors import phase_applications
from portal.confirm import Confirmation
from portal.formatting import kst
from portal.templatetags.portal_home import local_name

#: Phase actions that need the confirmation step (open scoring and make final do not).
CONFIRMED_PHASE_ACTIONS = ("finalise", "publish")


def score_submit_confirmation(assignment, *, action_url: str) -> Confirmation:
    """Before a sheet is submitted: the saved scores, criterion by criterion, and their total."""
    criteria = list(assignment.phase.criteria.filter(source=CriterionSource.EXPERT, is_gate=False))
    mine = {s.criterion_id: s.value for s in assignment.scores.all()}
    details = [(c.name, f"{mine[c.id]} / {c.max_points}" if c.id in mine else _("not scored")) for c in criteria]
    total = sum((mine.get(c.id, Decimal(0)) for c in criteria), Decimal(0))
    details.append((_("Total"), f"{total} / {sum((c.max_points for c in criteria), Decimal(0))}"))
    return Confirmation(
        title=_("Submit this review?"),
        happens=[
            _("Your scores and comments on %(team)s are submitted to the programme office and count in the ranking.")
            % {"team": assignment.application.consortium},
            _("Until you confirm, they stay a saved draft that you can still change."),
        ],
        irreversible=_("After submitting you can no longer change your scores."),
        action_url=action_url,
        cancel_url=reverse("evaluations:assignment_score", args=[assignment.pk]),
        confirm_label=_("Submit review"),
        details=details,
        button_name="submit",
    )


def phase_action_confirmation(phase: Phase, action: str, *, action_url: str) -> Confirmation:
    from evaluations.services import appeal_window_closes_at

    cancel = reverse("evaluations:phase_detail", args=[phase.pk])
    if action == "finalise":
        count = phase_applications(phase=phase).count()
        open_sheets = phase.assignments.filter(
            status__in=(AssignmentStatus.AWAITING_DECLARATION, AssignmentStatus.ACTIVE)
        ).count()
        upheld = Appeal.objects.filter(phase=phase, rescore_until__isnull=False, applied_at__isnull=True).exists()
        happens = [
            _("The scores and the ranking of the %(count)s applications are frozen and stored as the phase's results.")
            % {"count": count},
            _("Reviewers can no longer change their sheets; the decisions (kept, reserve, eliminated) follow from the frozen ranking."),
        ]  # fmt: skip
        warnings = []
        if open_sheets:
            warnings.append(
                _(
                    "%(count)s assigned reviews are still open; finalising is refused until they are submitted or replaced."
                )
                % {"count": open_sheets}
            )
        return Confirmation(
            title=_("Finalise this phase?"),
            happens=happens,
            irreversible=_("A finalised phase is not re-opened; only an upheld appeal re-opens scoring for its own application before the phase is finalised again.")
            if not upheld
            else _("The re-scored results of the upheld appeals replace the earlier ones; the phase is not re-opened."),
            action_url=action_url,
            cancel_url=cancel,
            confirm_label=_("Finalise"),
            warnings=warnings,
        )  # fmt: skip
    closes = appeal_window_closes_at(phase) or (timezone.now() + timedelta(days=phase.appeal_window_days))
    return Confirmation(
        title=_("Publish the results?"),
        happens=[
            _("Each team sees its score, rank, decision and the reviewers' anonymised comments.")
            if phase.show_comments_to_applicants
            else _("Each team sees its score, rank and decision."),
            _("The appeal window of %(days)s days opens now and closes on %(closes)s.")
            % {"days": phase.appeal_window_days, "closes": kst(closes, seconds=False)},
        ],
        irreversible=_("Published results cannot be withdrawn; a change afterwards goes through an appeal."),
        action_url=action_url,
        cancel_url=cancel,
        confirm_label=_("Publish results"),
    )


def open_appeal_windows(programme) -> list[str]:
    """A warning for each phase of ``programme`` whose appeal window is open now."""
    from evaluations.enums import AppealStatus, PhaseStatus
    from evaluations.services import appeal_window_closes_at

    now = timezone.now()
    warnings = []
    for phase in Phase.objects.filter(programme=programme, status=PhaseStatus.PUBLISHED).order_by("order"):
        closes = appeal_window_closes_at(phase)
        if closes is None or now > closes:
            continue
        pending = phase.appeals.filter(status=AppealStatus.OPEN).count()
        warnings.append(
            _("The appeal window of phase “%(phase)s” is open until %(closes)s (%(pending)s appeals open): an upheld appeal can change the ranking, and the allocation and its notices would then have to be done again.")
            % {"phase": local_name(phase.name, phase.name_en), "closes": kst(closes, seconds=False), "pending": pending}
        )  # fmt: skip
    return warnings
