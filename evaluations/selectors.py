"""Reads of evaluation data, scoped and shaped for their callers."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Q, QuerySet
from django.db.models.fields.json import KeyTransform

from consortia.enums import ApplicationState
from consortia.models import Affiliation, Application, ApplicationVersion, ConsortiumMember
from consortia.rules_application import gpu_suppliers_withholding
from consortia.selectors import team_contacts_q
from consortia.versions import read_version
from evaluations.enums import (
    ACTIVE_DECISIONS,
    ASSIGNMENT_LIVE_STATES,
    PHASE_FROZEN_STATES,
    AssignmentStatus,
    PhaseKind,
    PhaseStatus,
)
from evaluations.models import Appeal, Assignment, Phase, PhaseResult, PhaseReviewer, Score
from portal.models import Programme, User


@dataclass(frozen=True)
class ActiveTeam:
    """A team that is active after the programme's latest finalised phase."""

    application_id: int
    consortium_id: int
    consortium_name: str
    lead_organisation_id: int
    phase_id: int
    rank: int
    score: Decimal
    requested_gpus: int
    requested_budget: int
    gpu_supplier: bool
    gpu_supplier_members: tuple[str, ...] = ()  # the organisations whose flag withholds GPUs


def phase_latest_finalised(*, programme: Programme) -> Phase | None:
    return programme.phases.filter(status__in=PHASE_FROZEN_STATES).order_by("-order").first()


def active_teams_for_allocation(*, programme: Programme) -> list[ActiveTeam]:
    """Selected or kept teams of the latest finalised phase, best rank first.

    Reads the frozen ``PhaseResult`` snapshot, never live scores. A team is flagged as a GPU
    supplier (it receives no GPUs) while an organisation of its consortium is flagged as one, by
    the programme's rule (``Programme.gpu_supplier_rule``; default: any member, not only the lead).
    Requests come from the version that was evaluated, never from the editable draft.
    """
    phase = phase_latest_finalised(programme=programme)
    if phase is None:
        return []
    results = (
        PhaseResult.objects.filter(phase=phase, decision__in=ACTIVE_DECISIONS)
        .exclude(application__state=ApplicationState.WITHDRAWN)
        .select_related("application__consortium__lead_organisation", "version")
        .prefetch_related("application__consortium__members__organisation")
        .order_by("rank", "application_id")
    )
    teams = []
    for result in results:
        application = result.application
        consortium = application.consortium
        suppliers = gpu_suppliers_withholding(
            programme,
            lead=consortium.lead_organisation,
            organisations=[m.organisation for m in consortium.members.all()],
        )
        # The evaluated version's requests; a result without a version (none was submitted) requests nothing.
        frozen = read_version(result.version if result.version_id else None)
        teams.append(
            ActiveTeam(
                application_id=application.id,
                consortium_id=application.consortium_id,
                consortium_name=application.consortium.name,
                lead_organisation_id=application.consortium.lead_organisation_id,
                phase_id=phase.id,
                rank=result.rank,
                score=result.score,
                requested_gpus=int(frozen.requested_gpus or 0),
                requested_budget=int(frozen.requested_budget or 0),
                gpu_supplier=bool(suppliers),
                gpu_supplier_members=tuple(suppliers),
            )
        )
    return teams


# --------------------------------------------------------------------------- phases and their applications


def phases_visible_to(user) -> QuerySet[Phase]:
    """Officers see every phase; nobody else lists phases (reviewers go through assignments)."""
    if not (user.is_authenticated and user.is_officer):
        return Phase.objects.none()
    return Phase.objects.select_related("programme").order_by("-programme_id", "order")


def phase_previous(*, phase: Phase) -> Phase | None:
    return phase.programme.phases.filter(order__lt=phase.order).order_by("-order").first()


