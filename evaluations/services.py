"""Writes of the evaluations app. Each service is atomic, checks its rule inside the
transaction (row locks where two people may race) and writes the audit trail.

*Not possible now* (a closed window, a finalised phase) raises :class:`DomainError` (409);
malformed input raises :class:`InvalidInput` (400) and changes nothing.
"""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import partial

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from consortia.models import Affiliation, Application
from evaluations import assignment as assignment_core
from evaluations.enums import (
    ASSIGNMENT_LIVE_STATES,
    PHASE_FROZEN_STATES,
    AppealGrounds,
    AppealStatus,
    AssignmentStatus,
    CriterionSource,
    PhaseKind,
    PhaseStatus,
)
from evaluations.models import (
    Appeal,
    Assignment,
    BenchmarkResult,
    ConflictDeclaration,
    Criterion,
    GateDecision,
    Objective,
    Phase,
    PhaseResult,
    PhaseReviewer,
    Score,
    TieBreakDecision,
    UserPanelScore,
)
from evaluations.ranking_cache import live_ranking_stamp_forget
from evaluations.ranking_snapshot import phase_snapshot
from evaluations.selectors import (
    consortium_organisation_ids,
    latest_versions,
    phase_applications,
    phase_previous,
)
from portal.audit import audit_changes, audit_record, model_snapshot
from portal.errors import DomainError, InvalidInput
from portal.formatting import kst
from portal.korean import particles
from portal.mail import mail_queue
from portal.models import Programme, User
from portal.outbox import outbox_publish

PHASE_FIELDS = [
    "order", "name", "name_en", "kind", "teams_to_keep", "pass_threshold", "reviewers_per_application",
    "aggregation_method", "tie_break_criteria", "scoring_opens_at", "scoring_closes_at",
    "show_comments_to_applicants", "appeal_window_days", "appeal_scope",
]  # fmt: skip
CRITERION_FIELDS = [
    "key", "order", "name", "name_en", "rubric", "rubric_en", "source", "max_points", "threshold", "is_gate",
]  # fmt: skip
OBJECTIVE_FIELDS = ["model_category", "benchmark", "reference_model", "reference_score", "target_ratio"]
HUNDRED = Decimal("100")
TENTH = Decimal("0.1")

# The phase's life: every edge, and nothing else, may change ``Phase.status``.
S = PhaseStatus
TRANSITIONS = {
    (S.SETUP, S.SCORING): "open scoring",
    (S.SCORING, S.FINALISED): "finalise",
    (S.FINALISED, S.PUBLISHED): "publish",
    (S.PUBLISHED, S.FINALISED): "finalise again after an upheld appeal",
    (S.PUBLISHED, S.FINAL): "appeal window closed with no open appeal",
}


def phase_transition(*, phase: Phase, to: str, by: User | None, reason: str = "", extra: dict | None = None) -> Phase:
    """The one door for status changes: refuses edges not in ``TRANSITIONS`` and audits the move."""
    if (phase.status, to) not in TRANSITIONS:
        raise DomainError(
            particles(
                _("The phase cannot go from “%(from)s” to “%(to)s”.")
                % {"from": PhaseStatus(phase.status).label, "to": PhaseStatus(to).label}
            )
        )
    before = phase.status
    phase.status = to
    fields = ["status", *(extra or {})]
    for name, value in (extra or {}).items():
        setattr(phase, name, value)
    phase.save(update_fields=fields)
    audit_record(
        action=f"phase.{to}",
        obj=phase,
        actor=by,
        before={"status": before},
        after={"status": to, **{k: v for k, v in (extra or {}).items() if k != "finalised_by"}},
        reason=reason,
    )
    return phase


def _locked_phase(phase: Phase) -> Phase:
    return Phase.objects.select_for_update().get(pk=phase.pk)


# --------------------------------------------------------------------------- set-up


def _check_criteria(criteria: list[dict]) -> None:
    keys = [c["key"] for c in criteria]
    if len(set(keys)) != len(keys):
        raise InvalidInput(_("Each criterion needs its own key."))
    for c in criteria:
        max_points = Decimal(c.get("max_points") or 0)
        if not 0 <= max_points <= HUNDRED:
            raise InvalidInput(_("Maximum points lie between 0 and 100."))
        threshold = c.get("threshold")
        if threshold is not None and c.get("is_gate"):
            raise InvalidInput(_("A gate criterion is pass/fail and has no points threshold."))
        if threshold is not None and not 0 <= Decimal(threshold) <= max_points:
            raise InvalidInput(_("A criterion's threshold lies between 0 and its maximum."))


