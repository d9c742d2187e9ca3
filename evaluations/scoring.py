"""Phase scores, ranking and decisions (SPEC §5), as pure functions over frozen dataclasses.

This module is the single statement of how an evaluation phase turns reviewers' sheets,
benchmark results and user-panel points into scores, a ranked list and decisions. It has
no database and no Django: services snapshot the inputs, call :func:`evaluate_phase` and
store the returned :class:`PhaseResult` as it is (``PhaseResult.as_dict()`` is ready for
a JSON snapshot). ``docs/scoring.md`` walks through worked examples produced by this code.

Criteria
    Every criterion has a key, a maximum and a *source*: ``"expert"`` (scored by
    reviewers), ``"benchmark"`` (points computed from benchmark attainment, see below) or
    ``"user_panel"`` (an imported, aggregated user-evaluation score already expressed in
    points). A criterion may carry its own pass threshold. A *gate* criterion
    (``is_gate=True``) is pass/fail: it carries no points (its maximum is ignored) and its
    result comes from :class:`GateResult`, recorded by an officer with a reason.

Reviewer totals and the phase score
    1. A reviewer's total is the sum of their scores on the expert criteria. Each score
       lies between 0 and the criterion's maximum and has at most one decimal place.
    2. The expert part of the phase score aggregates the reviewers' totals:

       * ``"trimmed_mean"`` (the default): with five or more reviewers exactly one
         highest and exactly one lowest total are dropped (one each, even when several
         reviewers share the extreme value) and the rest are averaged; with fewer than
         five reviewers it is the plain mean;
       * ``"mean"``: the plain mean of all totals.

    3. The phase score is the expert part plus the points of every benchmark and
       user-panel criterion (each already on its own criterion's scale):
       ``score = expert part + benchmark points + user-panel points``.

Rounding
    All arithmetic is exact (rational) until the very end. Rounding happens once, to the
    phase score: two decimal places, half up (``70.125`` → ``70.13``, ``70.124999`` →
    ``70.12``), as SPEC §5 defines the score. The ranking orders by that published score
    and the overall pass threshold is compared with it, so what an applicant reads
    explains what was decided. Every other comparison uses exact values: per-criterion
    thresholds and tie-breaks compare the exact criterion figures, and benchmark
    objectives compare the exact ratio with the target. Criterion figures, benchmark
    points and ratios are rounded only for display (two places; ratios four places).
    ``docs/scoring.md`` lists each value and where it is rounded.

Per-criterion figures
    For an expert criterion the figure is the criterion's *contribution* to the expert
    part: the mean of that criterion's scores over the sheets the aggregation keeps (see
    :func:`sheet_weights`: with the trimmed mean, the sheets with the single lowest and
    single highest totals are left out; when several sheets share such a total, the one
    sheet dropped is shared equally among them). The expert figures therefore add up
    exactly to the expert part of the score; rounded for display they may differ from it
    by a cent or two, which the pages say. For benchmark and user-panel criteria the
    figure is the criterion's points. These figures are used for per-criterion
    thresholds and for tie-breaks.

Passing
    An application passes when all of these hold:

    * every gate criterion has a recorded result and it is a pass;
    * its score is at least the phase's overall threshold (default 70);
    * every per-criterion figure is at least that criterion's threshold.

    A failed gate eliminates an application whatever its score; the gate's reason is kept
    in the outcome. Every failed condition is recorded as a :class:`Reason` (a code plus
    parameters, ready for translation), not only the first one.

Ranking
    Applications with a score are ranked by score, descending. Applications with equal
    scores are ordered by the phase's tie-break criteria in turn (a higher per-criterion
    figure wins). Applications still tied are ordered by the officer's recorded decision
    (``officer_order``, a list of application ids read as "earlier is higher"), which
    settles a tied group only if it names every member of that group. Nothing is ever
    ordered at random, by id or by input order: a group that is still tied shares one
    rank ("1, 2, 2, 4", standard competition ranking).

Decisions
    Walking down the ranking, the first ``teams_to_keep`` *passing* applications are
    selected (selection phase) or kept (stage phase). ``teams_to_keep`` is a maximum: the
    places are never filled with applications that did not pass. Passing applications
    beyond the places form the reserve list (``reserve_rank`` 1, 2, ...), promoted only if
    a selected team withdraws. Applications that did not pass are "not_selected"
    (selection phase) or "eliminated" (stage phase), with ``gate_failed`` set when a gate
    was the cause.

Ties that matter
    A still-tied group of passing applications that straddles the last place gets the
    decision ``"undecided"`` and is listed in :attr:`PhaseResult.needs_officer_decision`
    with ``affects="selection"``; a still-tied group inside the reserve list shares its
    reserve rank and is listed with ``affects="reserve_order"``, because the reserve order
    decides promotions; a still-tied group of applications that are all selected (or
    kept) is listed with ``affects="allocation_order"``, because the GPU allocation
    favours higher ranks. Ties among applications that did not pass change nothing and
    are not listed. The officer's order names the passing members of a tied group, in
    any number (two, three, four, ...); members of the group that did not pass follow
    them and share a rank.

Incomplete inputs
    An application with no reviewer sheets (when the phase has expert criteria) or with a
    benchmark/user-panel criterion lacking points has no score; one whose gate has no
    recorded result cannot pass. Such applications are reported (reason codes
    ``no_reviews``, ``points_missing``, ``gate_undecided``) rather than rejected, so that a
    live ranking can be shown while scoring is under way; :attr:`PhaseResult.ready_to_finalise`
    is false until every input is complete and no tie needs an officer. Inconsistent
    inputs (an unknown criterion, a score above its maximum or with two decimals, a
    float instead of a ``Decimal``) raise ``ValueError`` or ``TypeError``.

Benchmark attainment
    For each objective (benchmark, reference model, reference score, target ratio with
    default 0.95) the team's ratio is ``team score / reference score`` rounded half up to
    four places for display, and the objective is *met* when the exact ratio is at
    least the target (0.949960 does not meet 0.95; 0.95 exactly does). A missing team
    result counts as ratio 0 (not met). A benchmark criterion's points are::

        points = criterion maximum × mean over objectives of min(1, ratio / target)

    computed from the exact ratios and entering the score exactly. Reaching the
    target on every objective therefore earns the full maximum; exceeding it earns no
    more. Benchmarks are taken as "higher is better"; a lower-is-better measure must be
    entered in a higher-is-better form.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, ROUND_HALF_UP, Context, Decimal, Inexact, Rounded
from fractions import Fraction
from typing import Any

Id = int | str
"""An application or reviewer id: whatever the caller uses as a primary key."""

# Criterion sources.
EXPERT = "expert"
BENCHMARK = "benchmark"
USER_PANEL = "user_panel"
SOURCES = (EXPERT, BENCHMARK, USER_PANEL)

# Aggregation methods for the expert part.
TRIMMED_MEAN = "trimmed_mean"
MEAN = "mean"
METHODS = (TRIMMED_MEAN, MEAN)
TRIM_FROM = 5
"""With at least this many reviewers the trimmed mean drops one highest and one lowest total."""

DEFAULT_PASS_THRESHOLD = Decimal("70")
DEFAULT_TARGET_RATIO = Decimal("0.95")

# Decisions. The phase kind picks the wording of the first and last.
SELECTED = "selected"
KEPT = "kept"
RESERVE = "reserve"
NOT_SELECTED = "not_selected"
ELIMINATED = "eliminated"
UNDECIDED = "undecided"

# Why an application did not pass (``Reason.code``).
GATE_FAILED = "gate_failed"  # params: criterion, reason
GATE_UNDECIDED = "gate_undecided"  # params: criterion
NO_REVIEWS = "no_reviews"  # params: none
POINTS_MISSING = "points_missing"  # params: criterion
BELOW_THRESHOLD = "below_threshold"  # params: score, threshold
BELOW_CRITERION_THRESHOLD = "below_criterion_threshold"  # params: criterion, figure, threshold
INCOMPLETE_CODES = (GATE_UNDECIDED, NO_REVIEWS, POINTS_MISSING)
"""Reasons that mean "not all inputs are in yet" rather than "did not make it"."""

# How an application's place among equal scores was settled (``ApplicationOutcome.tie_break``).
BY_CRITERIA = "criteria"
BY_OFFICER = "officer_decision"
# ... or UNDECIDED.

# What an undecided tie changes (``TieGroup.affects``).
AFFECTS_SELECTION = "selection"
AFFECTS_RESERVE_ORDER = "reserve_order"
AFFECTS_ALLOCATION_ORDER = "allocation_order"

_CENT = Decimal("0.01")
_TENTH = Decimal("0.1")
# Sums of Decimals in this context are exact: precision and exponents are unbounded,
# and any rounding would raise rather than pass silently.
_EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN, traps=[Inexact, Rounded])


# --------------------------------------------------------------------------- inputs


def _decimal(value: object, what: str) -> Decimal:
    """Return ``value`` as a finite Decimal; refuse floats, whose binary error would leak in."""
    if type(value) is Decimal and value.is_finite():
        return value  # the common case, checked first: scores arrive as Decimals
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        raise TypeError(f"{what} must be a Decimal (or int), not {type(value).__name__}: {value!r}")
    result = Decimal(value)
    if not result.is_finite():
        raise ValueError(f"{what} must be finite, not {result}")
    return result


def _points(value: object, what: str) -> Fraction | Decimal:
    """Points as given: an exact ``Fraction`` (computed benchmark points) or a Decimal."""
    if isinstance(value, Fraction):
        return value
    return _decimal(value, what)


@dataclass(frozen=True)
class Criterion:
    """One criterion of a phase.

    ``threshold`` is an optional per-criterion pass mark on the criterion's own scale.
    Gate criteria carry no points; their ``max_points`` and ``source`` are ignored.
    """

    key: str
    max_points: Decimal
    source: str = EXPERT
    threshold: Decimal | None = None
    is_gate: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "max_points", _decimal(self.max_points, f"max_points of {self.key!r}"))
        if self.source not in SOURCES:
            raise ValueError(f"criterion {self.key!r}: source must be one of {SOURCES}, not {self.source!r}")
        if self.max_points < 0:
            raise ValueError(f"criterion {self.key!r}: max_points must not be negative")
        if self.threshold is not None:
            if self.is_gate:
                raise ValueError(f"gate criterion {self.key!r} cannot have a points threshold")
            threshold = _decimal(self.threshold, f"threshold of {self.key!r}")
            if not 0 <= threshold <= self.max_points:
                raise ValueError(f"criterion {self.key!r}: threshold {threshold} is outside 0..{self.max_points}")
            object.__setattr__(self, "threshold", threshold)


@dataclass(frozen=True)
class PhaseRules:
    """The settings of a phase that scoring and ranking depend on.

    ``tie_break_keys`` lists the criteria consulted, in order, when scores are equal.
    ``is_selection`` chooses the wording of decisions: ``"selected"``/``"not_selected"``
    for the selection phase, ``"kept"``/``"eliminated"`` for stage evaluations.
    """

    criteria: tuple[Criterion, ...]
    teams_to_keep: int
    pass_threshold: Decimal = DEFAULT_PASS_THRESHOLD
    method: str = TRIMMED_MEAN
    tie_break_keys: tuple[str, ...] = ()
    is_selection: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "criteria", tuple(self.criteria))
        object.__setattr__(self, "tie_break_keys", tuple(self.tie_break_keys))
        object.__setattr__(self, "pass_threshold", _decimal(self.pass_threshold, "pass_threshold"))
        keys = [c.key for c in self.criteria]
        if len(set(keys)) != len(keys):
            raise ValueError(f"criterion keys must be unique: {keys}")
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, not {self.method!r}")
        if self.teams_to_keep < 0:
            raise ValueError("teams_to_keep must not be negative")
        scored = {c.key for c in self.criteria if not c.is_gate}
        for key in self.tie_break_keys:
            if key not in scored:
                raise ValueError(f"tie-break criterion {key!r} is not a scored criterion of the phase")
        if len(set(self.tie_break_keys)) != len(self.tie_break_keys):
            raise ValueError(f"tie-break criteria repeat: {self.tie_break_keys}")

    @property
    def expert_criteria(self) -> tuple[Criterion, ...]:
        return tuple(c for c in self.criteria if not c.is_gate and c.source == EXPERT)

    @property
    def points_criteria(self) -> tuple[Criterion, ...]:
        """Benchmark and user-panel criteria, whose points come computed from elsewhere."""
        return tuple(c for c in self.criteria if not c.is_gate and c.source != EXPERT)

    @property
    def gate_criteria(self) -> tuple[Criterion, ...]:
        return tuple(c for c in self.criteria if c.is_gate)


@dataclass(frozen=True)
class ReviewerSheet:
    """One reviewer's submitted scores for one application: expert criterion key → score."""

    reviewer_id: Id
    scores: Mapping[str, Decimal]

    def __post_init__(self) -> None:
        object.__setattr__(
            self,
            "scores",
            {
                # The message is only formatted for a value that needs the full check.
                key: value
                if type(value) is Decimal and value.is_finite()
                else _decimal(value, f"score of reviewer {self.reviewer_id!r} on {key!r}")
                for key, value in self.scores.items()
            },
        )