def phase_applications(*, phase: Phase) -> QuerySet[Application]:
    """The applications a phase evaluates.

    The selection phase takes every submitted application of the programme; a stage phase
    takes the teams selected or kept by the previous phase's frozen results (and not
    withdrawn since).
    """
    base = Application.objects.select_related("consortium", "consortium__lead_organisation").order_by("id")
    if phase.kind == PhaseKind.SELECTION:
        return base.filter(programme_id=phase.programme_id, state=ApplicationState.SUBMITTED)
    previous = phase_previous(phase=phase)
    if previous is None:
        return base.none()
    return base.filter(phase_results__phase=previous, phase_results__decision__in=ACTIVE_DECISIONS).exclude(
        state=ApplicationState.WITHDRAWN
    )


def latest_versions(*, application_ids, lean: bool = False) -> dict[int, ApplicationVersion]:
    """The latest submitted version of each application (the one evaluated), in one query.

    Each version carries the model categories it names as ``version.model_categories`` and
    its frozen title as ``version.frozen_title``
    (read by the database from its content). ``lean`` reads only that, the number and
    the receipt, instead of each version's whole frozen content: what a ranking needs.
    """
    qs = (
        ApplicationVersion.objects.filter(application_id__in=list(application_ids))
        .order_by("application_id", "number")
        .annotate(
            model_categories=KeyTransform("model_categories", KeyTransform("fields", "content")),
            frozen_title=KeyTransform("title", KeyTransform("fields", "content")),
        )
    )
    if lean:
        qs = qs.only("id", "application_id", "number", "receipt_number")
    versions: dict[int, ApplicationVersion] = {}
    for version in qs:
        versions[version.application_id] = version
    return versions


def consortium_organisation_ids(*, application_ids) -> dict[int, set[int]]:
    """Every organisation (lead and members) of each application's consortium, in two queries."""
    result: dict[int, set[int]] = {}
    for app_id, lead_id in Application.objects.filter(id__in=list(application_ids)).values_list(
        "id", "consortium__lead_organisation_id"
    ):
        result[app_id] = {lead_id}
    for app_id, org_id in ConsortiumMember.objects.filter(consortium__application__id__in=list(result)).values_list(
        "consortium__application__id", "organisation_id"
    ):
        result.setdefault(app_id, set()).add(org_id)
    return result


# --------------------------------------------------------------------------- assignments


def assignments_visible_to(user, *, phase: Phase | None = None) -> QuerySet[Assignment]:
    """Officers: every assignment. Reviewers: their own, except conflicted or replaced ones
    (a conflicted reviewer sees nothing of the application)."""
    qs = Assignment.objects.select_related(
        "phase", "application", "application__consortium", "reviewer", "version"
    ).order_by("phase_id", "application_id", "id")
    if phase is not None:
        qs = qs.filter(phase=phase)
    if user.is_authenticated and user.is_officer:
        return qs
    if user.is_authenticated and user.is_reviewer:
        # An affiliation recorded after the assignment conflicts it as surely as a declaration
        # (``rules.is_affiliated_with_team``): such assignments leave the list as well.
        # The reviewer's organisations are read first (most reviewers have one or none), so
        # the list query carries a short literal list, or no exclusion at all, instead of
        # two nested subqueries that cost more to build than to run.
        mine = list(Affiliation.objects.filter(user_id=user.id).values_list("organisation_id", flat=True))
        qs = qs.filter(reviewer=user).exclude(status__in=(AssignmentStatus.CONFLICTED, AssignmentStatus.REPLACED))
        if mine:
            qs = qs.exclude(application__consortium__lead_organisation_id__in=mine).exclude(
                application__consortium__members__organisation_id__in=mine
            )
        return qs
    return qs.none()


def reviewer_queue(user) -> QuerySet[Assignment]:
    """The reviewer's own assignments as their queue shows them: only the columns it
    shows, not each application's and version's whole content."""
    return (
        assignments_visible_to(user)
        .select_related(None)
        .select_related("phase", "application__consortium", "version")
        .only(
            "id", "status", "phase_id", "application_id", "version_id",
            "phase__name", "phase__name_en", "phase__status", "phase__scoring_closes_at",
            "application__consortium_id", "application__consortium__name", "version__receipt_number",
        )
    )  # fmt: skip