def _check_ready_to_score(phase: Phase, criteria: list[Criterion]) -> None:
    """What a phase must satisfy before scoring opens (and forever after)."""
    scored = [c for c in criteria if not c.is_gate]
    total = sum((c.max_points for c in scored), Decimal(0))
    if total != HUNDRED:
        raise DomainError(
            _("The maximum points of the criteria must add up to 100 (they add up to %(total)s).") % {"total": total}
        )
    keys = {c.key for c in scored}
    unknown = [k for k in phase.tie_break_criteria or [] if k not in keys]
    if unknown:
        raise DomainError(_("Tie-break criteria must be scored criteria of the phase: %(keys)s.") % {"keys": unknown})
    if any(c.source == CriterionSource.BENCHMARK for c in scored) and not phase.objectives.exists():
        raise DomainError(_("A benchmark criterion needs at least one objective."))
    if phase.kind == PhaseKind.SELECTION and timezone.now() < phase.programme.closes_at:
        # Submissions are sealed until the deadline: nobody reads a proposal before then.
        raise DomainError(
            _("The selection is scored after the application deadline (%(time)s).")
            % {"time": kst(phase.programme.closes_at, seconds=False)}
        )
    if phase.kind == PhaseKind.STAGE:
        previous = phase_previous(phase=phase)
        if previous is None or previous.status not in PHASE_FROZEN_STATES:
            raise DomainError(_("A stage evaluation starts after the previous phase is finalised."))


def _check_places(phase: Phase) -> None:
    """A phase never keeps more places than the programme allows, nor (a stage) more teams than are active.

    Called with the programme row locked, so a concurrent change of ``max_teams`` waits.
    """
    programme = phase.programme
    if phase.teams_to_keep and phase.teams_to_keep > programme.max_teams:
        message = _("The programme selects at most %(max)d teams; a phase cannot keep %(count)d.") % {
            "max": programme.max_teams,
            "count": phase.teams_to_keep,
        }
        raise InvalidInput(message, details={"errors": {"teams_to_keep": [message]}})
    if phase.kind == PhaseKind.STAGE and phase.pk:
        previous = phase_previous(phase=phase)
        if previous is not None and previous.status in PHASE_FROZEN_STATES:
            active = phase_applications(phase=phase).count()
            if phase.teams_to_keep > active:
                message = _("Only %(active)d teams are active; this stage cannot keep %(count)d.") % {
                    "active": active,
                    "count": phase.teams_to_keep,
                }
                raise InvalidInput(message, details={"errors": {"teams_to_keep": [message]}})


def _lock_programme(programme: Programme) -> Programme:
    return Programme.objects.select_for_update().get(pk=programme.pk)


@transaction.atomic
def phase_create(
    *, programme: Programme, by: User, data: dict, criteria: list[dict] = (), objectives: list[dict] = ()
) -> Phase:
    """Create a phase in set-up, with its criteria and objectives. The order defaults to the next free one."""
    data = dict(data)
    programme = _lock_programme(programme)
    if not data.get("order"):
        last = programme.phases.order_by("-order").values_list("order", flat=True).first() or 0
        data["order"] = last + 1
    data.setdefault("kind", PhaseKind.SELECTION if data["order"] == 1 else PhaseKind.STAGE)
    if data["kind"] == PhaseKind.SELECTION and programme.phases.filter(kind=PhaseKind.SELECTION).exists():
        raise DomainError(_("The programme already has a selection phase."))
    if data["kind"] == PhaseKind.SELECTION and "teams_to_keep" not in data:
        data["teams_to_keep"] = programme.max_teams
    data.setdefault("appeal_window_days", programme.appeal_window_days)
    criteria = list(criteria)
    _check_criteria(criteria)
    if criteria:
        # Refused at creation already, not only when scoring opens.
        total = sum((Decimal(c.get("max_points") or 0) for c in criteria if not c.get("is_gate")), Decimal(0))
        if total != HUNDRED:
            message = _("The maximum points of the scored criteria must add up to 100; they add up to %(total)s.") % {
                "total": format(total.normalize(), "f")
            }
            raise InvalidInput(message, details={"errors": {"criteria": [message]}})
    phase = Phase(programme=programme, created_by=by, **data)
    phase.full_clean(exclude=["created_by"])
    _check_places(phase)
    try:
        with transaction.atomic():
            phase.save()
    except IntegrityError as exc:
        raise InvalidInput(_("Another phase of this programme already has that order.")) from exc
    Criterion.objects.bulk_create([Criterion(phase=phase, order=i, **c) for i, c in enumerate(criteria, 1)])
    Objective.objects.bulk_create([Objective(phase=phase, **o) for o in objectives])
    audit_record(
        action="phase.create",
        obj=phase,
        actor=by,
        after={
            **model_snapshot(phase, PHASE_FIELDS),
            "criteria": [{k: c.get(k) for k in CRITERION_FIELDS if k in c} for c in criteria],
            "objectives": list(objectives),
        },
    )
    return phase