@dataclass(frozen=True)
class GateResult:
    """An officer's recorded pass/fail decision on a gate criterion, with its reason."""

    passed: bool
    reason: str = ""


@dataclass(frozen=True)
class ApplicationInput:
    """Everything scoring needs about one application.

    ``criterion_points`` holds the points of benchmark and user-panel criteria (criterion
    key → points on that criterion's scale; see :func:`benchmark_points`).
    ``gate_results`` maps each gate criterion key to its recorded result.
    """

    application_id: Id
    sheets: tuple[ReviewerSheet, ...] = ()
    criterion_points: Mapping[str, Decimal] = field(default_factory=dict)
    gate_results: Mapping[str, GateResult] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sheets", tuple(self.sheets))
        object.__setattr__(
            self,
            "criterion_points",
            {k: _points(v, f"points of {self.application_id!r} on {k!r}") for k, v in self.criterion_points.items()},
        )
        object.__setattr__(self, "gate_results", dict(self.gate_results))


# --------------------------------------------------------------------------- outputs


@dataclass(frozen=True)
class Reason:
    """Why an application did not pass: a stable code and its parameters as strings."""

    code: str
    params: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", dict(self.params))


@dataclass(frozen=True)
class ApplicationOutcome:
    """The published result of one application in one phase.

    ``reviewer_totals`` is ascending; ``dropped_totals`` holds the lowest and the highest
    total when the trimmed mean dropped them, otherwise nothing. ``expert_score`` is the
    expert part alone, rounded for display (the score is computed from the exact part,
    so rounded parts need not add up to the score). ``criterion_means`` holds the
    per-criterion figures used for thresholds and tie-breaks. ``rank`` and ``tie_break``
    are ``None`` for an application without a score; ``tie_break`` says how the
    application was placed among others with the same score (``"criteria"``,
    ``"officer_decision"`` or ``"undecided"``), ``None`` when its score is unique.
    """

    application_id: Id
    reviewer_totals: tuple[Decimal, ...]
    dropped_totals: tuple[Decimal, ...]
    expert_score: Decimal | None
    score: Decimal | None
    criterion_means: Mapping[str, Decimal]
    passed: bool
    gate_failed: bool
    failed_reasons: tuple[Reason, ...]
    rank: int | None
    tie_break: str | None
    decision: str
    reserve_rank: int | None

    @property
    def complete(self) -> bool:
        """Whether every input this application needs is in (reviews, points, gate results)."""
        return not any(reason.code in INCOMPLETE_CODES for reason in self.failed_reasons)


