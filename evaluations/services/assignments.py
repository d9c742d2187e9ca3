"""The reviewer pool and review assignments: invitations, assignment by hand or automatic,
replacement, and the reviewer's conflict-of-interest declaration."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils.translation import gettext as _

from consortia.models import Affiliation, Application
from evaluations import assignment as assignment_core
from evaluations.enums import ASSIGNMENT_LIVE_STATES, PHASE_FROZEN_STATES, AssignmentStatus
from evaluations.models import Assignment, ConflictDeclaration, Phase, PhaseReviewer
from evaluations.selectors import consortium_organisation_ids, latest_versions, phase_applications
from evaluations.services.phases import _locked_phase, _refuse_if_frozen
from evaluations.workflow import assignment_move
from portal.audit import audit_record
from portal.errors import DomainError, InvalidInput
from portal.formatting import kst
from portal.mail import mail_queue
from portal.models import User


def _reviewer_affiliations(reviewer_ids) -> dict[int, set[int]]:
    result: dict[int, set[int]] = {}
    for user_id, org_id in Affiliation.objects.filter(user_id__in=list(reviewer_ids)).values_list(
        "user_id", "organisation_id"
    ):
        result.setdefault(user_id, set()).add(org_id)
    return result


@transaction.atomic
def phase_invite_reviewers(*, phase: Phase, by: User, reviewers: list[User]) -> list[PhaseReviewer]:
    """Add reviewers (accounts with the reviewer role) to the phase's pool; already invited ones are kept."""
    phase = _locked_phase(phase)
    _refuse_if_frozen(phase)
    not_reviewers = [str(r) for r in reviewers if not r.is_reviewer]
    if not_reviewers:
        raise InvalidInput(
            _("Only reviewer accounts can join the pool: %(names)s.") % {"names": ", ".join(not_reviewers)}
        )
    existing = set(PhaseReviewer.objects.filter(phase=phase).values_list("reviewer_id", flat=True))
    added = PhaseReviewer.objects.bulk_create(
        [PhaseReviewer(phase=phase, reviewer=r) for r in reviewers if r.id not in existing]
    )
    if added:
        audit_record(
            action="phase.reviewers_invite", obj=phase, actor=by, after={"reviewer_ids": [p.reviewer_id for p in added]}
        )
        emails = [r.email for r in reviewers if r.email and r.id in {p.reviewer_id for p in added}]
        _queue_invitations(phase, emails)
    return added


def _queue_invitations(phase: Phase, emails: list[str]) -> None:
    """One message per invited reviewer, through the outbox (sent once, after commit)."""
    for email in emails:
        mail_queue(
            key=f"reviewer-invitation:{phase.pk}:{email}",
            to=[email],
            subject=f"[IAFM] 평가위원 위촉 안내 / Reviewer invitation: {phase.name}",
            body=(
                f"{phase.programme.name} — {phase.name}\n"
                f"평가 기간 / Scoring window: {kst(phase.scoring_opens_at, seconds=False)} – {kst(phase.scoring_closes_at, seconds=False)}\n"
                "배정된 신청서는 포털의 '내 평가'에서 이해충돌 신고 후 열람할 수 있습니다.\n"
                "Declare any conflict of interest under 'My reviews' before opening an application."
            ),
        )


@transaction.atomic
def assignment_create(*, phase: Phase, application: Application, reviewer: User, by: User) -> Assignment:
    """Assign one reviewer by hand. A conflicted reviewer is refused; the reviewer joins the pool."""
    phase = _locked_phase(phase)
    _refuse_if_frozen(phase)
    if not reviewer.is_reviewer:
        raise InvalidInput(_("Only reviewer accounts can be assigned."))
    if not phase_applications(phase=phase).filter(pk=application.pk).exists():
        raise InvalidInput(_("This application is not evaluated in this phase."))
    organisations = consortium_organisation_ids(application_ids=[application.id]).get(application.id, set())
    if Affiliation.objects.filter(user=reviewer, organisation_id__in=organisations).exists():
        raise DomainError(
            _("%(reviewer)s is affiliated with an organisation of this consortium and cannot review it.")
            % {"reviewer": reviewer}
        )
    if Assignment.objects.filter(phase=phase, application=application, reviewer=reviewer).exists():
        raise DomainError(_("%(reviewer)s is already assigned to this application.") % {"reviewer": reviewer})
    PhaseReviewer.objects.get_or_create(phase=phase, reviewer=reviewer)
    version = latest_versions(application_ids=[application.id]).get(application.id)
    assignment = Assignment.objects.create(
        phase=phase, application=application, version=version, reviewer=reviewer, assigned_by=by
    )
    audit_record(
        action="assignment.create",
        obj=assignment,
        actor=by,
        after={"phase": phase.id, "application": application.id, "reviewer": reviewer.id, "method": "manual"},
    )
    return assignment


