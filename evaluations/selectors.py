"""Reads of evaluation data, scoped and shaped for their callers."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property

from django.core.cache import cache
from django.db.models import Count, DecimalField, F, IntegerField, Max, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.fields.json import KT, KeyTransform
from django.db.models.functions import Cast, Floor, Least

from consortia.enums import ApplicationState
from consortia.models import Affiliation, Application, ApplicationVersion, ConsortiumMember
from consortia.rules_application import gpu_suppliers_withholding
from consortia.selectors import team_contacts_q
from consortia.versions import read_version
from evaluations import scoring
from evaluations.enums import (
    ACTIVE_DECISIONS,
    ASSIGNMENT_LIVE_STATES,
    PHASE_FROZEN_STATES,
    AssignmentStatus,
    CriterionSource,
    PhaseKind,
    PhaseStatus,
)
from evaluations.models import (
    Appeal,
    Assignment,
    BenchmarkResult,
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
from portal.models import Programme, User

logger = logging.getLogger(__name__)


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
        mine = Affiliation.objects.filter(user_id=user.id).values("organisation_id")
        return (
            qs.filter(reviewer=user)
            .exclude(status__in=(AssignmentStatus.CONFLICTED, AssignmentStatus.REPLACED))
            .exclude(application__consortium__lead_organisation_id__in=mine)
            .exclude(application__consortium__members__organisation_id__in=mine)
        )
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
            "phase__name", "phase__status", "phase__scoring_closes_at",
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


# --------------------------------------------------------------------------- scoring inputs and the live ranking


@dataclass(frozen=True)
class Attainment:
    """One objective as a team stands against it."""

    objective_id: int
    model_category: str
    benchmark: str
    reference_model: str
    reference_score: Decimal
    target_ratio: Decimal
    team_score: Decimal | None
    ratio: Decimal
    met: bool

    def as_dict(self) -> dict:
        return {
            "objective_id": self.objective_id,
            "model_category": self.model_category,
            "benchmark": self.benchmark,
            "reference_model": self.reference_model,
            "reference_score": str(self.reference_score),
            "target_ratio": str(self.target_ratio),
            "team_score": None if self.team_score is None else str(self.team_score),
            "ratio": str(self.ratio),
            "met": self.met,
        }


@dataclass
class PhaseSnapshot:
    """Everything read from the database to score a phase, and the core's verdict."""

    phase: Phase
    criteria: list[Criterion]
    applications: dict[int, Application]
    versions: dict[int, ApplicationVersion]
    attainment: dict[int, list[Attainment]]
    result: scoring.PhaseResult
    sheets: dict[int, list[tuple[int, dict[str, Decimal]]]] = field(default_factory=dict)
    score_values: list[tuple[int, Decimal]] = field(default_factory=list)

    @property
    def expert_criteria(self) -> list[Criterion]:
        return [c for c in self.criteria if c.source == CriterionSource.EXPERT and not c.is_gate]


def phase_rules(*, phase: Phase, criteria: list[Criterion]) -> scoring.PhaseRules:
    return scoring.PhaseRules(
        criteria=tuple(
            scoring.Criterion(
                key=c.key,
                max_points=c.max_points,
                source=c.source,
                threshold=c.threshold,
                is_gate=c.is_gate,
            )
            for c in criteria
        ),
        teams_to_keep=phase.places,
        pass_threshold=phase.pass_threshold,
        method=phase.aggregation_method,
        # NOTE: opening scoring refuses unknown keys; during set-up they are simply ignored.
        tie_break_keys=tuple(
            dict.fromkeys(k for k in phase.tie_break_criteria or () if k in {c.key for c in criteria if not c.is_gate})
        ),
        is_selection=phase.kind == PhaseKind.SELECTION,
    )


def officer_order_for(*, phase: Phase) -> list[int]:
    """Recorded tie decisions folded into one order: a later decision re-orders its own group."""
    order: list[int] = []
    for decision in TieBreakDecision.objects.filter(phase=phase).order_by("decided_at", "id"):
        ids = [int(i) for i in decision.ordered_application_ids]
        order = [i for i in order if i not in ids] + ids
    return order