@dataclass(frozen=True)
class TieGroup:
    """Applications still tied after the tie-break criteria, where the order changes a decision."""

    application_ids: tuple[Id, ...]
    score: Decimal
    rank: int
    affects: str


@dataclass(frozen=True)
class PhaseResult:
    """The ranked outcomes of a phase.

    ``outcomes`` are in ranking order; members of a still-tied group keep their input
    order (they share a rank), and applications without a score come last in input order.
    """

    outcomes: tuple[ApplicationOutcome, ...]
    needs_officer_decision: tuple[TieGroup, ...]

    @property
    def complete(self) -> bool:
        return all(outcome.complete for outcome in self.outcomes)

    @property
    def ready_to_finalise(self) -> bool:
        """All inputs are in and no tie waits for an officer: the result may be frozen."""
        return self.complete and not self.needs_officer_decision

    def outcome(self, application_id: Id) -> ApplicationOutcome:
        for outcome in self.outcomes:
            if outcome.application_id == application_id:
                return outcome
        raise KeyError(application_id)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready snapshot: Decimals become strings such as ``"70.13"``."""
        return {
            "outcomes": [
                {
                    "application_id": o.application_id,
                    "reviewer_totals": [str(t) for t in o.reviewer_totals],
                    "dropped_totals": [str(t) for t in o.dropped_totals],
                    "expert_score": _str_or_none(o.expert_score),
                    "score": _str_or_none(o.score),
                    "criterion_means": {k: str(v) for k, v in o.criterion_means.items()},
                    "passed": o.passed,
                    "gate_failed": o.gate_failed,
                    "failed_reasons": [{"code": r.code, "params": dict(r.params)} for r in o.failed_reasons],
                    "rank": o.rank,
                    "tie_break": o.tie_break,
                    "decision": o.decision,
                    "reserve_rank": o.reserve_rank,
                }
                for o in self.outcomes
            ],
            "needs_officer_decision": [
                {
                    "application_ids": list(g.application_ids),
                    "score": str(g.score),
                    "rank": g.rank,
                    "affects": g.affects,
                }
                for g in self.needs_officer_decision
            ],
        }


def _str_or_none(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


# --------------------------------------------------------------------------- arithmetic


def _round_half_up(value: Fraction, places: int = 2) -> Decimal:
    """Round an exact value half up (away from zero) to ``places`` decimals, exactly."""
    numerator, denominator = value.numerator, value.denominator  # denominator > 0
    units = (abs(numerator) * 10**places * 2 + denominator) // (denominator * 2)  # floor(|value| * scale + 1/2)
    if numerator < 0:
        units = -units
    return Decimal(units).scaleb(-places)


def quantize_score(value: Decimal) -> Decimal:
    """Round a published figure to two places, half up: ``70.125`` → ``70.13``, ``70.124999`` → ``70.12``."""
    return _decimal(value, "value").quantize(_CENT, rounding=ROUND_HALF_UP)


def trim_totals(
    totals: Sequence[Decimal], method: str = TRIMMED_MEAN
) -> tuple[tuple[Decimal, ...], tuple[Decimal, ...]]:
    """Split reviewer totals into ``(kept, dropped)``, both ascending.

    With ``"trimmed_mean"`` and at least five totals, exactly one lowest and one highest
    total are dropped; otherwise nothing is dropped.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, not {method!r}")
    ordered = tuple(sorted(_decimal(t, "total") for t in totals))
    if method == TRIMMED_MEAN and len(ordered) >= TRIM_FROM:
        return ordered[1:-1], (ordered[0], ordered[-1])
    return ordered, ()


