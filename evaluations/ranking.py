"""The ranking of a phase, live or frozen, as pages, the API, homes and exports read it.

Entry points: ``phase_ranking_source`` (pages, the API, homes: a ``RankingSource`` and the
snapshot) and ``phase_ranking_rows`` (exports: every row). Once a phase is frozen its
ranking is read lazily from ``PhaseResult`` (``FrozenRanking``); while it is being scored
it is computed from ``phase_snapshot`` (``LiveRanking``), stored in the live cache
(``evaluations.ranking_cache``) and read back from it (``CachedLiveRanking``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from decimal import Decimal
from functools import cached_property
from typing import Protocol

from django.core.cache import cache
from django.db.models import Count, DecimalField, F, IntegerField, Max, QuerySet, Value
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Floor, Least

from evaluations import scoring
from evaluations.enums import ACTIVE_DECISIONS, PHASE_FROZEN_STATES, AssignmentStatus, CriterionSource
from evaluations.models import Assignment, Criterion, Phase, PhaseResult, Score, UserPanelScore
from evaluations.ranking_cache import (
    LIVE_CHUNK,
    LIVE_TIE_GROUPS,
    CachedSnapshot,
    LiveSummary,
    cache_read,
    cache_read_many,
    cache_write,
    cache_write_many,
    chunk_key,
    live_ranking_key,
)
from evaluations.ranking_snapshot import PhaseSnapshot, phase_snapshot

logger = logging.getLogger(__name__)


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

    def as_fields(self) -> dict:
        """The row's fields by name, its lists and dicts as they are (``asdict`` copies each
        of them deeply, a third of what the ranking API spent on a page of 50 rows)."""
        return {name: getattr(self, name) for name in _ROW_FIELDS}

    @property
    def complete(self) -> bool:
        """All inputs are in (reviews, points, gate decisions); otherwise the decision is provisional."""
        return not any(r["code"] in scoring.INCOMPLETE_CODES for r in self.reasons)

    @property
    def objectives_met(self) -> int:
        return sum(1 for a in self.attainment if a["met"])


_ROW_FIELDS = tuple(f.name for f in fields(RankingRow))


# --------------------------------------------------------------------------- what every ranking offers


class RankingSource(Protocol):
    """What the ranking page and the API read of a ranking, live, cached or frozen.

    Rows are in rank order (then application id). ``Paginator`` (pages and the API)
    takes it as its object list: it counts it with ``len()`` (or a ``count()`` that takes
    no argument) and reads one page by slicing.
    """

    criteria: list[Criterion]
    """The phase's criteria, gates included, in their order (the columns and charts)."""

    version: str
    """What the rows were computed from: two rankings of one version have the same rows, so
    a page rendered from them may be cached under it (the ranking page's table is)."""

    def __len__(self, /) -> int:
        """The number of rows."""
        ...

    def __getitem__(self, index: int | slice, /) -> RankingRow | list[RankingRow]:
        """One row, or a list of rows for a slice (one page)."""
        ...

    def __iter__(self, /) -> Iterator[RankingRow]:
        """Every row in order (reads them all; a page reads one slice)."""
        ...

    def scored_top(self, n: int) -> list[RankingRow]:
        """The first ``n`` rows that have a score (the ranking chart)."""
        ...

    def last_active_id(self) -> int | None:
        """The application after which the cut line is drawn: the last selected or kept row."""
        ...

    def score_bands(self, *, phase: Phase, criteria: list[Criterion]) -> dict[int, list[int]]:
        """Per criterion id, how many figures fall in each fifth of its maximum (the distribution chart)."""
        ...


class LiveRankingSource(RankingSource, Protocol):
    """A ranking still being scored also finds the rows of the ties the officer decides."""

    def rows_by_id(self, ids: Iterable[int]) -> dict[int, RankingRow]:
        """The rows of these applications, by application id."""
        ...


# --------------------------------------------------------------------------- rows


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


# --------------------------------------------------------------------------- the three rankings


class LiveRanking(list):
    """The live ranking's rows (computed over every application) with the summaries
    that the ranking page reads."""

    criteria: list[Criterion]
    version: str

    def __init__(
        self, rows=(), *, criteria: list[Criterion] | None = None, bands: dict | None = None, version: str = ""
    ):
        super().__init__(rows)
        self.criteria = criteria or []
        self.bands = bands or {}
        self.version = version

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

    version: str

    def __init__(self, phase: Phase):
        self.phase = phase
        self.queryset = phase_results_frozen(phase=phase)
        self._count: int | None = None
        # Frozen rows change only when the phase is finalised again (after an upheld appeal).
        finalised = phase.finalised_at.isoformat() if phase.finalised_at else ""
        self.version = f"frozen:{phase.pk}:{finalised}"

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


