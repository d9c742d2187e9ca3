"""The live ranking's cache: its key, its layout and reads and writes that fail open.

A phase still being scored is ranked over every application, so ``evaluations.ranking``
stores the computed ranking under ``live_ranking_key``: a summary (count, cut line, ties,
chart bands) under the key itself and the rows in chunks of ``LIVE_CHUNK`` under
``chunk_key``. Any change of an input gives a new key, hence a fresh computation; stale
entries simply expire. The cache only saves work: when it is unavailable the ranking is
computed without it.

The stamp of the growing inputs is an aggregate over every application and sheet of the
phase, so it costs more as the phase grows (34 ms at 10,000 applications). It is kept
in the cache for ``LIVE_STAMP_SECONDS``: the portal's own writes of an input forget it
when they commit (``live_ranking_stamp_forget``, through the scoring services), and a
write from outside the portal (an operator's SQL) shows within that many seconds. The
worker that warms the ranking after a change always reads it afresh.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from django.core.cache import cache
from django.db.models import Count, Max, OuterRef, QuerySet, Subquery, Sum, Value

from consortia.models import ApplicationVersion
from evaluations.enums import AssignmentStatus
from evaluations.models import Assignment, BenchmarkResult, GateDecision, Phase, TieBreakDecision, UserPanelScore
from evaluations.selectors import phase_applications

logger = logging.getLogger(__name__)

LIVE_CHUNK = 50
#: Tie groups whose rows the cached summary keeps (the ranking page shows the first
#: ``TIES_SHOWN`` of them); rows of later groups are read from the chunks when asked for.
LIVE_TIE_GROUPS = 50
LIVE_CACHE_SECONDS = 6 * 60 * 60
LIVE_STAMP_SECONDS = 10


@dataclass(frozen=True)
class LiveSummary:
    """What the ranking page reads of a live evaluation besides its rows."""

    needs_officer_decision: tuple
    ready_to_finalise: bool


@dataclass(frozen=True)
class CachedSnapshot:
    """Stands in for ``PhaseSnapshot`` when the live ranking comes from the cache."""

    result: LiveSummary


def chunk_key(key: str, number: int) -> str:
    """Where the rows ``number * LIVE_CHUNK`` up to the next chunk are stored."""
    return f"{key}:chunk:{number}"


def cache_read(key: str):
    """The value stored under ``key``, or ``None`` (also when the cache is unavailable)."""
    try:
        return cache.get(key)
    except Exception:  # noqa: BLE001 -- the cache only saves work; the ranking is computed without it
        logger.warning("ranking cache unavailable", exc_info=True)
        return None


def cache_read_many(keys: list[str]) -> dict:
    """The values stored under ``keys`` (those found; none when the cache is unavailable)."""
    try:
        return cache.get_many(keys) if keys else {}
    except Exception:  # noqa: BLE001 -- the caller recomputes what is missing
        logger.warning("ranking cache unavailable", exc_info=True)
        return {}


def cache_write(key: str, value, *, timeout: int = LIVE_CACHE_SECONDS) -> None:
    try:
        cache.set(key, value, timeout=timeout)
    except Exception:  # noqa: BLE001 -- as above
        logger.warning("ranking cache unavailable", exc_info=True)


def cache_write_many(values: dict) -> bool:
    """Store every value; False when the cache is unavailable."""
    try:
        cache.set_many(values, timeout=LIVE_CACHE_SECONDS)
    except Exception:  # noqa: BLE001 -- the cache only saves work
        logger.warning("ranking cache unavailable", exc_info=True)
        return False
    return True


def _scalar(qs: QuerySet, aggregate) -> Subquery:
    """One aggregate of ``qs`` as a scalar subquery."""
    return Subquery(qs.order_by().annotate(_k=Value(1)).values("_k").annotate(v=aggregate).values("v")[:1])


def _input_stamp_parts(phase: Phase) -> dict[str, Subquery]:
    """The aggregates that stamp the growing inputs of the live ranking, by name.

    Each is an index range over the phase's rows and changes whenever its input does.
    """
    applications = phase_applications(phase=phase)
    versions = ApplicationVersion.objects.filter(application__in=applications.values("id"))
    sheets = Assignment.objects.filter(phase=OuterRef("pk"), status=AssignmentStatus.SUBMITTED)
    results = BenchmarkResult.objects.filter(objective__phase=OuterRef("pk"))
    panel = UserPanelScore.objects.filter(criterion__phase=OuterRef("pk"))
    gates = GateDecision.objects.filter(criterion__phase=OuterRef("pk"))
    ties = TieBreakDecision.objects.filter(phase=OuterRef("pk"))
    return {
        # the evaluated applications: how many, and which
        "apps_n": _scalar(applications, Count("id")),
        "apps_sum": _scalar(applications, Sum("id")),
        # their latest submitted version
        "versions_top": _scalar(versions, Max("id")),
        # submitted sheets: scores change only while a sheet is open
        "sheets_n": _scalar(sheets, Count("id")),
        "sheets_last": _scalar(sheets, Max("submitted_at")),
        "sheets_top": _scalar(sheets, Max("id")),
        # benchmark results: a result corrected in place moves the sum of scores
        "results_n": _scalar(results, Count("id")),
        "results_top": _scalar(results, Max("id")),
        "results_sum": _scalar(results, Sum("score")),
        # user-panel points and gate decisions stamp every write
        "panel_n": _scalar(panel, Count("id")),
        "panel_last": _scalar(panel, Max("imported_at")),
        "gates_n": _scalar(gates, Count("id")),
        "gates_last": _scalar(gates, Max("decided_at")),
        # tie decisions are only ever added
        "ties_n": _scalar(ties, Count("id")),
        "ties_top": _scalar(ties, Max("id")),
    }


@dataclass(frozen=True)
class LiveKey:
    """The live ranking's cache key, with the criteria and objectives read to make it."""

    key: str
    criteria: list
    objectives: list