def application_categories(application: Application, version: ApplicationVersion | None) -> list[str]:
    """The model categories the evaluated version names (the application's own if none);
    ``version`` comes from ``latest_versions``."""
    if version is not None:
        return list(version.model_categories or [])
    return list(application.model_categories or [])


def phase_snapshot(
    *, phase: Phase, criteria: list[Criterion] | None = None, objectives: list[Objective] | None = None
) -> PhaseSnapshot:
    """Read the phase's inputs in a fixed number of queries and run the scoring core.

    Expert sheets come from submitted assignments only; benchmark criteria earn points
    from the team's results against the objectives of the model categories it targets
    (all objectives if none matches); user-panel criteria take the imported points.
    """
    if criteria is None:
        criteria = list(phase.criteria.order_by("order", "id"))
    applications = {
        a.id: a
        for a in phase_applications(phase=phase)
        .select_related(None)
        .select_related("consortium")
        .only("id", "title", "model_categories", "consortium_id", "consortium__name")
    }
    versions = latest_versions(application_ids=applications, lean=True)
    if objectives is None:
        objectives = list(phase.objectives.order_by("id"))
    results: dict[tuple[int, int], Decimal] = {
        (r.objective_id, r.application_id): r.score
        for r in BenchmarkResult.objects.filter(objective__phase=phase, application_id__in=list(applications))
    }
    sheets: dict[int, dict[int, dict[str, Decimal]]] = {}
    score_values: list[tuple[int, Decimal]] = []
    expert_key_of = {c.id: c.key for c in criteria if c.source == CriterionSource.EXPERT and not c.is_gate}
    for app_id, reviewer_id, criterion_id, value in Score.objects.filter(
        assignment__phase=phase, assignment__status=AssignmentStatus.SUBMITTED, criterion_id__in=list(expert_key_of)
    ).values_list("assignment__application_id", "assignment__reviewer_id", "criterion_id", "value"):
        if app_id in applications:
            sheets.setdefault(app_id, {}).setdefault(reviewer_id, {})[expert_key_of[criterion_id]] = value
            score_values.append((criterion_id, value))
    panel: dict[int, dict[str, Decimal]] = {}
    for app_id, key, points in UserPanelScore.objects.filter(criterion__phase=phase).values_list(
        "application_id", "criterion__key", "points"
    ):
        panel.setdefault(app_id, {})[key] = points
    gates: dict[int, dict[str, scoring.GateResult]] = {}
    for app_id, key, passed, reasons in GateDecision.objects.filter(criterion__phase=phase).values_list(
        "application_id", "criterion__key", "passed", "reasons"
    ):
        gates.setdefault(app_id, {})[key] = scoring.GateResult(passed=passed, reason=reasons)

    expert_keys = {c.key for c in criteria if c.source == CriterionSource.EXPERT and not c.is_gate}
    benchmark_criteria = [c for c in criteria if c.source == CriterionSource.BENCHMARK and not c.is_gate]
    attainment: dict[int, list[Attainment]] = {}
    inputs = []
    for app_id, application in applications.items():
        categories = set(application_categories(application, versions.get(app_id)))
        relevant = [o for o in objectives if o.model_category in categories] or objectives
        rows = []
        core_rows = []
        for objective in relevant:
            core = scoring.BenchmarkObjective(
                benchmark=objective.benchmark,
                reference_model=objective.reference_model,
                reference_score=objective.reference_score,
                target_ratio=objective.target_ratio,
            )
            team = results.get((objective.id, app_id))
            (att,) = scoring.objective_attainment([core], {} if team is None else {objective.benchmark: team})
            core_rows.append(att)
            rows.append(
                Attainment(
                    objective_id=objective.id,
                    model_category=objective.model_category,
                    benchmark=objective.benchmark,
                    reference_model=objective.reference_model,
                    reference_score=objective.reference_score,
                    target_ratio=objective.target_ratio,
                    team_score=team,
                    ratio=att.ratio,
                    met=att.met,
                )
            )
        attainment[app_id] = rows
        points = dict(panel.get(app_id, {}))
        for criterion in benchmark_criteria:
            if core_rows:
                points[criterion.key] = scoring.benchmark_points_exact(criterion.max_points, core_rows)
        app_sheets = tuple(
            scoring.ReviewerSheet(reviewer_id=reviewer_id, scores=scores)
            for reviewer_id, scores in sorted(sheets.get(app_id, {}).items())
            if set(scores) == expert_keys
        )
        inputs.append(
            scoring.ApplicationInput(
                application_id=app_id,
                sheets=app_sheets,
                criterion_points=points,
                gate_results=gates.get(app_id, {}),
            )
        )
    rules = phase_rules(phase=phase, criteria=criteria)
    officer_order = [i for i in officer_order_for(phase=phase) if i in applications]
    result = scoring.evaluate_phase(rules, inputs, officer_order=officer_order)
    return PhaseSnapshot(
        phase=phase,
        criteria=criteria,
        applications=applications,
        versions=versions,
        attainment=attainment,
        result=result,
        sheets={k: sorted(v.items()) for k, v in sheets.items()},
        score_values=score_values,
    )