@transaction.atomic
def assignment_replace(*, assignment: Assignment, by: User, reviewer: User | None = None) -> Assignment | None:
    """Take an assignment away from its reviewer (typically after a declared conflict) and give
    it to ``reviewer``, or, without one, to whoever automatic assignment picks."""
    assignment = Assignment.objects.select_for_update().select_related("phase").get(pk=assignment.pk)
    _refuse_if_frozen(assignment.phase)
    if assignment.status == AssignmentStatus.SUBMITTED:
        raise DomainError(_("A submitted review cannot be handed to someone else."))
    if assignment.status == AssignmentStatus.REPLACED:
        raise DomainError(_("This assignment has already been replaced."))
    before = assignment.status
    assignment_move(assignment=assignment, to=AssignmentStatus.REPLACED)
    audit_record(
        action="assignment.replace",
        obj=assignment,
        actor=by,
        before={"status": before},
        after={"status": AssignmentStatus.REPLACED, "replacement": getattr(reviewer, "id", "automatic")},
    )
    if reviewer is not None:
        return assignment_create(phase=assignment.phase, application=assignment.application, reviewer=reviewer, by=by)
    result = phase_auto_assign(phase=assignment.phase, by=by, application_ids=[assignment.application_id])
    new = [pair for pair in result.new_assignments if pair[0] == assignment.application_id]
    if not new:
        return None
    return Assignment.objects.get(phase=assignment.phase, application_id=new[0][0], reviewer_id=new[0][1])


@dataclass(frozen=True)
class AutoAssignSummary:
    created: int
    released: int
    shortfalls: tuple
    loads: dict
    new_assignments: tuple

    @property
    def spread(self) -> int:
        return max(self.loads.values()) - min(self.loads.values()) if self.loads else 0


