"""Appeals against a published phase: filing within the window and the officer's decision."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from consortia.models import Application
from evaluations.enums import AppealGrounds, AppealStatus, AssignmentStatus, PhaseStatus
from evaluations.models import Appeal, Assignment, Phase, PhaseResult, PhaseReviewer
from evaluations.services.phases import _locked_phase, appeal_window_closes_at
from evaluations.workflow import assignment_move
from portal.audit import audit_record
from portal.errors import DomainError, InvalidInput
from portal.formatting import kst
from portal.models import User


@transaction.atomic
def appeal_file(*, phase: Phase, application: Application, by: User, grounds: str, text: str) -> Appeal:
    """One appeal per application per phase, after publication and within the window."""
    phase = _locked_phase(phase)
    if phase.status != PhaseStatus.PUBLISHED:
        raise DomainError(_("Appeals can be filed only while the results are published and not yet final."))
    closes = appeal_window_closes_at(phase)
    if timezone.now() > closes:
        raise DomainError(_("The appeal window closed at %(time)s.") % {"time": kst(closes, seconds=False)})
    if grounds not in AppealGrounds.values:
        raise InvalidInput(_("Choose the grounds of the appeal from the announced scope."))
    if not (text or "").strip():
        raise InvalidInput(_("Explain the appeal."))
    if not PhaseResult.objects.filter(phase=phase, application=application).exists():
        raise InvalidInput(_("This application has no result in this phase."))
    if Appeal.objects.filter(phase=phase, application=application).exists():
        raise DomainError(_("An appeal has already been filed for this application in this phase."))
    appeal = Appeal.objects.create(
        phase=phase, application=application, grounds=grounds, text=text.strip(), filed_by=by
    )
    audit_record(action="appeal.file", obj=appeal, actor=by, after={"grounds": grounds, "phase": phase.id})
    return appeal


def officer_was_reviewer(*, phase: Phase, user: User) -> bool:
    return (
        Assignment.objects.filter(phase=phase, reviewer=user).exists()
        or PhaseReviewer.objects.filter(phase=phase, reviewer=user).exists()
    )


@transaction.atomic
def appeal_decide(*, appeal: Appeal, by: User, upheld: bool, reasons: str, rescore_days: int = 7) -> Appeal:
    """Uphold (re-open scoring for the application) or dismiss, with reasons.

    Decided only by an officer who was not a reviewer in the phase. Upholding returns the
    application's submitted reviews to their reviewers until ``rescore_until``; the
    officer then finalises the phase again and re-publishes.
    """
    appeal = Appeal.objects.select_for_update().select_related("phase").get(pk=appeal.pk)
    if appeal.status != AppealStatus.OPEN:
        raise DomainError(_("This appeal has already been decided."))
    if officer_was_reviewer(phase=appeal.phase, user=by):
        raise DomainError(_("You were a reviewer in this phase and cannot decide its appeals."))
    if not (reasons or "").strip():
        raise InvalidInput(_("Give the reasons for the decision."))
    now = timezone.now()
    appeal.status = AppealStatus.UPHELD if upheld else AppealStatus.DISMISSED
    appeal.decided_by, appeal.decided_at, appeal.decision_reasons = by, now, reasons.strip()
    fields = ["status", "decided_by", "decided_at", "decision_reasons"]
    reopened = []
    if upheld:
        appeal.rescore_until = now + timedelta(days=rescore_days)
        fields.append("rescore_until")
        for assignment in Assignment.objects.select_for_update().filter(
            phase=appeal.phase, application=appeal.application_id, status=AssignmentStatus.SUBMITTED
        ):
            assignment_move(assignment=assignment, to=AssignmentStatus.ACTIVE)
            reopened.append(assignment.id)
    appeal.save(update_fields=fields)
    audit_record(
        action="appeal.decide",
        obj=appeal,
        actor=by,
        before={"status": AppealStatus.OPEN},
        after={"status": appeal.status, "reopened_assignments": reopened},
        reason=reasons,
    )
    return appeal