@dataclass(frozen=True)
class ReviewerProgress:
    reviewer_id: int
    name: str
    assigned: int
    submitted: int
    conflicted: int


def phase_reviewer_progress(*, phase: Phase) -> list[ReviewerProgress]:
    """Per reviewer of the pool or with assignments: live assignments, submitted, conflicted (two queries)."""
    rows = (
        Assignment.objects.filter(phase=phase)
        .values("reviewer_id")
        .annotate(
            assigned=Count("id", filter=Q(status__in=ASSIGNMENT_LIVE_STATES)),
            submitted=Count("id", filter=Q(status=AssignmentStatus.SUBMITTED)),
            conflicted=Count("id", filter=Q(status=AssignmentStatus.CONFLICTED)),
        )
    )
    counts = {row["reviewer_id"]: row for row in rows}
    people = {
        pr.reviewer_id: str(pr.reviewer) for pr in PhaseReviewer.objects.filter(phase=phase).select_related("reviewer")
    }
    missing = set(counts) - set(people)
    if missing:
        people.update({u.id: str(u) for u in User.objects.filter(id__in=missing)})
    progress = []
    for reviewer_id, name in sorted(people.items(), key=lambda item: item[1]):
        row = counts.get(reviewer_id, {})
        progress.append(
            ReviewerProgress(
                reviewer_id=reviewer_id,
                name=name,
                assigned=row.get("assigned", 0),
                submitted=row.get("submitted", 0),
                conflicted=row.get("conflicted", 0),
            )
        )
    return progress


# --------------------------------------------------------------------------- applicants' view


def applications_of_member(user) -> QuerySet[Application]:
    """Applications the user speaks for (lead contact or a member organisation's contact)."""
    if not user.is_authenticated:
        return Application.objects.none()
    return Application.objects.filter(team_contacts_q(user, "consortium__")).distinct().select_related("consortium")


def results_visible_to(user) -> QuerySet[PhaseResult]:
    """Published results of the user's own applications."""
    return (
        PhaseResult.objects.filter(
            application__in=applications_of_member(user).values("id"),
            phase__status__in=(PhaseStatus.PUBLISHED, PhaseStatus.FINAL),
        )
        .select_related("phase", "application", "application__consortium")
        .order_by("-phase__order", "application_id")
    )


def appeals_visible_to(user) -> QuerySet[Appeal]:
    qs = Appeal.objects.select_related("phase", "application", "application__consortium", "filed_by", "decided_by")
    if user.is_authenticated and user.is_officer:
        return qs
    if user.is_authenticated and user.is_applicant:
        return qs.filter(application__in=applications_of_member(user).values("id"))
    return qs.none()


def anonymised_comments(*, phase: Phase, application_id: int) -> list[dict]:
    """Submitted reviewers' comments with the reviewer replaced by a letter (order fixed by assignment id)."""
    assignments = list(
        Assignment.objects.filter(
            phase=phase, application_id=application_id, status=AssignmentStatus.SUBMITTED
        ).order_by("id")
    )
    per_assignment: dict[int, list[tuple[str, str]]] = {}
    for assignment_id, criterion_name, comment in (
        Score.objects.filter(assignment__in=assignments)
        .exclude(comment="")
        .order_by("assignment_id", "criterion__order", "criterion_id")
        .values_list("assignment_id", "criterion__name", "comment")
    ):
        per_assignment.setdefault(assignment_id, []).append((criterion_name, comment))
    comments = []
    for index, assignment in enumerate(assignments):
        letter = chr(ord("A") + index % 26)
        comments.append(
            {
                "reviewer": letter,
                "comment": assignment.comment,
                "criteria": per_assignment.get(assignment.id, []),
            }
        )
    return comments
