"""A phase's life: set-up (settings, criteria, objectives), opening scoring, finalising into a
snapshot, publishing and becoming final once the appeal window closed."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from evaluations.enums import (
    PHASE_FROZEN_STATES,
    AppealStatus,
    AssignmentStatus,
    CriterionSource,
    PhaseKind,
    PhaseStatus,
)
from evaluations.models import Appeal, Assignment, Criterion, Objective, Phase, PhaseResult
from evaluations.ranking_snapshot import phase_snapshot
from evaluations.selectors import phase_applications, phase_previous
from evaluations.workflow import phase_move
from portal.audit import audit_changes, audit_record, model_snapshot
from portal.errors import DomainError, InvalidInput
from portal.formatting import kst
from portal.models import Programme, User

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


def _locked_phase(phase: Phase) -> Phase:
    return Phase.objects.select_for_update().get(pk=phase.pk)


def _refuse_if_frozen(phase: Phase) -> None:
    if phase.status in PHASE_FROZEN_STATES:
        raise DomainError(_("The phase has been finalised; assignments can no longer change."))


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
    return phase_move(phase=phase, to=PhaseStatus.SCORING, by=by)


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
    phase_move(
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
    return phase_move(phase=phase, to=PhaseStatus.PUBLISHED, by=by, extra={"published_at": timezone.now()})


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
    return phase_move(phase=phase, to=PhaseStatus.FINAL, by=by, reason="appeal window closed")


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