@dataclass(frozen=True)
class RankingRow:
    """One line of a ranking, live or frozen, as pages, the API and exports show it."""

    application_id: int
    consortium: str
    title: str
    receipt_number: str
    rank: int | None
    score: Decimal | None
    expert_score: Decimal | None
    criterion_means: dict
    passed: bool
    gate_failed: bool
    decision: str
    reserve_rank: int | None
    tie_break: str | None
    reasons: list
    reviewer_totals: list
    dropped_totals: list
    attainment: list

    @property
    def is_active(self) -> bool:
        return self.decision in ACTIVE_DECISIONS

    @property
    def complete(self) -> bool:
        """All inputs are in (reviews, points, gate decisions); otherwise the decision is provisional."""
        return not any(r["code"] in scoring.INCOMPLETE_CODES for r in self.reasons)

    @property
    def objectives_met(self) -> int:
        return sum(1 for a in self.attainment if a["met"])


def ranking_rows_live(snapshot: PhaseSnapshot) -> list[RankingRow]:
    rows = []
    for outcome in snapshot.result.outcomes:
        application = snapshot.applications[outcome.application_id]
        version = snapshot.versions.get(outcome.application_id)
        rows.append(
            RankingRow(
                application_id=application.id,
                consortium=application.consortium.name,
                title=version.frozen_title or "" if version else application.title,
                receipt_number=version.receipt_number if version else "",
                rank=outcome.rank,
                score=outcome.score,
                expert_score=outcome.expert_score,
                criterion_means={k: str(v) for k, v in outcome.criterion_means.items()},
                passed=outcome.passed,
                gate_failed=outcome.gate_failed,
                decision=outcome.decision,
                reserve_rank=outcome.reserve_rank,
                tie_break=outcome.tie_break,
                reasons=[{"code": r.code, "params": dict(r.params)} for r in outcome.failed_reasons],
                reviewer_totals=[str(t) for t in outcome.reviewer_totals],
                dropped_totals=[str(t) for t in outcome.dropped_totals],
                attainment=[a.as_dict() for a in snapshot.attainment.get(outcome.application_id, [])],
            )
        )
    return rows


def ranking_row_from_result(result: PhaseResult) -> RankingRow:
    """A frozen row: everything comes from the snapshot written at finalisation."""
    d = result.details or {}
    return RankingRow(
        application_id=result.application_id,
        consortium=d.get("consortium", ""),
        title=d.get("title", ""),
        receipt_number=d.get("receipt_number", ""),
        rank=result.rank,
        score=result.score,
        expert_score=Decimal(d["expert_score"]) if d.get("expert_score") else None,
        criterion_means=d.get("criterion_means", {}),
        passed=result.passed,
        gate_failed=d.get("gate_failed", False),
        decision=result.decision,
        reserve_rank=result.reserve_rank,
        tie_break=d.get("tie_break"),
        reasons=d.get("failed_reasons", []),
        reviewer_totals=d.get("reviewer_totals", []),
        dropped_totals=d.get("dropped_totals", []),
        attainment=d.get("attainment", []),
    )