def _exact_sum(values: Iterable[Decimal]) -> Decimal:
    total = Decimal(0)
    for value in values:
        total = _EXACT.add(total, value)
    return total


def _exact_mean(values: Sequence[Decimal]) -> Fraction:
    return Fraction(_exact_sum(values)) / len(values)


def aggregate_totals(totals: Sequence[Decimal], method: str = TRIMMED_MEAN) -> Decimal:
    """The aggregated expert score of a set of reviewer totals, two places, half up."""
    kept, _dropped = trim_totals(totals, method)
    if not kept:
        raise ValueError("at least one reviewer total is needed")
    return _round_half_up(_exact_mean(kept))


# --------------------------------------------------------------------------- benchmarks


@dataclass(frozen=True)
class BenchmarkObjective:
    """A phase objective: reach ``target_ratio`` of a reference model's score on a benchmark."""

    benchmark: str
    reference_model: str
    reference_score: Decimal
    target_ratio: Decimal = DEFAULT_TARGET_RATIO

    def __post_init__(self) -> None:
        object.__setattr__(self, "reference_score", _decimal(self.reference_score, "reference_score"))
        object.__setattr__(self, "target_ratio", _decimal(self.target_ratio, "target_ratio"))
        if self.reference_score <= 0:
            raise ValueError(f"{self.benchmark}: the reference score must be positive")
        if self.target_ratio <= 0:
            raise ValueError(f"{self.benchmark}: the target ratio must be positive")