@transaction.atomic
def phase_update(*, phase: Phase, by: User, data: dict) -> Phase:
    """Change settings while the phase is being set up."""
    phase = _locked_phase(phase)
    if phase.status != PhaseStatus.SETUP:
        raise DomainError(_("The phase settings are fixed once scoring has opened."))
    phase.programme = _lock_programme(phase.programme)
    before = model_snapshot(phase, PHASE_FIELDS)
    for name, value in data.items():
        setattr(phase, name, value)
    phase.full_clean(exclude=["created_by"])
    _check_places(phase)
    phase.save()
    audit_changes(action="phase.update", obj=phase, actor=by, before=before, after=model_snapshot(phase, PHASE_FIELDS))
    return phase


@transaction.atomic
def phase_set_criteria(*, phase: Phase, by: User, criteria: list[dict]) -> list[Criterion]:
    """Replace the criteria of a phase in set-up (order as given)."""
    phase = _locked_phase(phase)
    if phase.status != PhaseStatus.SETUP:
        raise DomainError(_("The criteria are fixed once scoring has opened."))
    _check_criteria(criteria)
    before = list(phase.criteria.values(*CRITERION_FIELDS))
    phase.criteria.all().delete()
    rows = Criterion.objects.bulk_create([Criterion(phase=phase, order=i, **c) for i, c in enumerate(criteria, 1)])
    audit_record(
        action="phase.criteria_set", obj=phase, actor=by, before={"criteria": before}, after={"criteria": criteria}
    )
    return rows


@transaction.atomic
def phase_set_objectives(*, phase: Phase, by: User, objectives: list[dict]) -> list[Objective]:
    """Replace the benchmark objectives (reference models and scores are frozen once scoring opens)."""
    phase = _locked_phase(phase)
    if phase.status != PhaseStatus.SETUP:
        raise DomainError(_("Reference models and scores are frozen once scoring has opened."))
    before = list(phase.objectives.values(*OBJECTIVE_FIELDS))
    phase.objectives.all().delete()
    try:
        with transaction.atomic():
            rows = Objective.objects.bulk_create([Objective(phase=phase, **o) for o in objectives])
    except IntegrityError as exc:
        raise InvalidInput(
            _("Each benchmark appears once per model category, with a positive reference score.")
        ) from exc
    audit_record(
        action="phase.objectives_set",
        obj=phase,
        actor=by,
        before={"objectives": before},
        after={"objectives": objectives},
    )
    return rows


@transaction.atomic
def phase_open_scoring(*, phase: Phase, by: User) -> Phase:
    """Set-up → scoring, once criteria add up to 100 and the objectives exist."""
    phase = _locked_phase(phase)
    phase.programme = _lock_programme(phase.programme)
    _check_places(phase)
    _check_ready_to_score(phase, list(phase.criteria.all()))
    return phase_transition(phase=phase, to=PhaseStatus.SCORING, by=by)


# --------------------------------------------------------------------------- reviewer pool and assignment


def _reviewer_affiliations(reviewer_ids) -> dict[int, set[int]]:
    result: dict[int, set[int]] = {}
    for user_id, org_id in Affiliation.objects.filter(user_id__in=list(reviewer_ids)).values_list(
        "user_id", "organisation_id"
    ):
        result.setdefault(user_id, set()).add(org_id)
    return result


