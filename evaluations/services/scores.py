"""Scoring and the officer's inputs to the ranking: reviewers' sheets, gate decisions, tie
breaks, the panel's decision to keep fewer teams, benchmark results and user-panel points."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import partial

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from consortia.models import Application
from evaluations.enums import PHASE_FROZEN_STATES, AppealStatus, AssignmentStatus, CriterionSource, PhaseStatus
from evaluations.models import (
    Appeal,
    Assignment,
    BenchmarkResult,
    Criterion,
    GateDecision,
    Objective,
    Phase,
    Score,
    TieBreakDecision,
    UserPanelScore,
)
from evaluations.ranking_cache import live_ranking_stamp_forget
from evaluations.ranking_snapshot import phase_snapshot
from evaluations.selectors import latest_versions, phase_applications
from evaluations.services.phases import _locked_phase, _refuse_if_frozen
from evaluations.workflow import assignment_move
from portal.audit import audit_record
from portal.errors import DomainError, InvalidInput
from portal.formatting import kst
from portal.korean import particles
from portal.models import User
from portal.outbox import outbox_publish

TENTH = Decimal("0.1")


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
    if submit:
        missing = [criteria[k].name for k in criteria if k not in existing]
        if missing:
            raise InvalidInput(_("Score every criterion before submitting: %(names)s.") % {"names": ", ".join(missing)})
        assignment_move(assignment=assignment, to=AssignmentStatus.SUBMITTED, fields=["comment"])
    else:
        assignment.save(update_fields=["comment"])
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