@dataclass(frozen=True)
class ObjectiveAttainment:
    """A team's standing against one objective. ``team_score`` is ``None`` when no result was submitted.

    ``exact_ratio`` is ``team score / reference score`` exactly; ``ratio`` is the same figure
    rounded half up to four places, for display only: ``met`` compares the exact ratio.
    """

    objective: BenchmarkObjective
    team_score: Decimal | None
    ratio: Decimal
    met: bool
    exact_ratio: Fraction = Fraction(0)


def objective_attainment(
    objectives: Sequence[BenchmarkObjective], results: Mapping[str, Decimal]
) -> tuple[ObjectiveAttainment, ...]:
    """Compare a team's results (benchmark name → score) with each objective, in objective order.

    ``ratio = team score / reference score``, exactly; met when the exact ratio is at least
    ``target_ratio`` (0.949960 does not meet 0.95); the four-place figure is for display.
    A missing result is ratio 0 and not met. Several objectives
    may share a benchmark (one per reference model); they then share the team's result.
    """
    seen: set[tuple[str, str]] = set()
    attainments = []
    for objective in objectives:
        key = (objective.benchmark, objective.reference_model)
        if key in seen:
            raise ValueError(f"objective {key} is listed twice")
        seen.add(key)
        team_score = results.get(objective.benchmark)
        if team_score is None:
            exact = Fraction(0)
        else:
            team_score = _decimal(team_score, f"result on {objective.benchmark}")
            if team_score < 0:
                raise ValueError(f"result on {objective.benchmark} must not be negative")
            exact = Fraction(team_score) / Fraction(objective.reference_score)
        attainments.append(
            ObjectiveAttainment(
                objective=objective,
                team_score=team_score,
                ratio=_round_half_up(exact, 4),
                met=exact >= Fraction(objective.target_ratio),
                exact_ratio=exact,
            )
        )
    return tuple(attainments)


def benchmark_points_exact(max_points: Decimal, attainments: Sequence[ObjectiveAttainment]) -> Fraction:
    """Points of a benchmark criterion, exactly: ``max × mean(min(1, ratio / target))`` over the exact ratios.

    This is what enters the phase score; it is rounded only with the score itself."""
    max_points = _decimal(max_points, "max_points")
    if not attainments:
        raise ValueError("a benchmark criterion needs at least one objective")
    shares = [min(Fraction(1), a.exact_ratio / Fraction(a.objective.target_ratio)) for a in attainments]
    return Fraction(max_points) * sum(shares, Fraction(0)) / len(shares)


def benchmark_points(max_points: Decimal, attainments: Sequence[ObjectiveAttainment]) -> Decimal:
    """The benchmark points of :func:`benchmark_points_exact`, two places half up, for display."""
    return _round_half_up(benchmark_points_exact(max_points, attainments))


# --------------------------------------------------------------------------- the phase


@dataclass(frozen=True)
class _Scored:
    """Per-application figures before ranking; ``criterion_figures`` are exact."""

    application_id: Id
    reviewer_totals: tuple[Decimal, ...]
    dropped_totals: tuple[Decimal, ...]
    expert_score: Decimal | None
    score: Decimal | None
    criterion_figures: dict[str, Fraction]
    reasons: tuple[Reason, ...]
    gate_failed: bool

    @property
    def passed(self) -> bool:
        return not self.reasons


def sheet_weights(totals: Sequence[Decimal], method: str = TRIMMED_MEAN) -> tuple[Fraction, ...]:
    """How much each reviewer's sheet counts in the expert part, in the order of ``totals``.

    The plain mean counts every sheet once. The trimmed mean drops one lowest and one
    highest total; when several sheets share the lowest (or highest) total, the one sheet
    dropped is shared equally among them (two sheets at the lowest total count one half
    each), so no reviewer is picked arbitrarily. The weights sum to the number of totals
    kept, and ``sum(weight × total) / sum(weight)`` is exactly the trimmed mean.
    """
    ordered = [_decimal(t, "total") for t in totals]
    weights = [Fraction(1)] * len(ordered)
    if method == TRIMMED_MEAN and len(ordered) >= TRIM_FROM:
        for extreme in (min(ordered), max(ordered)):
            sharing = [i for i, t in enumerate(ordered) if t == extreme]
            for i in sharing:
                weights[i] -= Fraction(1, len(sharing))
    return tuple(weights)