def _refuse_if_frozen(phase: Phase) -> None:
    if phase.status in PHASE_FROZEN_STATES:
        raise DomainError(_("The phase has been finalised; assignments can no longer change."))


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
    assignment.status = AssignmentStatus.REPLACED
    assignment.save(update_fields=["status"])
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
        released.status = AssignmentStatus.CONFLICTED
        released.save(update_fields=["status"])
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
    assignment.status = AssignmentStatus.CONFLICTED if has_conflict else AssignmentStatus.ACTIVE
    assignment.save(update_fields=["status"])
    audit_record(
        action="assignment.declare",
        obj=assignment,
        actor=by,
        before={"status": before},
        after={"status": assignment.status, "has_conflict": has_conflict, "automatic": automatic},
        reason=reason,
    )
    return assignment


# --------------------------------------------------------------------------- scoring


def _open_appeal_rescore(phase: Phase, application_id: int, now: datetime) -> bool:
    return Appeal.objects.filter(
        phase=phase,
        application_id=application_id,
        status=AppealStatus.UPHELD,
        applied_at__isnull=True,
        rescore_until__gte=now,
    ).exists()


def scoring_refusal(*, phase: Phase, application_id: int, now: datetime | None = None) -> str | None:
    """Why scores for this application cannot change now, or ``None`` when they can."""
    now = now or timezone.now()
    if phase.status in PHASE_FROZEN_STATES:
        if _open_appeal_rescore(phase, application_id, now):
            return None
        return _("The phase has been finalised; scores can no longer change.")
    if phase.status == PhaseStatus.SETUP or now < phase.scoring_opens_at:
        return _("Scoring opens at %(time)s.") % {"time": kst(phase.scoring_opens_at, seconds=False)}
    if now > phase.scoring_closes_at:
        return _("The scoring window closed at %(time)s; scores can no longer change.") % {
            "time": kst(phase.scoring_closes_at, seconds=False)
        }
    return None


def _parse_points(raw, criterion: Criterion) -> Decimal:
    try:
        value = Decimal(str(raw).strip())
    except (InvalidOperation, ValueError) as exc:
        raise InvalidInput(
            particles(_("“%(value)s” is not a number (%(criterion)s).") % {"value": raw, "criterion": criterion.name})
        ) from exc
    if not value.is_finite() or not 0 <= value <= criterion.max_points:
        raise InvalidInput(
            _("%(criterion)s: give a number from 0 to %(max)s.")
            % {"criterion": criterion.name, "max": criterion.max_points}
        )
    if value != value.quantize(TENTH):
        raise InvalidInput(_("%(criterion)s: use at most one decimal place.") % {"criterion": criterion.name})
    return value.quantize(TENTH)


@transaction.atomic
def assignment_save_scores(
    *,
    assignment: Assignment,
    by: User,
    scores: dict,
    comments: dict | None = None,
    comment: str | None = None,
    submit: bool = False,
) -> Assignment:
    """Save the reviewer's scores (criterion key → points) as a draft, or submit them.

    Only expert criteria are scored by reviewers; each value lies in 0..max with one
    decimal place. Submitting needs every expert criterion. Nothing changes after the
    window closes or once the phase is finalised (unless an upheld appeal re-opened this
    application), nor after the reviewer submitted.
    """
    assignment = Assignment.objects.select_for_update().select_related("phase").get(pk=assignment.pk)
    phase = assignment.phase
    if assignment.reviewer_id != by.id:
        raise DomainError(_("Only the assigned reviewer can score."))
    if assignment.status == AssignmentStatus.AWAITING_DECLARATION:
        raise DomainError(_("Declare whether you have a conflict of interest before scoring."), code="declare_first")
    if assignment.status == AssignmentStatus.SUBMITTED:
        raise DomainError(_("You have already submitted this review."))
    if assignment.status != AssignmentStatus.ACTIVE:
        raise DomainError(_("This assignment is no longer yours to score."))
    refusal = scoring_refusal(phase=phase, application_id=assignment.application_id)
    if refusal:
        raise DomainError(refusal, code="scoring_closed")
    criteria = {
        c.key: c for c in phase.criteria.filter(source=CriterionSource.EXPERT, is_gate=False).order_by("order", "id")
    }
    unknown = sorted(set(scores) - set(criteria))
    if unknown:
        raise InvalidInput(_("Unknown criteria: %(keys)s.") % {"keys": ", ".join(unknown)})
    comments = comments or {}
    parsed = {key: _parse_points(raw, criteria[key]) for key, raw in scores.items() if raw not in (None, "")}
    existing = {s.criterion.key: s for s in assignment.scores.select_related("criterion")}
    for key, value in parsed.items():
        row = existing.get(key)
        text = str(comments.get(key, row.comment if row else "") or "")
        if row is None:
            existing[key] = Score.objects.create(
                assignment=assignment, criterion=criteria[key], value=value, comment=text
            )
        elif row.value != value or row.comment != text:
            row.value, row.comment = value, text
            row.save(update_fields=["value", "comment", "updated_at"])
    if comment is not None:
        assignment.comment = comment
    fields = ["comment"]
    if submit:
        missing = [criteria[k].name for k in criteria if k not in existing]
        if missing:
            raise InvalidInput(_("Score every criterion before submitting: %(names)s.") % {"names": ", ".join(missing)})
        assignment.status = AssignmentStatus.SUBMITTED
        assignment.submitted_at = timezone.now()
        fields += ["status", "submitted_at"]
    assignment.save(update_fields=fields)
    audit_record(
        action="assignment.submit" if submit else "assignment.save_draft",
        obj=assignment,
        actor=by,
        after={"scores": {k: str(v.value) for k, v in existing.items()}, "submitted": submit},
    )
    if submit:
        _live_ranking_changed(phase)
    return assignment