class CachedLiveRanking:
    """A live ranking read back from the cache: the summary and only the 50-row chunks
    that a page needs, so a page does not unpickle every row. A missing chunk (evicted)
    recomputes and stores the whole ranking once."""

    criteria: list[Criterion]

    version: str

    def __init__(self, *, phase: Phase, key: str, summary: dict, criteria: list[Criterion]):
        self.phase, self.key, self.summary, self.criteria = phase, key, summary, criteria
        self.version = key
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
        keys = [chunk_key(self.key, n) for n in numbers]
        missing = [k for k in keys if k not in self._chunks]
        self._chunks.update(cache_read_many(missing))
        found = {k: self._chunks[k] for k in keys if k in self._chunks}
        if len(found) < len(keys):
            rows = live_ranking_store(key=self.key, snapshot=phase_snapshot(phase=self.phase))
            return rows[start:stop]
        rows = [row for k in keys for row in found[k]]
        offset = numbers[0] * LIVE_CHUNK
        return rows[start - offset : stop - offset]


# --------------------------------------------------------------------------- score bands (the distribution chart)


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


def _band_of(value_expr, top_expr):
    """Which fifth of the maximum a figure falls in (0–4), computed by the database."""
    return Least(Value(4), Floor(value_expr * Value(5) / top_expr), output_field=IntegerField())


def _expert_score_bands_count(*, phase: Phase, maxima: dict[int, Decimal]) -> list[tuple[int, int, int]]:
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
    if phase.status not in PHASE_FROZEN_STATES:
        return _expert_score_bands_count(phase=phase, maxima=maxima)
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
    rows = _expert_score_bands_count(phase=phase, maxima=maxima)
    try:
        cache.set(key, rows, timeout=24 * 60 * 60)
    except Exception:  # noqa: BLE001 -- as above
        logger.warning("score bands: cache unavailable", exc_info=True)
    return rows


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


# --------------------------------------------------------------------------- entry points


def live_ranking_store(*, key: str, snapshot: PhaseSnapshot) -> LiveRanking:
    """Build the live ranking from a snapshot and store it in the cache under ``key``:
    its chunks first, then its summary (a summary implies its chunks were stored)."""
    rows = LiveRanking(
        ranking_rows_live(snapshot), criteria=snapshot.criteria, bands=live_score_bands(snapshot), version=key
    )
    chunks = {
        chunk_key(key, n): rows[n * LIVE_CHUNK : (n + 1) * LIVE_CHUNK] for n in range(len(rows) // LIVE_CHUNK + 1)
    }
    if not cache_write_many(chunks):
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
    cache_write(key, summary)
    return rows


def live_ranking_warm(*, phase_id: int) -> bool:
    """Store the live ranking of a phase being scored under its current key, unless it is
    stored already; True if it was computed. Run by a worker after an input changed."""
    phase = Phase.objects.filter(pk=phase_id).first()
    if phase is None or phase_is_frozen(phase):
        return False
    rows, _snapshot = phase_ranking_source(phase=phase, fresh=True)
    return isinstance(rows, LiveRanking)  # computed (and stored), not read from the cache


def phase_ranking_source(
    *, phase: Phase, fresh: bool = False
) -> tuple[RankingSource, PhaseSnapshot | CachedSnapshot | None]:
    """The ranking for pages and the API, with the snapshot (``None`` once frozen).

    Frozen: lazy over ``PhaseResult`` (a COUNT and one page of rows). Live: the ranking
    must be computed over every application (linear in their number), so the computed
    rows are cached under ``live_ranking_key`` and later requests read the summary and
    one page; any change of an input gives a new key, hence a fresh computation.
    """
    if phase_is_frozen(phase):
        return FrozenRanking(phase), None
    live_key = live_ranking_key(phase=phase, fresh=fresh)
    key = live_key.key
    summary = cache_read(key)
    if summary is not None:
        return CachedLiveRanking(phase=phase, key=key, summary=summary, criteria=live_key.criteria), CachedSnapshot(
            result=LiveSummary(
                needs_officer_decision=summary["needs_officer_decision"],
                ready_to_finalise=summary["ready_to_finalise"],
            )
        )
    snapshot = phase_snapshot(phase=phase, criteria=live_key.criteria, objectives=live_key.objectives)
    return live_ranking_store(key=key, snapshot=snapshot), snapshot


def phase_ranking_rows(*, phase: Phase) -> tuple[list[RankingRow], PhaseSnapshot | None]:
    """The whole ranking: frozen rows once finalised, otherwise the live computation.

    Builds every row: for exports. Pages and the API use ``phase_ranking_source``.
    """
    if phase_is_frozen(phase):
        return [ranking_row_from_result(r) for r in phase_results_frozen(phase=phase)], None
    snapshot = phase_snapshot(phase=phase)
    return ranking_rows_live(snapshot), snapshot