@transaction.atomic
def phase_auto_assign(*, phase: Phase, by: User, application_ids: list[int] | None = None) -> AutoAssignSummary:
    """Fill every application up to the phase's reviewers per application from the pool.

    Uses :func:`evaluations.assignment.assign_reviewers` (see ``docs/assignment.md``):
    existing live assignments are kept, conflicted reviewers (affiliated with any
    consortium organisation, or who declared a conflict, or were replaced) are never
    chosen, and loads are balanced. An existing assignment found conflicted by
    affiliation is marked conflicted (automatic declaration) so the officer sees it.
    """
    phase = _locked_phase(phase)
    _refuse_if_frozen(phase)
    applications = list(phase_applications(phase=phase))
    if application_ids is not None:
        applications = [a for a in applications if a.id in set(application_ids)]
    app_ids = [a.id for a in applications]
    organisations = consortium_organisation_ids(application_ids=app_ids)
    pool = list(PhaseReviewer.objects.filter(phase=phase).values_list("reviewer_id", flat=True))
    affiliations = _reviewer_affiliations(pool)
    assigned: dict[int, set[int]] = {r: set() for r in pool}
    excluded: dict[int, set[int]] = {r: set() for r in pool}
    outside_load: dict[int, int] = dict.fromkeys(pool, 0)
    for app_id, reviewer_id, status in Assignment.objects.filter(phase=phase, reviewer_id__in=pool).values_list(
        "application_id", "reviewer_id", "status"
    ):
        if status in ASSIGNMENT_LIVE_STATES:
            if app_id in organisations:
                assigned[reviewer_id].add(app_id)
            else:
                outside_load[reviewer_id] += 1
        else:  # conflicted or replaced: never the same pair again
            excluded[reviewer_id].add(app_id)
    result = assignment_core.assign_reviewers(
        [assignment_core.AssignmentApplication(application_id=a, organisation_ids=organisations[a]) for a in app_ids],
        [
            assignment_core.AssignmentReviewer(
                reviewer_id=r,
                organisation_ids=affiliations.get(r, set()),
                declared_conflicts=excluded[r],
                assigned_application_ids=assigned[r],
                current_load=outside_load[r],
            )
            for r in pool
        ],
        reviewers_per_application=phase.reviewers_per_application,
    )
    versions = latest_versions(application_ids=app_ids)
    Assignment.objects.bulk_create(
        [
            Assignment(
                phase=phase,
                application_id=app_id,
                version=versions.get(app_id),
                reviewer_id=reviewer_id,
                assigned_by=by,
            )
            for app_id, reviewer_id in result.new_assignments
        ]
    )
    for app_id, reviewer_id in result.released:
        released = Assignment.objects.select_for_update().get(
            phase=phase, application_id=app_id, reviewer_id=reviewer_id
        )
        if released.status == AssignmentStatus.SUBMITTED:
            continue  # a submitted review stays on record; the officer decides
        assignment_move(assignment=released, to=AssignmentStatus.CONFLICTED)
        ConflictDeclaration.objects.update_or_create(
            assignment=released,
            defaults={"has_conflict": True, "automatic": True, "reason": "affiliated with a consortium organisation"},
        )
    audit_record(
        action="assignment.auto_assign",
        obj=phase,
        actor=by,
        after={
            "created": [list(p) for p in result.new_assignments],
            "released": [list(p) for p in result.released],
            "shortfalls": [s.application_id for s in result.shortfalls],
        },
    )
    return AutoAssignSummary(
        created=len(result.new_assignments),
        released=len(result.released),
        shortfalls=result.shortfalls,
        loads=dict(result.loads),
        new_assignments=result.new_assignments,
    )


@transaction.atomic
def assignment_declare(*, assignment: Assignment, by: User, has_conflict: bool, reason: str = "") -> Assignment:
    """Record the reviewer's declaration. A conflict takes the application away from them
    (the officer is prompted to replace them); "no conflict" opens the application for scoring.

    Declaring "no conflict" while affiliated with a consortium organisation is recorded
    as an automatic conflict instead.
    """
    assignment = Assignment.objects.select_for_update().select_related("phase", "application").get(pk=assignment.pk)
    if assignment.reviewer_id != by.id:
        raise DomainError(_("Only the assigned reviewer can declare."))
    if assignment.phase.status in PHASE_FROZEN_STATES:
        raise DomainError(_("The phase has been finalised."))
    if assignment.status not in (AssignmentStatus.AWAITING_DECLARATION, AssignmentStatus.ACTIVE):
        raise DomainError(_("This declaration has already been made."))
    if assignment.status == AssignmentStatus.ACTIVE and not has_conflict:
        raise DomainError(_("You have already declared that you have no conflict."))
    reason = (reason or "").strip()
    if has_conflict and not reason:
        raise InvalidInput(_("Give the reason for the conflict of interest."))
    automatic = False
    organisations = consortium_organisation_ids(application_ids=[assignment.application_id])[assignment.application_id]
    if not has_conflict and Affiliation.objects.filter(user=by, organisation_id__in=organisations).exists():
        has_conflict, automatic, reason = True, True, "affiliated with a consortium organisation"
    ConflictDeclaration.objects.update_or_create(
        assignment=assignment, defaults={"has_conflict": has_conflict, "reason": reason, "automatic": automatic}
    )
    before = assignment.status
    assignment_move(assignment=assignment, to=AssignmentStatus.CONFLICTED if has_conflict else AssignmentStatus.ACTIVE)
    audit_record(
        action="assignment.declare",
        obj=assignment,
        actor=by,
        before={"status": before},
        after={"status": assignment.status, "has_conflict": has_conflict, "automatic": automatic},
        reason=reason,
    )
    return assignment