def phase_results_frozen(*, phase: Phase) -> QuerySet[PhaseResult]:
    return PhaseResult.objects.filter(phase=phase).order_by("rank", "application_id")


def phase_is_frozen(phase: Phase) -> bool:
    return phase.status in PHASE_FROZEN_STATES


def phase_ranking_rows(*, phase: Phase) -> tuple[list[RankingRow], PhaseSnapshot | None]:
    """The whole ranking: frozen rows once finalised, otherwise the live computation.

    Builds every row: for exports. Pages and the API use ``phase_ranking_source``.
    """
    if phase_is_frozen(phase):
        return [ranking_row_from_result(r) for r in phase_results_frozen(phase=phase)], None
    snapshot = phase_snapshot(phase=phase)
    return ranking_rows_live(snapshot), snapshot


class LiveRanking(list):
    """The live ranking's rows (computed over every application) with the summaries
    that the ranking page reads."""

    def __init__(self, rows=(), *, criteria: list[Criterion] | None = None, bands: dict | None = None):
        super().__init__(rows)
        self.criteria = criteria or []
        self.bands = bands or {}

    def scored_top(self, n: int) -> list[RankingRow]:
        return [r for r in self if r.score is not None][:n]

    def last_active_id(self) -> int | None:
        active = [r for r in self if r.decision in ACTIVE_DECISIONS]
        return active[-1].application_id if active else None

    def rows_by_id(self, ids) -> dict[int, RankingRow]:
        wanted = set(ids)
        return {r.application_id: r for r in self if r.application_id in wanted}

    def score_bands(self, *, phase: Phase, criteria: list[Criterion]) -> dict[int, list[int]]:
        return {c.id: self.bands.get(c.id, [0, 0, 0, 0, 0]) for c in criteria}


class FrozenRanking:
    """A finalised phase's ranking as a lazy sequence over ``PhaseResult``.

    ``Paginator`` (pages and the API) counts it with one ``COUNT`` and slices it with one
    ``LIMIT``/``OFFSET`` query, so a page builds at most one page of rows whatever the
    number of applications. Order: rank, then application id (as ``phase_results_frozen``).
    """

    def __init__(self, phase: Phase):
        self.phase = phase
        self.queryset = phase_results_frozen(phase=phase)
        self._count: int | None = None

    def count(self) -> int:
        if self._count is None:
            self._count = self.queryset.count()
        return self._count

    def __len__(self) -> int:
        return self.count()

    @cached_property
    def criteria(self) -> list[Criterion]:
        return list(self.phase.criteria.order_by("order", "id"))

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [ranking_row_from_result(r) for r in self.queryset[index]]
        return ranking_row_from_result(self.queryset[index])

    def __iter__(self):
        return (ranking_row_from_result(r) for r in self.queryset.iterator())

    def scored_top(self, n: int) -> list[RankingRow]:
        """The first ``n`` rows that have a score (one query)."""
        return [ranking_row_from_result(r) for r in self.queryset.filter(score__isnull=False)[:n]]

    def score_bands(self, *, phase: Phase, criteria: list[Criterion]) -> dict[int, list[int]]:
        return criterion_score_distribution(phase=phase, criteria=criteria)

    def last_active_id(self) -> int | None:
        """The application after which the cut line is drawn: the last selected/kept row (one query)."""
        return (
            self.queryset.filter(decision__in=ACTIVE_DECISIONS)
            .reverse()  # the exact reverse of (rank, application id), NULLs included, on every backend
            .values_list("application_id", flat=True)
            .first()
        )