def _check_application(rules: PhaseRules, application: ApplicationInput) -> None:
    expert = {c.key: c for c in rules.expert_criteria}
    points = {c.key: c for c in rules.points_criteria}
    gates = {c.key for c in rules.gate_criteria}
    who = f"application {application.application_id!r}"
    reviewers = [sheet.reviewer_id for sheet in application.sheets]
    if len(set(reviewers)) != len(reviewers):
        raise ValueError(f"{who}: a reviewer has more than one sheet")
    for sheet in application.sheets:
        if set(sheet.scores) != set(expert):
            missing, extra = sorted(set(expert) - set(sheet.scores)), sorted(set(sheet.scores) - set(expert))
            raise ValueError(
                f"{who}, reviewer {sheet.reviewer_id!r}: a sheet scores exactly the expert criteria "
                f"(missing {missing}, unexpected {extra})"
            )
        for key, score in sheet.scores.items():
            if not 0 <= score <= expert[key].max_points:
                raise ValueError(
                    f"{who}, reviewer {sheet.reviewer_id!r}: {key}={score} is outside 0..{expert[key].max_points}"
                )
            if score != score.quantize(_TENTH):
                raise ValueError(
                    f"{who}, reviewer {sheet.reviewer_id!r}: {key}={score} has more than one decimal place"
                )
    for key, value in application.criterion_points.items():
        if key not in points:
            raise ValueError(f"{who}: {key!r} is not a benchmark or user-panel criterion of the phase")
        if not 0 <= value <= points[key].max_points:
            raise ValueError(f"{who}: {key}={value} is outside 0..{points[key].max_points}")
    for key, result in application.gate_results.items():
        if key not in gates:
            raise ValueError(f"{who}: {key!r} is not a gate criterion of the phase")
        if not isinstance(result, GateResult):
            raise TypeError(f"{who}: the result of gate {key!r} must be a GateResult")


def _score_application(rules: PhaseRules, application: ApplicationInput) -> _Scored:
    reasons: list[Reason] = []
    gate_failed = False
    for gate in rules.gate_criteria:
        result = application.gate_results.get(gate.key)
        if result is None:
            reasons.append(Reason(GATE_UNDECIDED, {"criterion": gate.key}))
        elif not result.passed:
            gate_failed = True
            reasons.append(Reason(GATE_FAILED, {"criterion": gate.key, "reason": result.reason}))

    figures: dict[str, Fraction] = {}
    totals = [_exact_sum(sheet.scores[c.key] for c in rules.expert_criteria) for sheet in application.sheets]
    kept, dropped = trim_totals(totals, rules.method)
    expert_part: Fraction | None = Fraction(0)
    if rules.expert_criteria:
        if application.sheets:
            expert_part = _exact_mean(kept)
            # Each criterion's contribution to the expert part: the weighted mean of the
            # sheets the aggregation keeps, so the contributions add up to the expert part.
            weights = sheet_weights(totals, rules.method)
            weight = sum(weights, Fraction(0))
            for criterion in rules.expert_criteria:
                figures[criterion.key] = (
                    sum(
                        (
                            w * Fraction(sheet.scores[criterion.key])
                            for w, sheet in zip(weights, application.sheets, strict=True)
                            if w
                        ),
                        Fraction(0),
                    )
                    / weight
                )
        else:
            expert_part = None
            reasons.append(Reason(NO_REVIEWS))
    elif application.sheets:
        raise ValueError(f"application {application.application_id!r}: the phase has no expert criteria to score")

    points_total: Fraction | None = Fraction(0)
    for criterion in rules.points_criteria:
        value = application.criterion_points.get(criterion.key)
        if value is None:
            points_total = None
            reasons.append(Reason(POINTS_MISSING, {"criterion": criterion.key}))
        else:
            figures[criterion.key] = Fraction(value)
            if points_total is not None:
                points_total += Fraction(value)

    score = None
    if expert_part is not None and points_total is not None:
        score = _round_half_up(expert_part + points_total)
        if score < rules.pass_threshold:
            reasons.append(Reason(BELOW_THRESHOLD, {"score": str(score), "threshold": str(rules.pass_threshold)}))
    for criterion in rules.criteria:
        figure = figures.get(criterion.key)
        if criterion.threshold is not None and figure is not None and figure < Fraction(criterion.threshold):
            reasons.append(
                Reason(
                    BELOW_CRITERION_THRESHOLD,
                    {
                        "criterion": criterion.key,
                        "figure": str(_round_half_up(figure)),
                        "threshold": str(criterion.threshold),
                    },
                )
            )
    return _Scored(
        application_id=application.application_id,
        reviewer_totals=tuple(sorted(totals)),
        dropped_totals=dropped,
        expert_score=None if expert_part is None or not rules.expert_criteria else _round_half_up(expert_part),
        score=score,
        criterion_figures={c.key: figures[c.key] for c in rules.criteria if c.key in figures},
        reasons=tuple(reasons),
        gate_failed=gate_failed,
    )