def _live_ranking_changed(phase: Phase) -> None:
    """An input of the live ranking changed: have a worker compute it again after commit,
    so the officer's next look at the ranking page reads it from the cache. The page
    computes it itself when it gets there first; this only moves the wait off the page.
    The cached stamp of the inputs is forgotten now and again on commit (a look in between
    may have cached the stamp before this change), so the next look sees the change."""
    live_ranking_stamp_forget(phase.pk)
    transaction.on_commit(partial(live_ranking_stamp_forget, phase.pk))
    if settings.EVALUATIONS_WARM_LIVE_RANKING and phase.status == PhaseStatus.SCORING:
        outbox_publish(
            task_name="evaluations.warm_live_ranking",
            kwargs={"phase_id": phase.pk},
            dedupe_key=f"live-ranking:{phase.pk}:{uuid.uuid4().hex}",
        )


# --------------------------------------------------------------------------- officer inputs: gates, ties, panel, benchmarks


@transaction.atomic
def gate_decide(
    *, criterion: Criterion, application: Application, by: User, passed: bool, reasons: str
) -> GateDecision:
    """Record a pass/fail decision on a gate criterion, with reasons (a failure eliminates whatever the score)."""
    phase = _locked_phase(criterion.phase)
    _refuse_if_frozen(phase)
    if not criterion.is_gate:
        raise InvalidInput(particles(_("%(criterion)s is not a gate criterion.") % {"criterion": criterion.name}))
    if not (reasons or "").strip():
        raise InvalidInput(_("Give the reasons for the gate decision."))
    decision, _created = GateDecision.objects.update_or_create(
        criterion=criterion,
        application=application,
        defaults={"passed": passed, "reasons": reasons.strip(), "decided_by": by},
    )
    audit_record(
        action="gate.decide",
        obj=decision,
        actor=by,
        object_repr=f"{criterion.key} / {application}",
        after={"criterion": criterion.key, "application": application.id, "passed": passed},
        reason=reasons,
    )
    _live_ranking_changed(phase)
    return decision


@transaction.atomic
def tie_break_decide(*, phase: Phase, by: User, ordered_application_ids: list[int], reason: str) -> TieBreakDecision:
    """Record the officer's order for a tie the criteria could not break.

    The ids must be exactly one group that currently waits for a decision.
    """
    phase = _locked_phase(phase)
    _refuse_if_frozen(phase)
    if not (reason or "").strip():
        raise InvalidInput(_("Give the reason for the order."))
    ids = [int(i) for i in ordered_application_ids]
    groups = [set(g.application_ids) for g in phase_snapshot(phase=phase).result.needs_officer_decision]
    if set(ids) not in groups or len(ids) != len(set(ids)):
        raise InvalidInput(_("The order must name exactly the applications of one undecided tie."))
    decision = TieBreakDecision.objects.create(
        phase=phase, ordered_application_ids=ids, reason=reason.strip(), decided_by=by
    )
    audit_record(action="tie_break.decide", obj=phase, actor=by, after={"order": ids}, reason=reason)
    _live_ranking_changed(phase)
    return decision