LIVE_CHUNK = 50
#: Tie groups whose rows the cached summary keeps (the ranking page shows the first
#: ``TIES_SHOWN`` of them); rows of later groups are read from the chunks when asked for.
LIVE_TIE_GROUPS = 50
LIVE_CACHE_SECONDS = 6 * 60 * 60


@dataclass(frozen=True)
class LiveSummary:
    """What the ranking page reads of a live evaluation besides its rows."""

    needs_officer_decision: tuple
    ready_to_finalise: bool


@dataclass(frozen=True)
class CachedSnapshot:
    """Stands in for ``PhaseSnapshot`` when the live ranking comes from the cache."""

    result: LiveSummary


def _cache_get(key: str):
    try:
        return cache.get(key)
    except Exception:  # noqa: BLE001 -- the cache only saves work; the ranking is computed without it
        logger.warning("ranking cache unavailable", exc_info=True)
        return None


def _cache_set(key: str, value) -> None:
    try:
        cache.set(key, value, timeout=LIVE_CACHE_SECONDS)
    except Exception:  # noqa: BLE001 -- as above
        logger.warning("ranking cache unavailable", exc_info=True)


def _scalar(qs: QuerySet, aggregate) -> Subquery:
    """One aggregate of ``qs`` as a scalar subquery."""
    return Subquery(qs.order_by().annotate(_k=Value(1)).values("_k").annotate(v=aggregate).values("v")[:1])


@dataclass(frozen=True)
class LiveKey:
    """The live ranking's cache key, with the criteria and objectives read to make it."""

    key: str
    criteria: list
    objectives: list


def live_ranking_key(*, phase: Phase) -> LiveKey:
    """A cache key that changes whenever an input of the live ranking changes.

    Inputs (see ``phase_snapshot``): the phase's own settings (in memory), its criteria
    and objectives (read whole: a handful of rows), and a stamp of the growing inputs —
    the evaluated applications (number, sum of ids), their latest version (highest id),
    the submitted sheets (number, latest submission, highest id: scores change only while
    a sheet is open), benchmark results (number, highest id, sum of scores), user-panel
    points and gate decisions (number, latest write: both stamp every write) and tie
    decisions (number, highest id) — read in ONE query of scalar subqueries, each an
    index range over the phase's rows. Three queries in all.
    """
    applications = phase_applications(phase=phase)
    submitted = Assignment.objects.filter(phase=OuterRef("pk"), status=AssignmentStatus.SUBMITTED)
    results = BenchmarkResult.objects.filter(objective__phase=OuterRef("pk"))
    panel = UserPanelScore.objects.filter(criterion__phase=OuterRef("pk"))
    gates = GateDecision.objects.filter(criterion__phase=OuterRef("pk"))
    ties = TieBreakDecision.objects.filter(phase=OuterRef("pk"))
    stamp = (
        Phase.objects.filter(pk=phase.pk)
        .annotate(
            apps_n=_scalar(applications, Count("id")),
            apps_sum=_scalar(applications, Sum("id")),
            versions_top=_scalar(
                ApplicationVersion.objects.filter(application__in=applications.values("id")), Max("id")
            ),
            sheets_n=_scalar(submitted, Count("id")),
            sheets_last=_scalar(submitted, Max("submitted_at")),
            sheets_top=_scalar(submitted, Max("id")),
            results_n=_scalar(results, Count("id")),
            results_top=_scalar(results, Max("id")),
            results_sum=_scalar(results, Sum("score")),
            panel_n=_scalar(panel, Count("id")),
            panel_last=_scalar(panel, Max("imported_at")),
            gates_n=_scalar(gates, Count("id")),
            gates_last=_scalar(gates, Max("decided_at")),
            ties_n=_scalar(ties, Count("id")),
            ties_top=_scalar(ties, Max("id")),
        )
        .values_list(
            "apps_n",
            "apps_sum",
            "versions_top",
            "sheets_n",
            "sheets_last",
            "sheets_top",
            "results_n",
            "results_top",
            "results_sum",
            "panel_n",
            "panel_last",
            "gates_n",
            "gates_last",
            "ties_n",
            "ties_top",
        )  # fmt: skip
        .first()
    )
    settings = sorted((f.attname, f.value_from_object(phase)) for f in phase._meta.concrete_fields)
    criteria = list(phase.criteria.order_by("order", "id"))
    objectives = list(phase.objectives.order_by("id"))
    rows = [[(f.attname, f.value_from_object(o)) for f in o._meta.concrete_fields] for o in (*criteria, *objectives)]
    digest = hashlib.sha256(repr((settings, rows, stamp)).encode()).hexdigest()[:32]
    return LiveKey(f"evaluations:live-ranking:{phase.pk}:{digest}", criteria, objectives)