def _stamp_key(phase_id: int) -> str:
    return f"evaluations:live-ranking-stamp:{phase_id}"


def live_ranking_stamp_forget(phase_id: int) -> None:
    """An input changed: the next look reads the stamp from the database again."""
    try:
        cache.delete(_stamp_key(phase_id))
    except Exception:  # noqa: BLE001 -- the stamp then expires by itself
        logger.warning("ranking cache unavailable", exc_info=True)


def _input_stamp(phase: Phase, *, fresh: bool) -> tuple:
    """The growing inputs' stamp: ONE query of scalar subqueries, or the cached copy."""
    if not fresh:
        cached = cache_read(_stamp_key(phase.pk))
        if cached is not None:
            return cached
    parts = _input_stamp_parts(phase)
    stamp = tuple(Phase.objects.filter(pk=phase.pk).annotate(**parts).values_list(*parts).first() or ())
    cache_write(_stamp_key(phase.pk), stamp, timeout=LIVE_STAMP_SECONDS)
    return stamp


def live_ranking_key(*, phase: Phase, fresh: bool = False) -> LiveKey:
    """A cache key that changes whenever an input of the live ranking changes.

    Inputs (see ``phase_snapshot``): the phase's own settings (in memory), its criteria
    and objectives (read whole: a handful of rows), and a stamp of the growing inputs
    (``_input_stamp_parts``) read in ONE query of scalar subqueries, or from the cache
    (``fresh=False``; see the module docstring). Two or three queries in all.
    """
    stamp = _input_stamp(phase, fresh=fresh)
    settings = sorted((f.attname, f.value_from_object(phase)) for f in phase._meta.concrete_fields)
    criteria = list(phase.criteria.order_by("order", "id"))
    objectives = list(phase.objectives.order_by("id"))
    rows = [[(f.attname, f.value_from_object(o)) for f in o._meta.concrete_fields] for o in (*criteria, *objectives)]
    digest = hashlib.sha256(repr((settings, rows, stamp)).encode()).hexdigest()[:32]
    return LiveKey(f"evaluations:live-ranking:{phase.pk}:{digest}", criteria, objectives)
