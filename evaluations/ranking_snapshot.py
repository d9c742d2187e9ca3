"""A phase's scoring inputs read from the database, and the scoring core's verdict on them.

``phase_snapshot`` reads every input in a fixed number of queries, builds the core's
frozen inputs (``scoring.ApplicationInput``) and calls ``scoring.evaluate_phase``; the
ranking (``evaluations.ranking``) and the services that decide ties and finalise read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from consortia.models import Application, ApplicationVersion
from evaluations import scoring
from evaluations.enums import AssignmentStatus, CriterionSource, PhaseKind
from evaluations.models import (
    BenchmarkResult,
    Criterion,
    GateDecision,
    Objective,
    Phase,
    Score,
    TieBreakDecision,
    UserPanelScore,
)
from evaluations.selectors import latest_versions, phase_applications


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


@dataclass(frozen=True)
class _PhaseInputs:
    """The growing inputs of a phase, as read by ``_phase_inputs_read``."""

    results: dict[tuple[int, int], Decimal]  # (objective id, application id) -> the team's score
    sheets: dict[int, dict[int, dict[str, Decimal]]]  # application -> reviewer -> expert key -> value
    score_values: list[tuple[int, Decimal]]  # (criterion id, value) of every submitted expert score
    panel: dict[int, dict[str, Decimal]]  # application -> criterion key -> imported points
    gates: dict[int, dict[str, scoring.GateResult]]  # application -> gate key -> decision


def _phase_applications_read(phase: Phase) -> dict[int, Application]:
    """The evaluated applications, with only the columns a ranking shows (one query)."""
    return {
        a.id: a
        for a in phase_applications(phase=phase)
        .select_related(None)
        .select_related("consortium")
        .only("id", "title", "model_categories", "consortium_id", "consortium__name")
    }


def _phase_inputs_read(phase: Phase, criteria: list[Criterion], applications: dict[int, Application]) -> _PhaseInputs:
    """Benchmark results, submitted expert sheets, user-panel points and gate decisions (four queries)."""
    results = {
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
    return _PhaseInputs(results=results, sheets=sheets, score_values=score_values, panel=panel, gates=gates)


def _team_attainment(
    app_id: int, objectives: list[Objective], results: dict[tuple[int, int], Decimal]
) -> tuple[list[Attainment], list[scoring.ObjectiveAttainment]]:
    """The team's standing against each objective: as pages show it, and as the core counts it."""
    rows = []
    core_rows = []
    for objective in objectives:
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
    return rows, core_rows


def _application_input(
    app_id: int, criteria: list[Criterion], inputs: _PhaseInputs, core_rows: list[scoring.ObjectiveAttainment]
) -> scoring.ApplicationInput:
    """The core's input for one team: its complete expert sheets, criterion points and gate results."""
    expert_keys = {c.key for c in criteria if c.source == CriterionSource.EXPERT and not c.is_gate}
    points = dict(inputs.panel.get(app_id, {}))
    for criterion in criteria:
        if criterion.source == CriterionSource.BENCHMARK and not criterion.is_gate and core_rows:
            points[criterion.key] = scoring.benchmark_points_exact(criterion.max_points, core_rows)
    sheets = tuple(
        scoring.ReviewerSheet(reviewer_id=reviewer_id, scores=scores)
        for reviewer_id, scores in sorted(inputs.sheets.get(app_id, {}).items())
        if set(scores) == expert_keys
    )
    return scoring.ApplicationInput(
        application_id=app_id,
        sheets=sheets,
        criterion_points=points,
        gate_results=inputs.gates.get(app_id, {}),
    )


def _core_inputs(
    *,
    criteria: list[Criterion],
    objectives: list[Objective],
    applications: dict[int, Application],
    versions: dict[int, ApplicationVersion],
    inputs: _PhaseInputs,
) -> tuple[dict[int, list[Attainment]], list[scoring.ApplicationInput]]:
    """Each team's attainment (against the objectives of the model categories it targets,
    all of them if none matches) and its input to the scoring core."""
    attainment: dict[int, list[Attainment]] = {}
    core_inputs = []
    for app_id, application in applications.items():
        categories = set(application_categories(application, versions.get(app_id)))
        relevant = [o for o in objectives if o.model_category in categories] or objectives
        attainment[app_id], core_rows = _team_attainment(app_id, relevant, inputs.results)
        core_inputs.append(_application_input(app_id, criteria, inputs, core_rows))
    return attainment, core_inputs


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
    applications = _phase_applications_read(phase)
    versions = latest_versions(application_ids=applications, lean=True)
    if objectives is None:
        objectives = list(phase.objectives.order_by("id"))
    inputs = _phase_inputs_read(phase, criteria, applications)
    attainment, core_inputs = _core_inputs(
        criteria=criteria, objectives=objectives, applications=applications, versions=versions, inputs=inputs
    )
    rules = phase_rules(phase=phase, criteria=criteria)
    officer_order = [i for i in officer_order_for(phase=phase) if i in applications]
    result = scoring.evaluate_phase(rules, core_inputs, officer_order=officer_order)
    return PhaseSnapshot(
        phase=phase,
        criteria=criteria,
        applications=applications,
        versions=versions,
        attainment=attainment,
        result=result,
        sheets={k: sorted(v.items()) for k, v in inputs.sheets.items()},
        score_values=inputs.score_values,
    )