@transaction.atomic
def phase_panel_keep(*, phase: Phase, by: User, count: int | None, reason: str) -> Phase:
    """Record the panel's decision to keep fewer teams than ``teams_to_keep`` (SPEC §5: a
    maximum), with its reasons; ``count=None`` withdraws it. Only while scoring, before
    finalising; the ranking's decisions follow at once."""
    phase = _locked_phase(phase)
    if phase.status != PhaseStatus.SCORING:
        raise DomainError(_("The panel decides how many teams to keep while the phase is scored, before finalising."))
    reason = (reason or "").strip()
    if not reason:
        message = _("Give the panel's reasons.")
        raise InvalidInput(message, details={"errors": {"reason": [message]}})
    if count is not None and not 0 <= count < phase.teams_to_keep:
        message = _("The panel keeps fewer teams than the %(max)d places: give a number from 0 to %(last)d.") % {
            "max": phase.teams_to_keep,
            "last": phase.teams_to_keep - 1,
        }
        raise InvalidInput(message, details={"errors": {"count": [message]}})
    before = {"panel_keeps": phase.panel_keeps, "reason": phase.panel_keeps_reason}
    phase.panel_keeps = count
    phase.panel_keeps_reason = reason if count is not None else ""
    phase.panel_keeps_by = by if count is not None else None
    phase.panel_keeps_at = timezone.now() if count is not None else None
    phase.save(update_fields=["panel_keeps", "panel_keeps_reason", "panel_keeps_by", "panel_keeps_at"])
    audit_record(
        action="phase.panel_keeps" if count is not None else "phase.panel_keeps_withdrawn",
        obj=phase,
        actor=by,
        before=before,
        after={"panel_keeps": count},
        reason=reason,
    )
    _live_ranking_changed(phase)
    return phase


@transaction.atomic
def benchmark_result_submit(
    *, objective: Objective, application: Application, by: User, score, evidence: str
) -> BenchmarkResult:
    """A team's result on one objective, with evidence. Refused once the scoring window closes."""
    phase = Phase.objects.get(pk=objective.phase_id)  # fresh: the status decides
    if phase.status in PHASE_FROZEN_STATES or timezone.now() > phase.scoring_closes_at:
        raise DomainError(
            _("Benchmark results are frozen at the close of the phase (%(time)s).")
            % {"time": kst(phase.scoring_closes_at, seconds=False)}
        )
    if phase.status != PhaseStatus.SCORING:
        raise DomainError(_("The phase has not opened yet."))
    if not phase_applications(phase=phase).filter(pk=application.pk).exists():
        raise InvalidInput(_("This team is not evaluated in this phase."))
    try:
        value = Decimal(str(score))
    except InvalidOperation as exc:
        raise InvalidInput(_("The result must be a number.")) from exc
    if not value.is_finite() or value < 0 or value >= Decimal("1000000"):
        raise InvalidInput(_("The result must be a number of at least 0."))
    if not (evidence or "").strip():
        raise InvalidInput(_("Describe the evidence (run log, model card or evaluation report)."))
    result, _created = BenchmarkResult.objects.update_or_create(
        objective=objective,
        application=application,
        defaults={"score": value.quantize(Decimal("0.0001")), "evidence": evidence.strip(), "submitted_by": by},
    )
    audit_record(
        action="benchmark_result.submit",
        obj=result,
        actor=by,
        object_repr=f"{objective.benchmark} / {application}",
        after={"objective": objective.id, "application": application.id, "score": str(result.score)},
    )
    _live_ranking_changed(phase)
    return result