def _ranked_blocks(
    rules: PhaseRules, scored: Sequence[_Scored], officer_position: Mapping[Id, int]
) -> tuple[list[list[_Scored]], dict[Id, str]]:
    """Order scored applications into blocks: a block of more than one is a tie nobody settled."""
    by_score: dict[Decimal, list[_Scored]] = {}
    for item in scored:
        assert item.score is not None
        by_score.setdefault(item.score, []).append(item)
    blocks: list[list[_Scored]] = []
    tie_break: dict[Id, str] = {}
    for score in sorted(by_score, reverse=True):
        group = by_score[score]
        if len(group) == 1:
            blocks.append(group)
            continue
        # Equal scores: split by the tie-break criteria (exact figures), higher figure first.
        by_figures: dict[tuple[Fraction, ...], list[_Scored]] = {}
        for item in group:
            figures = tuple(item.criterion_figures[key] for key in rules.tie_break_keys)
            by_figures.setdefault(figures, []).append(item)
        for figures in sorted(by_figures, reverse=True):
            subgroup = by_figures[figures]
            if len(subgroup) == 1:
                tie_break[subgroup[0].application_id] = BY_CRITERIA
                blocks.append(subgroup)
                continue
            # Only the passing members' order can change a decision: the officer orders them,
            # and members that did not pass follow them, sharing a rank.
            passing = [item for item in subgroup if item.passed]
            failing = [item for item in subgroup if not item.passed]
            if len(passing) > 1 and all(item.application_id in officer_position for item in passing):
                for item in sorted(passing, key=lambda item: officer_position[item.application_id]):
                    tie_break[item.application_id] = BY_OFFICER
                    blocks.append([item])
                if failing:
                    blocks.append(failing)
            else:
                for item in subgroup:
                    tie_break[item.application_id] = UNDECIDED
                blocks.append(subgroup)
    return blocks, tie_break


def evaluate_phase(
    rules: PhaseRules, applications: Iterable[ApplicationInput], *, officer_order: Sequence[Id] = ()
) -> PhaseResult:
    """Score, rank and decide every application of a phase (see the module docstring for the rules).

    ``officer_order`` is the officer's recorded decision for ties that the tie-break
    criteria leave open: application ids, higher placed first. It settles a tied group only
    when it names every member of the group; ids of applications that are not tied are
    ignored. It never overrides scores or tie-break criteria.
    """
    applications = tuple(applications)
    ids = [a.application_id for a in applications]
    if len(set(ids)) != len(ids):
        raise ValueError("application ids must be unique")
    if len(set(officer_order)) != len(officer_order):
        raise ValueError("officer_order names an application twice")
    known = set(ids)
    unknown = [i for i in officer_order if i not in known]
    if unknown:
        raise ValueError(f"officer_order names unknown applications: {unknown}")
    for application in applications:
        _check_application(rules, application)

    scored = [_score_application(rules, application) for application in applications]
    officer_position = {application_id: position for position, application_id in enumerate(officer_order)}
    blocks, tie_break = _ranked_blocks(rules, [s for s in scored if s.score is not None], officer_position)

    first, last = (SELECTED, NOT_SELECTED) if rules.is_selection else (KEPT, ELIMINATED)
    rank: dict[Id, int] = {}
    decision: dict[Id, str] = {}
    reserve_rank: dict[Id, int] = {}
    ties: list[TieGroup] = []
    ahead = 0  # scored applications ranked above the current block
    passing_ahead = 0  # passing applications ranked above the current block
    for block in blocks:
        for item in block:
            rank[item.application_id] = ahead + 1
        ahead += len(block)
        passing = [item for item in block if item.passed]
        if not passing:
            continue
        places_left = rules.teams_to_keep - passing_ahead
        if len(passing) <= places_left:
            verdict, affects = first, None
        elif places_left <= 0:
            verdict, affects = RESERVE, AFFECTS_RESERVE_ORDER
            for item in passing:
                reserve_rank[item.application_id] = passing_ahead - rules.teams_to_keep + 1
        else:
            verdict, affects = UNDECIDED, AFFECTS_SELECTION
        for item in passing:
            decision[item.application_id] = verdict
        if len(passing) > 1 and affects is None:
            # All selected (or kept) but sharing a rank: the rank still orders them in the
            # allocation, so the tie waits for an officer like any other.
            verdict, affects = first, AFFECTS_ALLOCATION_ORDER
        if len(passing) > 1:
            assert passing[0].score is not None
            ties.append(
                TieGroup(
                    application_ids=tuple(item.application_id for item in passing),
                    score=passing[0].score,
                    rank=rank[passing[0].application_id],
                    affects=affects,
                )
            )
        passing_ahead += len(passing)

    order = {item.application_id: position for position, item in enumerate(i for block in blocks for i in block)}
    ranked = sorted(scored, key=lambda s: order.get(s.application_id, len(order)))  # stable: unscored keep input order
    outcomes = tuple(
        ApplicationOutcome(
            application_id=s.application_id,
            reviewer_totals=s.reviewer_totals,
            dropped_totals=s.dropped_totals,
            expert_score=s.expert_score,
            score=s.score,
            criterion_means={key: _round_half_up(value) for key, value in s.criterion_figures.items()},
            passed=s.passed,
            gate_failed=s.gate_failed,
            failed_reasons=s.reasons,
            rank=rank.get(s.application_id),
            tie_break=tie_break.get(s.application_id),
            decision=decision.get(s.application_id, last),
            reserve_rank=reserve_rank.get(s.application_id),
        )
        for s in ranked
    )
    return PhaseResult(outcomes=outcomes, needs_officer_decision=tuple(ties))


# --------------------------------------------------------------------------- presentation


def _fmt(value: Decimal | None) -> str:
    return "–" if value is None else str(value)


