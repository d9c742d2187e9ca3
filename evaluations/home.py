"""Home sections of the evaluations app (``portal/home.py``): an applicant's published
results, a reviewer's reviews per phase, and where each phase stands for officers."""

from __future__ import annotations

from django.db.models import Count, Exists, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from consortia.enums import ApplicationState
from consortia.models import Application
from evaluations.enums import (
    ACTIVE_DECISIONS,
    ASSIGNMENT_LIVE_STATES,
    AppealStatus,
    AssignmentStatus,
    PhaseKind,
    PhaseStatus,
)
from evaluations.models import Appeal, Assignment, Phase, PhaseResult, Score
from evaluations.ranking import phase_ranking_source
from evaluations.selectors import results_visible_to
from evaluations.services import appeal_window_closes_at
from portal.home import OFF, A, D, HomeSection, R
from portal.models import Programme

#: How many programmes (the most recent) an officer's home follows.
HOME_PROGRAMMES = 3


def _count(qs) -> Coalesce:
    """The number of rows of ``qs`` (correlated on ``OuterRef``) as a scalar subquery."""
    return Coalesce(
        Subquery(qs.order_by().annotate(_k=Value(1)).values("_k").annotate(n=Count("id")).values("n")[:1]),
        0,
        output_field=IntegerField(),
    )


# --------------------------------------------------------------------------- applicants


def applicant_results(request) -> dict | None:
    results = list(results_visible_to(request.user).select_related("phase__programme")[:10])
    if not results:
        return None
    now = timezone.now()
    rows = []
    for result in results:
        closes = appeal_window_closes_at(result.phase)
        rows.append(
            {
                "result": result,
                "phase": result.phase,
                "appeal_closes_at": closes if result.phase.status == PhaseStatus.PUBLISHED else None,
                "appeal_open": result.phase.status == PhaseStatus.PUBLISHED and closes is not None and now <= closes,
            }
        )
    return {"rows": rows}


# --------------------------------------------------------------------------- reviewers


def reviewer_reviews(request) -> dict:
    """Per phase: pending (no score saved yet), drafted (scores saved, not submitted) and
    submitted reviews, with the scoring window — one aggregate query; plus the next sheet."""
    user = request.user
    per_phase = list(
        Assignment.objects.filter(reviewer=user)
        .annotate(has_draft=Exists(Score.objects.filter(assignment=OuterRef("pk"))))
        .values(
            "phase_id", "phase__name", "phase__name_en", "phase__status",
            "phase__scoring_opens_at", "phase__scoring_closes_at", "phase__programme__name",
            "phase__programme__name_en",
        )
        .annotate(
            pending=Count("id", filter=Q(status=AssignmentStatus.AWAITING_DECLARATION) | Q(status=AssignmentStatus.ACTIVE, has_draft=False)),
            drafted=Count("id", filter=Q(status=AssignmentStatus.ACTIVE, has_draft=True)),
            submitted=Count("id", filter=Q(status=AssignmentStatus.SUBMITTED)),
            conflicted=Count("id", filter=Q(status=AssignmentStatus.CONFLICTED)),
        )
        .order_by("phase__scoring_closes_at", "phase_id")
    )  # fmt: skip
    now = timezone.now()
    for row in per_phase:
        row["open"] = row["phase__status"] == PhaseStatus.SCORING and now <= row["phase__scoring_closes_at"]
        row["to_do"] = row["pending"] + row["drafted"]
    following = (
        Assignment.objects.filter(
            reviewer=user,
            status__in=(AssignmentStatus.AWAITING_DECLARATION, AssignmentStatus.ACTIVE),
            phase__status=PhaseStatus.SCORING,
        )
        .order_by("phase__scoring_closes_at", "id")
        .only("id", "status")
        .first()
    )
    return {
        "phases": per_phase,
        "to_do": sum(r["to_do"] for r in per_phase if r["open"]),
        "next_assignment": following,
    }


# --------------------------------------------------------------------------- officers


def officer_phases(request) -> dict:
    """Per phase of the recent programmes: applications, live assignments, reviews in,
    open appeals (one query of scalar subqueries), teams kept by each phase (one aggregate
    query), and for a phase being scored the ties the officer must still decide."""
    programmes = list(Programme.objects.order_by("-year", "-id")[:HOME_PROGRAMMES])
    phases = list(
        Phase.objects.filter(programme__in=programmes)
        .select_related("programme")
        .annotate(
            assignment_count=_count(Assignment.objects.filter(phase=OuterRef("pk"), status__in=ASSIGNMENT_LIVE_STATES)),
            review_count=_count(Assignment.objects.filter(phase=OuterRef("pk"), status=AssignmentStatus.SUBMITTED)),
            open_appeal_count=_count(Appeal.objects.filter(phase=OuterRef("pk"), status=AppealStatus.OPEN)),
            submitted_count=_count(
                Application.objects.filter(programme=OuterRef("programme"), state=ApplicationState.SUBMITTED)
            ),
        )
        .order_by("-programme__year", "-programme_id", "order")
    )
    kept = {
        row["phase_id"]: row["n"]
        for row in PhaseResult.objects.filter(phase__in=phases, decision__in=ACTIVE_DECISIONS)
        .exclude(application__state=ApplicationState.WITHDRAWN)
        .values("phase_id")
        .annotate(n=Count("id"))
        .order_by()
    }
    now = timezone.now()
    previous: dict[int, Phase] = {}
    for phase in phases:
        before = previous.get(phase.programme_id)
        if phase.kind == PhaseKind.SELECTION:
            phase.application_total = phase.submitted_count
        else:
            phase.application_total = kept.get(before.pk, 0) if before is not None else 0
        previous[phase.programme_id] = phase
        phase.kept_count = kept.get(phase.pk, 0)
        phase.appeal_closes_at = appeal_window_closes_at(phase)
        phase.appeal_window_open = (
            phase.status == PhaseStatus.PUBLISHED
            and phase.appeal_closes_at is not None
            and now <= phase.appeal_closes_at
        )
        phase.ties = None
        phase.ready = None
        if phase.status == PhaseStatus.SCORING:
            # The live ranking is cached under a key of its inputs: one computation per change.
            _rows, snapshot = phase_ranking_source(phase=phase)
            phase.ties = len(snapshot.result.needs_officer_decision)
            phase.ready = snapshot.result.ready_to_finalise
    groups = [{"programme": p, "phases": [ph for ph in phases if ph.programme_id == p.pk]} for p in programmes]
    return {"groups": groups, "has_programmes": bool(programmes)}


SECTIONS = [
    HomeSection("results", (A,), 20, "evaluations/home/_results.html", applicant_results),
    HomeSection("reviews", (R,), 10, "evaluations/home/_reviews.html", reviewer_reviews),
    HomeSection("phases", (OFF, D), 10, "evaluations/home/_phases.html", officer_phases),
]