class CachedLiveRanking:
    """A live ranking read back from the cache: the summary and only the 50-row chunks
    that a page needs, so a page does not unpickle every row. A missing chunk (evicted)
    recomputes and stores the whole ranking once."""

    def __init__(self, *, phase: Phase, key: str, summary: dict, criteria: list[Criterion]):
        self.phase, self.key, self.summary, self.criteria = phase, key, summary, criteria
        self._chunks: dict[str, list[RankingRow]] = {}  # read once per request

    def count(self) -> int:
        return self.summary["count"]

    def __len__(self) -> int:
        return self.count()

    def scored_top(self, n: int) -> list[RankingRow]:
        """Unscored rows sort after every scored one, so the first ``n`` scored rows are
        among the first ``n`` rows: the first chunk, which page 1 reads anyway."""
        if n > LIVE_CHUNK:
            return [r for r in self if r.score is not None][:n]
        return [r for r in self[0:LIVE_CHUNK] if r.score is not None][:n]

    def rows_by_id(self, ids) -> dict[int, RankingRow]:
        kept = self.summary["tie_rows"]
        wanted = list(ids)
        found = {i: kept[i] for i in wanted if i in kept}
        if len(found) < len(set(wanted)):  # a tie group beyond those the summary keeps
            missing = set(wanted) - set(found)
            found.update({r.application_id: r for r in self if r.application_id in missing})
        return found

    def __iter__(self):
        return iter(self[0 : self.count()])

    def last_active_id(self) -> int | None:
        return self.summary["last_active_id"]

    def score_bands(self, *, phase: Phase, criteria: list[Criterion]) -> dict[int, list[int]]:
        bands = self.summary["bands"]
        return {c.id: bands.get(c.id, [0, 0, 0, 0, 0]) for c in criteria}

    def __getitem__(self, index):
        if not isinstance(index, slice):
            return self[index : index + 1][0]
        start, stop, _step = index.indices(self.count())
        if start >= stop:
            return []
        numbers = range(start // LIVE_CHUNK, (stop - 1) // LIVE_CHUNK + 1)
        keys = [f"{self.key}:chunk:{n}" for n in numbers]
        missing = [k for k in keys if k not in self._chunks]
        try:
            self._chunks.update(cache.get_many(missing) if missing else {})
        except Exception:  # noqa: BLE001 -- recomputed below
            logger.warning("ranking cache unavailable", exc_info=True)
        found = {k: self._chunks[k] for k in keys if k in self._chunks}
        if len(found) < len(keys):
            rows = _store_live_ranking(self.phase, self.key, phase_snapshot(phase=self.phase))
            return rows[start:stop]
        rows = [row for k in keys for row in found[k]]
        offset = numbers[0] * LIVE_CHUNK
        return rows[start - offset : stop - offset]


def _band(value: Decimal, top: Decimal) -> int:
    """Which fifth of ``top`` a figure falls in (0–4); the same as ``_band_of`` in SQL."""
    return max(0, min(4, int((value * 5) // top)))


def live_score_bands(snapshot: PhaseSnapshot) -> dict[int, list[int]]:
    """The score bands of every scored criterion, counted from the snapshot already in
    memory: each submitted expert score, and each team's benchmark or panel points."""
    criteria = [c for c in snapshot.criteria if not c.is_gate]
    bands = {c.id: [0, 0, 0, 0, 0] for c in criteria}
    maxima = {c.id: c.max_points for c in criteria if c.max_points}
    for criterion_id, value in snapshot.score_values:
        top = maxima.get(criterion_id)
        if top:
            bands[criterion_id][_band(value, top)] += 1
    others = [c for c in criteria if c.source != CriterionSource.EXPERT and c.id in maxima]
    for outcome in snapshot.result.outcomes:
        for criterion in others:
            figure = outcome.criterion_means.get(criterion.key)
            if figure is not None:
                bands[criterion.id][_band(figure, criterion.max_points)] += 1
    return bands


def _store_live_ranking(phase: Phase, key: str, snapshot: PhaseSnapshot) -> LiveRanking:
    rows = LiveRanking(ranking_rows_live(snapshot), criteria=snapshot.criteria, bands=live_score_bands(snapshot))
    chunks = {
        f"{key}:chunk:{n}": rows[n * LIVE_CHUNK : (n + 1) * LIVE_CHUNK] for n in range(len(rows) // LIVE_CHUNK + 1)
    }
    try:
        cache.set_many(chunks, timeout=LIVE_CACHE_SECONDS)
    except Exception:  # noqa: BLE001 -- the cache only saves work
        logger.warning("ranking cache unavailable", exc_info=True)
        return rows
    summary = {
        "count": len(rows),
        "last_active_id": rows.last_active_id(),
        "needs_officer_decision": tuple(snapshot.result.needs_officer_decision),
        "ready_to_finalise": snapshot.result.ready_to_finalise,
        "tie_rows": rows.rows_by_id(
            i for group in snapshot.result.needs_officer_decision[:LIVE_TIE_GROUPS] for i in group.application_ids
        ),
        "bands": rows.bands,
    }
    _cache_set(key, summary)  # written last: a summary implies its chunks were stored
    return rows


def live_ranking_warm(*, phase_id: int) -> bool:
    """Store the live ranking of a phase being scored under its current key, unless it is
    stored already; True if it was computed. Run by a worker after an input changed."""
    phase = Phase.objects.filter(pk=phase_id).first()
    if phase is None or phase_is_frozen(phase):
        return False
    rows, _snapshot = phase_ranking_source(phase=phase)
    return isinstance(rows, LiveRanking)  # computed (and stored), not read from the cache


def phase_ranking_source(*, phase: Phase):
    """The ranking for pages and the API, with the snapshot (``None`` once frozen).

    Frozen: lazy over ``PhaseResult`` (a COUNT and one page of rows). Live: the ranking
    must be computed over every application (linear in their number), so the computed
    rows are cached under ``live_ranking_key`` and later requests read the summary and
    one page; any change of an input gives a new key, hence a fresh computation.
    """
    if phase_is_frozen(phase):
        return FrozenRanking(phase), None
    live_key = live_ranking_key(phase=phase)
    key = live_key.key
    summary = _cache_get(key)
    if summary is not None:
        return CachedLiveRanking(phase=phase, key=key, summary=summary, criteria=live_key.criteria), CachedSnapshot(
            result=LiveSummary(
                needs_officer_decision=summary["needs_officer_decision"],
                ready_to_finalise=summary["ready_to_finalise"],
            )
        )
    snapshot = phase_snapshot(phase=phase, criteria=live_key.criteria, objectives=live_key.objectives)
    return _store_live_ranking(phase, key, snapshot), snapshot


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


def expert_score_bands(*, phase: Phase, maxima: dict[int, Decimal]) -> list[tuple[int, int, int]]:
    """(criterion id, band, count) over every submitted reviewer score of the phase.

    Counting the bands reads every score (reviewers × applications × criteria). Once the
    phase is frozen the result is cached under a stamp of its submitted sheets: their
    number, the latest submission and the highest assignment id. Scores change only while
    a sheet is open; re-submitting moves the latest submission and re-opening (an upheld
    appeal) lowers the number, so either gives a new key. The stamp is one aggregate over
    the phase's assignments, a fraction of the scores' work. While the phase is live the
    ranking reads every score anyway, so the bands are counted each time.
    """

    def count() -> list[tuple[int, int, int]]:
        return list(
            Score.objects.filter(
                assignment__phase=phase, assignment__status=AssignmentStatus.SUBMITTED, criterion_id__in=list(maxima)
            )
            .annotate(band=_band_of(F("value"), F("criterion__max_points")))
            .values("criterion_id", "band")
            .annotate(n=Count("id"))
            .order_by()
            .values_list("criterion_id", "band", "n")
        )

    if phase.status not in PHASE_FROZEN_STATES:
        return count()
    stamp = Assignment.objects.filter(phase=phase, status=AssignmentStatus.SUBMITTED).aggregate(
        n=Count("id"), last=Max("submitted_at"), top=Max("id")
    )
    limits = ",".join(f"{k}:{v}" for k, v in sorted(maxima.items()))
    last = stamp["last"].isoformat() if stamp["last"] else "-"
    key = f"evaluations:score-bands:{phase.pk}:{stamp['n']}:{last}:{stamp['top']}:{limits}"
    try:
        cached = cache.get(key)
    except Exception:  # noqa: BLE001 -- the cache only saves work; counting works without it
        logger.warning("score bands: cache unavailable", exc_info=True)
        cached = None
    if cached is not None:
        return cached
    rows = count()
    try:
        cache.set(key, rows, timeout=24 * 60 * 60)
    except Exception:  # noqa: BLE001 -- as above
        logger.warning("score bands: cache unavailable", exc_info=True)
    return rows


def _band_of(value_expr, top_expr):
    """Which fifth of the maximum a figure falls in (0–4), computed by the database."""
    return Least(Value(4), Floor(value_expr * Value(5) / top_expr), output_field=IntegerField())


def criterion_score_distribution(*, phase: Phase, criteria: list[Criterion]) -> dict[int, list[int]]:
    """Per scored criterion, how many figures fall in each fifth of its maximum (0–20 % … 80–100 %).

    Expert criteria count every submitted reviewer score; benchmark and user-panel
    criteria count each team's points (frozen figures once finalised). The bands are
    counted by the database (``GROUP BY`` criterion, band), so the cost does not grow
    with the rows a page shows: one query for the expert scores, one per non-expert
    criterion once frozen (one in all while live).
    """
    bands = {c.id: [0, 0, 0, 0, 0] for c in criteria}
    maxima = {c.id: c.max_points for c in criteria if c.max_points}

    def add_counts(rows) -> None:
        for criterion_id, band, n in rows:
            if criterion_id in maxima and band is not None:
                bands[criterion_id][max(0, min(4, int(band)))] += n

    if maxima:
        add_counts(expert_score_bands(phase=phase, maxima=maxima))
    others = [c for c in criteria if c.source != CriterionSource.EXPERT and c.id in maxima]
    if not others:
        return bands
    if phase.status in PHASE_FROZEN_STATES:
        for criterion in others:
            figure = Cast(
                KT(f"details__criterion_means__{criterion.key}"), DecimalField(max_digits=12, decimal_places=4)
            )
            counts = (
                PhaseResult.objects.filter(phase=phase)
                .annotate(figure=figure)
                .filter(figure__isnull=False)
                .annotate(band=_band_of(F("figure"), Value(criterion.max_points)))
                .values("band")
                .annotate(n=Count("id"))
                .order_by()
                .values_list("band", "n")
            )
            add_counts((criterion.id, band, n) for band, n in counts)
    else:
        add_counts(
            UserPanelScore.objects.filter(criterion__phase=phase, criterion_id__in=[c.id for c in others])
            .annotate(band=_band_of(F("points"), F("criterion__max_points")))
            .values("criterion_id", "band")
            .annotate(n=Count("id"))
            .order_by()
            .values_list("criterion_id", "band", "n")
        )
    return bands