@transaction.atomic
def panel_scores_import(*, phase: Phase, by: User, csv_text: str) -> int:
    """Import user-panel points from CSV: ``receipt_number,criterion,points`` (a header row).

    Every row is validated first (known application of the phase, a user-panel
    criterion, points within 0..max with two decimals at most, no duplicates); any error
    refuses the whole file with the line numbers, and nothing is stored.
    """
    phase = _locked_phase(phase)
    _refuse_if_frozen(phase)
    reader = csv.DictReader(io.StringIO(csv_text.lstrip("\ufeff")))
    required = {"receipt_number", "criterion", "points"}
    if not reader.fieldnames or not required <= {f.strip() for f in reader.fieldnames}:
        raise InvalidInput(_("The CSV needs the columns receipt_number, criterion and points."))
    applications = {a.id for a in phase_applications(phase=phase)}
    by_receipt = {v.receipt_number: v.application_id for v in latest_versions(application_ids=applications).values()}
    criteria = {c.key: c for c in phase.criteria.filter(source=CriterionSource.USER_PANEL, is_gate=False)}
    errors, rows, seen = [], [], set()
    for line, raw in enumerate(reader, start=2):
        row = {(k or "").strip(): (v or "").strip() for k, v in raw.items()}
        app_id = by_receipt.get(row["receipt_number"])
        criterion = criteria.get(row["criterion"])
        if app_id is None:
            errors.append(
                _("line %(line)d: unknown receipt number “%(value)s”") % {"line": line, "value": row["receipt_number"]}
            )
            continue
        if criterion is None:
            errors.append(
                particles(
                    _("line %(line)d: “%(value)s” is not a user-panel criterion")
                    % {"line": line, "value": row["criterion"]}
                )
            )
            continue
        try:
            points = Decimal(row["points"])
        except InvalidOperation:
            points = None
        if (
            points is None
            or not points.is_finite()
            or not 0 <= points <= criterion.max_points
            or points != points.quantize(Decimal("0.01"))
        ):
            errors.append(
                _("line %(line)d: points must be a number from 0 to %(max)s with at most two decimals")
                % {"line": line, "max": criterion.max_points}
            )
            continue
        if (app_id, criterion.key) in seen:
            errors.append(_("line %(line)d: a second row for the same application and criterion") % {"line": line})
            continue
        seen.add((app_id, criterion.key))
        rows.append((app_id, criterion, points))
    if errors:
        raise InvalidInput(
            _("Nothing was imported. %(errors)s.") % {"errors": "; ".join(errors)}, details={"errors": errors}
        )
    if not rows:
        raise InvalidInput(_("The file holds no rows."))
    for app_id, criterion, points in rows:
        UserPanelScore.objects.update_or_create(
            criterion=criterion, application_id=app_id, defaults={"points": points, "imported_by": by}
        )
    audit_record(
        action="panel_scores.import",
        obj=phase,
        actor=by,
        after={"rows": [[a, c.key, str(p)] for a, c, p in rows]},
    )
    _live_ranking_changed(phase)
    return len(rows)


# --------------------------------------------------------------------------- finalise, publish, final