def render_worked_example(result: PhaseResult) -> str:
    """Render a phase result as a Markdown table, as used in ``docs/scoring.md``.

    Columns: rank, application, reviewer totals (ascending, dropped ones struck through),
    score, per-criterion figures, pass or the reason codes, decision, reserve rank and how
    a tie was settled; a line per tie waiting for an officer follows the table.
    """
    settled_by = {BY_CRITERIA: "tie-break criteria", BY_OFFICER: "officer's decision", UNDECIDED: "**not yet**"}
    lines = [
        "| rank | application | reviewer totals | score | criterion figures | passed | decision | reserve | tie settled by |",
        "|---:|---|---|---:|---|---|---|---:|---|",
    ]
    for o in result.outcomes:
        remaining = list(o.dropped_totals)
        totals = []
        for total in o.reviewer_totals:
            if total in remaining:
                remaining.remove(total)
                totals.append(f"~~{total}~~")
            else:
                totals.append(str(total))
        figures = ", ".join(f"{key} {_fmt(value)}" for key, value in o.criterion_means.items())
        verdict = "yes" if o.passed else "no: " + "; ".join(_reason_text(r) for r in o.failed_reasons)
        cells = [
            "–" if o.rank is None else str(o.rank),
            str(o.application_id),
            ", ".join(totals) or "–",
            _fmt(o.score),
            figures or "–",
            verdict,
            o.decision,
            "" if o.reserve_rank is None else str(o.reserve_rank),
            settled_by.get(o.tie_break or "", ""),
        ]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    for group in result.needs_officer_decision:
        members = ", ".join(str(i) for i in group.application_ids)
        lines.append("")
        lines.append(
            f"Needs an officer's decision ({group.affects}): {members}, tied at {group.score}, rank {group.rank}."
        )
    return "\n".join(lines)


def _reason_text(reason: Reason) -> str:
    params = " ".join(f"{key}={value}" for key, value in reason.params.items() if value != "")
    return f"{reason.code}" + (f" ({params})" if params else "")


# --------------------------------------------------------------------------- reviewer disagreement

#: A spread of reviewer totals larger than this share of the expert maximum is flagged:
#: 20 points when the expert criteria add up to 100, 7 points for a 35-point expert part.
DISAGREEMENT_SHARE = Decimal("0.20")


@dataclass(frozen=True)
class Disagreement:
    """How far an application's reviewers are apart (officers read it beside the ranking).

    ``spread`` is the highest submitted total minus the lowest; ``stdev`` the population
    standard deviation of the totals (every reviewer of the application is counted, the
    trimmed ones included: the point is to see the disagreement). Both ``None`` with fewer
    than two sheets. ``flagged`` when the spread is strictly larger than ``threshold``
    (``DISAGREEMENT_SHARE`` × the expert maximum). Figures are two places, half up.
    """

    reviewers: int
    spread: Decimal | None
    stdev: Decimal | None
    threshold: Decimal | None
    flagged: bool

    def as_dict(self) -> dict:
        return {
            "reviewers": self.reviewers,
            "spread": _str_or_none(self.spread),
            "stdev": _str_or_none(self.stdev),
            "threshold": _str_or_none(self.threshold),
            "flagged": self.flagged,
        }


def _stdev_half_up(values: Sequence[Decimal], places: int = 2) -> Decimal:
    """The population standard deviation of ``values``, rounded half up to ``places``, exactly,
    in integers: with each value ``x / 10**k`` for integers ``x``, the variance is
    ``v = (n * sum(x**2) - sum(x)**2) / (n**2 * 100**k)`` for ``n`` values, and the rounded root
    ``u = floor(sqrt(v) * 10**places + 1/2)`` is the largest ``u`` with
    ``(2u - 1)**2 <= 4 * v * 100**places``: ``(isqrt(floor(4 * v * 100**places)) + 1) // 2``."""
    low = min(min(v.as_tuple().exponent for v in values), 0)
    scaled = [int(v.scaleb(-low, context=_EXACT)) for v in values]
    n = len(scaled)
    numerator = 4 * 10 ** (2 * places) * (n * sum(x * x for x in scaled) - sum(scaled) ** 2)
    denominator = n * n * 10 ** (-2 * low)
    units = (math.isqrt(numerator // denominator) + 1) // 2
    return Decimal(units).scaleb(-places)


def reviewer_disagreement(totals: Sequence[Decimal], expert_max: Decimal | None) -> Disagreement:
    """Spread and standard deviation of reviewer totals, with the flag (see :class:`Disagreement`)."""
    values = [_decimal(t, "total") for t in totals]
    threshold = quantize_score(_decimal(expert_max, "expert maximum") * DISAGREEMENT_SHARE) if expert_max else None
    if len(values) < 2:
        return Disagreement(reviewers=len(values), spread=None, stdev=None, threshold=threshold, flagged=False)
    spread = _EXACT.subtract(max(values), min(values))
    return Disagreement(
        reviewers=len(values),
        spread=quantize_score(spread),
        stdev=_stdev_half_up(values),
        threshold=threshold,
        flagged=threshold is not None and spread > threshold,
    )