@transaction.atomic
def phase_finalise(*, phase: Phase, by: User) -> list[PhaseResult]:
    """Freeze the phase: scores, ranks, decisions and attainment become ``PhaseResult`` rows.

    Refused while a live review is unsubmitted, an input is missing (panel points, gate
    decisions) or a tie waits for an officer. Also used once more after an upheld
    appeal's re-scoring: the snapshot is rebuilt and the appeal marked applied.
    """
    phase = _locked_phase(phase)
    refinalise = phase.status == PhaseStatus.PUBLISHED
    pending_appeals = list(
        Appeal.objects.select_for_update().filter(phase=phase, status=AppealStatus.UPHELD, applied_at__isnull=True)
    )
    if refinalise and not pending_appeals:
        raise DomainError(_("The phase is already published."))
    if phase.status not in (PhaseStatus.SCORING, PhaseStatus.PUBLISHED):
        raise DomainError(_("Only a phase in scoring can be finalised."))
    unsubmitted = Assignment.objects.filter(
        phase=phase, status__in=(AssignmentStatus.AWAITING_DECLARATION, AssignmentStatus.ACTIVE)
    ).count()
    if unsubmitted:
        raise DomainError(
            _("%(count)d assigned reviews are not submitted; replace or wait for those reviewers.")
            % {"count": unsubmitted}
        )
    snapshot = phase_snapshot(phase=phase)
    result = snapshot.result
    if not result.outcomes:
        raise DomainError(_("The phase has no applications to finalise."))
    if not result.complete:
        missing = sorted(
            {
                r.code
                for o in result.outcomes
                for r in o.failed_reasons
                if r.code in ("no_reviews", "points_missing", "gate_undecided")
            }
        )
        raise DomainError(
            _("Some inputs are missing (%(what)s); the ranking cannot be frozen yet.") % {"what": ", ".join(missing)},
            code="incomplete",
        )
    if result.needs_officer_decision:
        raise DomainError(
            _("A tie the criteria could not break needs an officer's recorded decision first."), code="tie_undecided"
        )
    criteria = [
        {"key": c.key, "name": c.name, "name_en": c.name_en, "max_points": str(c.max_points), "source": c.source}
        for c in snapshot.criteria
    ]
    rows = []
    outcome_dicts = {o["application_id"]: o for o in result.as_dict()["outcomes"]}
    for outcome in result.outcomes:
        application = snapshot.applications[outcome.application_id]
        version = snapshot.versions.get(outcome.application_id)
        outcome_dict = outcome_dicts[outcome.application_id]
        rows.append(
            PhaseResult(
                phase=phase,
                application=application,
                version=version,
                score=outcome.score,
                rank=outcome.rank,
                passed=outcome.passed,
                decision=outcome.decision,
                reserve_rank=outcome.reserve_rank,
                details={
                    **outcome_dict,
                    "consortium": application.consortium.name,
                    "title": (version.frozen_title or "") if version else application.title,
                    "receipt_number": version.receipt_number if version else "",
                    "attainment": [a.as_dict() for a in snapshot.attainment.get(outcome.application_id, [])],
                    "criteria": criteria,
                },
            )
        )
    previous = {r.application_id: (str(r.score), r.decision) for r in PhaseResult.objects.filter(phase=phase)}
    PhaseResult.objects.filter(phase=phase).delete()
    stored = PhaseResult.objects.bulk_create(rows)
    now = timezone.now()
    for appeal in pending_appeals:
        appeal.applied_at = now
        appeal.save(update_fields=["applied_at"])
    phase_transition(
        phase=phase,
        to=PhaseStatus.FINALISED,
        by=by,
        reason="re-finalised after an upheld appeal" if refinalise else "",
        extra={"finalised_at": now, "finalised_by": by},
    )
    audit_record(
        action="phase.snapshot",
        obj=phase,
        actor=by,
        before={"results": previous} if previous else None,
        after={"results": {r.application_id: [str(r.score), r.rank, r.decision] for r in stored}},
    )
    return stored


@transaction.atomic
def phase_publish(*, phase: Phase, by: User) -> Phase:
    """Finalised → published: applicants see their results; the appeal window starts now."""
    phase = _locked_phase(phase)
    if phase.status != PhaseStatus.FINALISED:
        raise DomainError(_("Only a finalised phase can be published."))
    return phase_transition(phase=phase, to=PhaseStatus.PUBLISHED, by=by, extra={"published_at": timezone.now()})


def appeal_window_closes_at(phase: Phase) -> datetime | None:
    if phase.published_at is None:
        return None
    return phase.published_at + timedelta(days=phase.appeal_window_days)


@transaction.atomic
def phase_make_final(*, phase: Phase, by: User | None = None) -> Phase:
    """Published → final once the appeal window has closed with no open or unapplied appeal."""
    phase = _locked_phase(phase)
    if phase.status != PhaseStatus.PUBLISHED:
        raise DomainError(_("Only a published phase can become final."))
    closes = appeal_window_closes_at(phase)
    if timezone.now() <= closes:
        raise DomainError(_("The appeal window is open until %(time)s.") % {"time": kst(closes, seconds=False)})
    if Appeal.objects.filter(phase=phase).filter(status=AppealStatus.OPEN).exists():
        raise DomainError(_("An appeal is still open."))
    if Appeal.objects.filter(phase=phase, status=AppealStatus.UPHELD, applied_at__isnull=True).exists():
        raise DomainError(_("An upheld appeal has not been re-finalised yet."))
    return phase_transition(phase=phase, to=PhaseStatus.FINAL, by=by, reason="appeal window closed")


def phases_make_final_due() -> int:
    """Make every published phase whose window closed with no open appeal final (a periodic job)."""
    done = 0
    for phase in Phase.objects.filter(status=PhaseStatus.PUBLISHED, published_at__isnull=False):
        try:
            phase_make_final(phase=phase)
            done += 1
        except DomainError:
            continue
    return done


# --------------------------------------------------------------------------- appeals


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
            assignment.status, assignment.submitted_at = AssignmentStatus.ACTIVE, None
            assignment.save(update_fields=["status", "submitted_at"])
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
