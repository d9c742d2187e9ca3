"""GPU and data-budget allocation policy (SPEC §6): a pure core, no database, no Django.

The service layer snapshots the active teams, the GPU pool and the programme settings into
the frozen dataclasses below, calls :func:`allocate`, and stores the returned
:class:`AllocationResult` (``to_dict()``) next to the canonical inputs and their SHA-256
(:func:`canonical_inputs_json`, :func:`inputs_digest`). ``docs/allocation.md`` explains the
policy for ministry staff and gives the optimality proofs in full.

Inputs
    ``Team`` (id, rank with 1 = best, phase score, requested GPUs, requested data budget in
    KRW, GPU-supplier flag), ``Cluster`` (id, name, GPU model, nodes, GPUs per node,
    H100-equivalents per GPU) and ``PolicySettings`` (per-team GPU cap, data-budget range,
    the programme's data-budget envelope, the budget rounding unit and the GPU floor share).
    Every number is an input; the defaults are the 2025 programme's figures (1,000 GPUs per
    team, 3 to 5 billion KRW per team) and the policy's own documented choices.

Hard rules (never broken)
    * GPUs are granted in whole nodes of one cluster. All clusters of a pool have the same
      node size (SPEC §4 asks for requests "in whole nodes of the pool's node size"); a pool
      mixing node sizes is refused with :class:`PolicyInputError`.
    * A team's limit is ``min(requested_gpus, per_team_gpu_cap)`` GPUs, rounded *down* to whole
      nodes (a request of 100 GPUs with 8-GPU nodes allows at most 96). Caps and requests count
      GPUs of whatever model is granted; fairness and the objective count H100-equivalents.
    * A GPU supplier gets no GPUs (it still gets its data budget). No cluster is over capacity.
      Which teams are suppliers is decided by the service layer under the programme's rule
      (default: any member organisation flagged as a supplier, not only the lead) and passed in
      as ``gpu_supplier`` with the organisations' names (``gpu_supplier_members``).
    * Every team gets at least ``budget_min`` KRW and at most its *budget ceiling*: its request
      clamped into ``[budget_min, budget_max]`` (a request below the minimum is raised to the
      minimum, one above the maximum lowered to it). Budgets above the minimum move in whole
      ``budget_unit`` steps (default 1,000,000 KRW), so a ceiling that is not a whole number of
      units above the minimum is rounded down to one. The sum never exceeds the envelope.
    * If the envelope cannot give every team the minimum, :func:`allocate` raises
      :class:`PolicyInfeasible` with the numbers, in English and Korean. Nothing else fails:
      a pool too small for everyone is shared out by the objective below.

Objective (lexicographic: each level only breaks ties of the levels before it)
    Teams are taken in *rank order* (rank, then id), never input order.

    G1. Floors. Every *eligible* team (not a supplier, limit of at least one node) has a floor
        of ``min(limit, F)`` nodes, where ``F = max(1, floor(gpu_floor_share x pool nodes /
        eligible teams))`` (``F = 0`` when the share is 0). Maximise, in rank order, which
        teams get their floor: a floor is never bought by taking one from a higher-ranked team.
        As ``F`` is at most an equal share, every floor fits unless the pool has fewer nodes
        than there are eligible teams; then the highest-ranked teams get one node each.
    G2. Rank priority. Maximise the H100-equivalents of the first team, then of the second,
        and so on (lexicographic maximum of the equivalents vector in rank order).
    G3. Consolidation. Among all layouts that give every team the same GPUs (the same number of
        nodes in each *tier*, a group of clusters with the same equivalence factor), minimise the
        number of teams whose GPUs sit in more than one cluster; among those, minimise the number
        of clusters of the first team, then of the second, and so on (rank order breaks ties).
    B1. Distribute as many budget units above the minimum as the envelope and the ceilings
        allow (teams with a phase score of zero receive the minimum only).
    B2. Share them as nearly in proportion to the phase scores as whole units allow:
        minimise ``sum(extra_units**2 / score)``; the continuous optimum is the score-weighted
        water-filling with caps, the whole-unit optimum is Sainte-Laguë apportionment with
        ceilings. Ties go to the higher-ranked team.

Algorithm (G1, G2, B1 and B2 exact, O(n log n) in the number of teams; G3 as stated below)
    G1 hands out floors in rank order, skipping a team whose floor no longer fits. G2 tops
    teams up to their limit in rank order and deals the pool's nodes, best equivalence first,
    to the teams in rank order: each team receives a contiguous run of the value-sorted nodes.
    G3 is solved tier by tier (tiers do not interact: a team's split and cluster counts add up
    over its tiers). A tier's layout is described by the set of clusters each share uses; such a
    set of supports can be filled exactly iff Hall's condition holds (for every set T of the
    tier's clusters, the shares using only clusters of T fit in T). A depth-first branch and
    bound over the shares in rank order, smaller supports first, keeps that condition on a
    table of 2**clusters loads, prunes partial layouts that cannot beat the best one found and
    starts from the best *rank-ordered* layout (teams in rank order filling one cluster after
    another; the cluster order by a dynamic programme over "how many clusters of each size
    have been laid out"). The chosen supports are filled by augmenting paths and cleared of
    cycles, so the pieces of a tier form a forest: a tier of K clusters never has more than
    K - 1 extra pieces.

What G3 guarantees
    * Always: the layout is never worse (by the G3 order) than the best rank-ordered layout,
      and the pool as a whole has at most ``clusters - 1`` extra pieces.
    * Optimal over *all* layouts whenever the search of a tier finishes within
      ``LAYOUT_SEARCH_STEPS`` steps (every tier of a small pool: the tests compare with a brute
      force over every layout) and for tiers with one cluster or no split.
    * Otherwise (large tiers, or more than ``LAYOUT_SEARCH_MAX_CLUSTERS`` clusters in a tier)
      the best layout found; the team's ``split`` sentence then says the search was bounded.
      Deciding whether shares pack into clusters without any split is bin packing (NP-hard),
      so no fast method is exact on every large input.

Determinism
    Teams are sorted by (rank, id), clusters by (equivalence descending, id) and, inside a
    tier, ties are broken by cluster size (larger first) then id; the layout search is
    deterministic (a fixed step bound, not a time limit), so equal inputs give equal layouts.
    Teams sharing a rank are ordered by id, and their explanations say so: a team of the same
    rank is never called higher-ranked. Same inputs in any order give
    the same result, byte for byte in ``to_dict()``.

Explanations
    Each team's result carries :class:`Binding` entries: a machine ``code`` with ``params`` and
    one English and one Korean sentence. ``rank_tie`` comes first when the team shares its phase
    score with other applications (from ``Team.tie_breaks``): for each, the tie-break criterion that
    decided with both unrounded means, or the officer's recorded reason. GPU codes: ``supplier``, ``no_request``,
    ``below_one_node``, ``request``, ``team_cap``, ``node_rounding``, ``floor``, ``no_floor``,
    ``pool_exhausted``, ``split`` (one sentence part per fact: GPUs of different value, a share
    larger than the largest cluster of its model, and the layout claim, "no layout ... splits fewer
    teams" when the tier's search finished, or that the search was bounded). Budget codes: ``budget_request``, ``budget_below_min``,
    ``budget_max``, ``budget_rounding``, ``envelope``, ``zero_score``.

    The reasons are worked out when a team's bindings are first read and each sentence when it is
    first read (``Binding.en``/``ko``, ``TeamAllocation.explanation_en``, ``to_dict()``), so a solve
    whose explanations are not shown builds none; storing a run (``to_dict()``) builds them all once.
    This module decides which codes apply and with which figures; the sentences themselves are
    written by ``gpu_allocation/policy_explain.py`` (amounts in the KRW wording of
    ``portal/formatting.py``).

Speed
    ``bench/bench_policy.py`` times this module against ``bench/reference_policy.py`` (the policy
    before lazy explanations and integer budget keys) on the same instances in the same run, and
    ``tests/gpu_allocation/test_policy_reference.py`` checks that both give identical results.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import math
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation, localcontext
from fractions import Fraction
from functools import partial
from typing import Any

from gpu_allocation import policy_explain as explain
from gpu_allocation.policy_explain import Neighbours, TierNote

__all__ = [
    "DEFAULT_GPUS_PER_NODE",
    "POLICY_VERSION",
    "AllocationResult",
    "Binding",
    "Cluster",
    "ClusterUsage",
    "Grant",
    "ObjectiveValue",
    "PolicyError",
    "PolicyInfeasible",
    "PolicyInputError",
    "PolicySettings",
    "Team",
    "TeamAllocation",
    "TieBreak",
    "allocate",
    "canonical_inputs_json",
    "evaluate_objective",
    "floor_nodes",
    "greedy_allocate",
    "inputs_digest",
    "inputs_from_dict",
    "inputs_to_dict",
]

#: Bumped whenever the policy's rules or objective change, so that stored digests of inputs
#: (which include it) never match a result computed under another policy.
POLICY_VERSION = "2"
DEFAULT_GPUS_PER_NODE = 8
_DEVIATION_QUANTUM = Decimal("1e-12")


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


class PolicyError(Exception):
    """Base class of the policy's errors."""


class PolicyInputError(PolicyError, ValueError):
    """The inputs break a rule of their own (negative numbers, duplicate ids, mixed node sizes...)."""


class PolicyInfeasible(PolicyError):
    """No allocation satisfies the hard rules; ``message_en``/``message_ko`` say why, with the numbers."""

    def __init__(self, *, code: str, params: Mapping[str, int | str], message_en: str, message_ko: str) -> None:
        super().__init__(message_en)
        self.code = code
        self.params = dict(params)
        self.message_en = message_en
        self.message_ko = message_ko

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "params": dict(self.params), "en": self.message_en, "ko": self.message_ko}


# --------------------------------------------------------------------------------------------
# Small helpers: numbers, Decimals, formatting
# --------------------------------------------------------------------------------------------


def _require_int(value: Any, name: str, *, minimum: int | None = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise PolicyInputError(f"{name} must be an integer, not {value!r}.")
    if minimum is not None and value < minimum:
        raise PolicyInputError(f"{name} must be at least {minimum}, not {value}.")
    return value


def _require_decimal(value: Any, name: str) -> Decimal:
    if isinstance(value, bool) or isinstance(value, float):
        raise PolicyInputError(f"{name} must be a Decimal, an int or a decimal string, not a {type(value).__name__}.")
    try:
        result = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise PolicyInputError(f"{name} is not a number: {value!r}.") from exc
    if not result.is_finite():
        raise PolicyInputError(f"{name} must be finite, not {value!r}.")
    return result


def _dec_str(value: Decimal) -> str:
    """Canonical text of a Decimal: no exponent, no trailing zeros, so 1.50 and 1.5 read alike."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


# --------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class TieBreak:
    """How a team's order against one other application of the same phase score was settled.

    ``by`` is ``"criterion"`` (``criterion`` named, the two unrounded means compared), ``"officer"``
    (an officer's recorded decision, with its ``reason``) or ``"undecided"``. ``other_rank`` is the
    other application's rank, so the sentence can say which of the two ranks higher."""

    other: str
    other_rank: int
    by: str
    criterion: str = ""
    own_mean: str = ""
    other_mean: str = ""
    reason: str = ""

    def __post_init__(self) -> None:
        if self.by not in ("criterion", "officer", "undecided"):
            raise PolicyInputError(f"Tie-break 'by' must be criterion, officer or undecided, not {self.by!r}.")
        _require_int(self.other_rank, "Rank of the tied application", minimum=1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "other": self.other,
            "other_rank": self.other_rank,
            "by": self.by,
            "criterion": self.criterion,
            "own_mean": self.own_mean,
            "other_mean": self.other_mean,
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TieBreak:
        optional = {k: data.get(k, "") for k in ("criterion", "own_mean", "other_mean", "reason")}
        return cls(other=data["other"], other_rank=data["other_rank"], by=data["by"], **optional)


@dataclass(frozen=True, kw_only=True, slots=True)
class Team:
    """An active team: its rank and score from the latest finalised phase, and its requests."""

    id: int
    rank: int
    score: Decimal
    requested_gpus: int
    requested_budget: int
    gpu_supplier: bool = False
    gpu_supplier_members: tuple[str, ...] = ()
    #: How its place among applications of the same phase score was settled (the explanation says it):
    #: one :class:`TieBreak` per other application of that score, in rank order.
    tie_breaks: tuple[TieBreak, ...] = ()

    def __post_init__(self) -> None:
        _require_int(self.id, "Team id", minimum=None)
        _require_int(self.rank, f"Rank of team {self.id}", minimum=1)
        object.__setattr__(self, "score", _require_decimal(self.score, f"Score of team {self.id}"))
        if self.score < 0:
            raise PolicyInputError(f"Score of team {self.id} must not be negative, not {self.score}.")
        _require_int(self.requested_gpus, f"Requested GPUs of team {self.id}")
        _require_int(self.requested_budget, f"Requested budget of team {self.id}")
        if not isinstance(self.gpu_supplier, bool):
            raise PolicyInputError(f"gpu_supplier of team {self.id} must be a bool.")
        members = tuple(self.gpu_supplier_members)
        if not all(isinstance(name, str) for name in members):
            raise PolicyInputError(f"gpu_supplier_members of team {self.id} must be names (text).")
        object.__setattr__(self, "gpu_supplier_members", tuple(sorted(members)))
        ties = tuple(self.tie_breaks)
        if not all(isinstance(t, TieBreak) for t in ties):
            raise PolicyInputError(f"tie_breaks of team {self.id} must be TieBreak entries.")
        object.__setattr__(self, "tie_breaks", ties)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "rank": self.rank,
            "score": _dec_str(self.score),
            "requested_gpus": self.requested_gpus,
            "requested_budget": self.requested_budget,
            "gpu_supplier": self.gpu_supplier,
            "gpu_supplier_members": list(self.gpu_supplier_members),
            "tie_breaks": [t.to_dict() for t in self.tie_breaks],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Team:
        return cls(
            id=data["id"],
            rank=data["rank"],
            score=Decimal(data["score"]),
            requested_gpus=data["requested_gpus"],
            requested_budget=data["requested_budget"],
            gpu_supplier=data.get("gpu_supplier", False),
            gpu_supplier_members=tuple(data.get("gpu_supplier_members", ())),
            tie_breaks=tuple(TieBreak.from_dict(t) for t in data.get("tie_breaks", ())),
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class Cluster:
    """A cluster of the GPU pool: ``nodes`` nodes of ``gpus_per_node`` GPUs of one model.

    ``equivalence`` is H100-equivalents per GPU (H100 = 1; the 2025 call's "512 B200 or 1,024
    H100" makes B200 = 2).
    """

    id: int
    name: str
    gpu_model: str
    nodes: int
    gpus_per_node: int = DEFAULT_GPUS_PER_NODE
    equivalence: Decimal = Decimal(1)

    def __post_init__(self) -> None:
        _require_int(self.id, "Cluster id", minimum=None)
        if not isinstance(self.name, str) or not isinstance(self.gpu_model, str):
            raise PolicyInputError(f"Name and GPU model of cluster {self.id} must be text.")
        _require_int(self.nodes, f"Nodes of cluster {self.id}")
        _require_int(self.gpus_per_node, f"GPUs per node of cluster {self.id}", minimum=1)
        object.__setattr__(self, "equivalence", _require_decimal(self.equivalence, f"Equivalence of cluster {self.id}"))
        if self.equivalence <= 0:
            raise PolicyInputError(f"Equivalence of cluster {self.id} must be positive, not {self.equivalence}.")

    @property
    def gpus(self) -> int:
        return self.nodes * self.gpus_per_node

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "gpu_model": self.gpu_model,
            "nodes": self.nodes,
            "gpus_per_node": self.gpus_per_node,
            "equivalence": _dec_str(self.equivalence),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Cluster:
        return cls(
            id=data["id"],
            name=data["name"],
            gpu_model=data["gpu_model"],
            nodes=data["nodes"],
            gpus_per_node=data.get("gpus_per_node", DEFAULT_GPUS_PER_NODE),
            equivalence=Decimal(data.get("equivalence", "1")),
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class PolicySettings:
    """The programme's numbers for one run. Only the envelope has no default.

    ``gpu_floor_share``: the fraction (0 to 1) of an equal share of the pool's nodes that every
    eligible team is guaranteed before rank priority shares out the rest (0.5: half the pool is
    shared equally as floors, the other half by rank; 1: close to an equal split; 0: pure rank
    order). A positive share always guarantees at least one node.

    ``budget_unit``: budgets above the minimum move in whole units of this many KRW
    (1 = whole won).
    """

    budget_envelope: int
    per_team_gpu_cap: int = 1000
    budget_min: int = 3_000_000_000
    budget_max: int = 5_000_000_000
    budget_unit: int = 1_000_000
    gpu_floor_share: Decimal = Decimal("0.5")

    def __post_init__(self) -> None:
        _require_int(self.budget_envelope, "Budget envelope")
        _require_int(self.per_team_gpu_cap, "Per-team GPU cap")
        _require_int(self.budget_min, "Budget minimum")
        _require_int(self.budget_max, "Budget maximum")
        _require_int(self.budget_unit, "Budget unit", minimum=1)
        if self.budget_min > self.budget_max:
            raise PolicyInputError(
                f"Budget minimum {self.budget_min:,} KRW is above the maximum {self.budget_max:,} KRW."
            )
        object.__setattr__(self, "gpu_floor_share", _require_decimal(self.gpu_floor_share, "GPU floor share"))
        if not 0 <= self.gpu_floor_share <= 1:
            raise PolicyInputError(f"GPU floor share must be between 0 and 1, not {self.gpu_floor_share}.")

    def to_dict(self) -> dict[str, Any]:
        return {
            "budget_envelope": self.budget_envelope,
            "per_team_gpu_cap": self.per_team_gpu_cap,
            "budget_min": self.budget_min,
            "budget_max": self.budget_max,
            "budget_unit": self.budget_unit,
            "gpu_floor_share": _dec_str(self.gpu_floor_share),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PolicySettings:
        defaults = cls(budget_envelope=0)
        return cls(
            budget_envelope=data["budget_envelope"],
            per_team_gpu_cap=data.get("per_team_gpu_cap", defaults.per_team_gpu_cap),
            budget_min=data.get("budget_min", defaults.budget_min),
            budget_max=data.get("budget_max", defaults.budget_max),
            budget_unit=data.get("budget_unit", defaults.budget_unit),
            gpu_floor_share=Decimal(data.get("gpu_floor_share", _dec_str(defaults.gpu_floor_share))),
        )


# --------------------------------------------------------------------------------------------
# Outputs
# --------------------------------------------------------------------------------------------


class Binding:
    """One limit that shaped a team's result: a machine code with parameters, and two sentences.

    The sentences are built when first read (``en``, ``ko``, ``to_dict()``), not when the policy
    decides: a solve whose explanations are never shown (the benchmark, a comparison of runs)
    builds none. Immutable; equal when code, parameters and both sentences are equal.
    """

    __slots__ = ("code", "_params", "_sorted", "_text", "_render")

    def __init__(
        self,
        code: str,
        params: Mapping[str, int | str] | Iterable[tuple[str, int | str]] = (),
        en: str | None = None,
        ko: str | None = None,
        *,
        render: Callable[[], tuple[str, str]] | None = None,
    ) -> None:
        if render is None and (en is None or ko is None):
            raise TypeError("A binding needs both sentences or a function that builds them.")
        set_ = object.__setattr__
        set_(self, "code", code)
        set_(self, "_params", params if isinstance(params, dict) else dict(params))
        set_(self, "_sorted", None)
        set_(self, "_text", None if render is not None else (en, ko))
        set_(self, "_render", render)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"Binding is immutable ({name!r} cannot be set).")

    def _sentences(self) -> tuple[str, str]:
        text = self._text
        if text is None:
            text = self._render()
            object.__setattr__(self, "_text", text)
            object.__setattr__(self, "_render", None)
        return text

    @property
    def en(self) -> str:
        return self._sentences()[0]

    @property
    def ko(self) -> str:
        return self._sentences()[1]

    @property
    def params(self) -> tuple[tuple[str, int | str], ...]:
        ordered = self._sorted
        if ordered is None:
            ordered = tuple(sorted(self._params.items()))
            object.__setattr__(self, "_sorted", ordered)
        return ordered

    @property
    def params_dict(self) -> dict[str, int | str]:
        return dict(self.params)

    def _key(self) -> tuple[Any, ...]:
        return (self.code, self.params, *self._sentences())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Binding):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        en, ko = self._sentences()
        return f"Binding(code={self.code!r}, params={self.params!r}, en={en!r}, ko={ko!r})"

    def to_dict(self) -> dict[str, Any]:
        en, ko = self._sentences()
        return {"code": self.code, "params": dict(self.params), "en": en, "ko": ko}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Binding:
        return cls(code=data["code"], params=dict(data["params"]), en=data["en"], ko=data["ko"])

    def __reduce__(self) -> tuple[Any, ...]:
        en, ko = self._sentences()
        return (Binding, (self.code, dict(self._params), en, ko))


def _binding(code: str, en: str, ko: str, **params: int | str) -> Binding:
    return Binding(code, params, en, ko)


def _lazy(code: str, render: Callable[[], tuple[str, str]], **params: int | str) -> Binding:
    """A binding whose two sentences ``render()`` builds when they are first read."""
    return Binding(code, params, render=render)


@dataclass(frozen=True, kw_only=True, slots=True)
class Grant:
    """Whole nodes of one cluster granted to a team."""

    cluster_id: int
    nodes: int
    gpus: int

    def to_dict(self) -> dict[str, int]:
        return {"cluster_id": self.cluster_id, "nodes": self.nodes, "gpus": self.gpus}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Grant:
        return cls(cluster_id=data["cluster_id"], nodes=data["nodes"], gpus=data["gpus"])


class TeamAllocation:
    """One team's GPUs (grants ordered by cluster id) and data budget, with the reasons.

    Immutable. The reasons (``gpu_bindings``, ``budget_bindings``) are either given or, from
    :func:`allocate`, worked out when first read, and their sentences when those are read.
    """

    __slots__ = ("_fields", "_bindings", "_explain")

    team_id = property(lambda self: self._fields[0])
    rank = property(lambda self: self._fields[1])
    grants = property(lambda self: self._fields[2])
    total_gpus = property(lambda self: self._fields[3])
    total_equivalents = property(lambda self: self._fields[4])
    budget = property(lambda self: self._fields[5])

    def __init__(
        self,
        *,
        team_id: int,
        rank: int,
        grants: tuple[Grant, ...],
        total_gpus: int,
        total_equivalents: Decimal,
        budget: int,
        gpu_bindings: Iterable[Binding],
        budget_bindings: Iterable[Binding],
    ) -> None:
        set_ = object.__setattr__
        set_(self, "_fields", (team_id, rank, grants, total_gpus, total_equivalents, budget))
        set_(self, "_bindings", (tuple(gpu_bindings), tuple(budget_bindings)))
        set_(self, "_explain", None)

    @classmethod
    def _explained_later(cls, fields: tuple[Any, ...], explainer: _Explainer, position: int) -> TeamAllocation:
        """A team allocation whose reasons ``explainer.bindings(position, budget)`` works out when first read."""
        self = object.__new__(cls)
        set_ = object.__setattr__
        set_(self, "_fields", fields)
        set_(self, "_bindings", None)
        set_(self, "_explain", (explainer, position))
        return self

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"TeamAllocation is immutable ({name!r} cannot be set).")

    def _both(self) -> tuple[tuple[Binding, ...], tuple[Binding, ...]]:
        both = self._bindings
        if both is None:
            explainer, position = self._explain
            both = explainer.bindings(position, self._fields[5])
            object.__setattr__(self, "_bindings", both)
            object.__setattr__(self, "_explain", None)
        return both

    @property
    def gpu_bindings(self) -> tuple[Binding, ...]:
        return self._both()[0]

    @property
    def budget_bindings(self) -> tuple[Binding, ...]:
        return self._both()[1]

    @property
    def bindings(self) -> tuple[Binding, ...]:
        gpu, budget = self._both()
        return gpu + budget

    @property
    def explanation_en(self) -> str:
        return " ".join(b.en for b in self.bindings)

    @property
    def explanation_ko(self) -> str:
        return " ".join(b.ko for b in self.bindings)

    def _key(self) -> tuple[Any, ...]:
        return (*self._fields, *self._both())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TeamAllocation):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        gpu, budget = self._both()
        return (
            f"TeamAllocation(team_id={self.team_id!r}, rank={self.rank!r}, grants={self.grants!r}, "
            f"total_gpus={self.total_gpus!r}, total_equivalents={self.total_equivalents!r}, budget={self.budget!r}, "
            f"gpu_bindings={gpu!r}, budget_bindings={budget!r})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (_team_allocation, (self.to_dict(),))

    def to_dict(self) -> dict[str, Any]:
        gpu, budget = self._both()
        return {
            "team_id": self.team_id,
            "rank": self.rank,
            "grants": [g.to_dict() for g in self.grants],
            "total_gpus": self.total_gpus,
            "total_equivalents": _dec_str(self.total_equivalents),
            "budget": self.budget,
            "gpu_bindings": [b.to_dict() for b in gpu],
            "budget_bindings": [b.to_dict() for b in budget],
            "explanation_en": " ".join(b.en for b in gpu + budget),
            "explanation_ko": " ".join(b.ko for b in gpu + budget),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TeamAllocation:
        return cls(
            team_id=data["team_id"],
            rank=data["rank"],
            grants=tuple(Grant.from_dict(g) for g in data["grants"]),
            total_gpus=data["total_gpus"],
            total_equivalents=Decimal(data["total_equivalents"]),
            budget=data["budget"],
            gpu_bindings=tuple(Binding.from_dict(b) for b in data["gpu_bindings"]),
            budget_bindings=tuple(Binding.from_dict(b) for b in data["budget_bindings"]),
        )


def _team_allocation(data: Mapping[str, Any]) -> TeamAllocation:
    return TeamAllocation.from_dict(data)


@dataclass(frozen=True, kw_only=True, slots=True)
class ClusterUsage:
    """How much of a cluster the allocation uses."""

    cluster_id: int
    capacity_nodes: int
    used_nodes: int
    free_nodes: int
    used_gpus: int
    free_gpus: int

    def to_dict(self) -> dict[str, int]:
        return {
            "cluster_id": self.cluster_id,
            "capacity_nodes": self.capacity_nodes,
            "used_nodes": self.used_nodes,
            "free_nodes": self.free_nodes,
            "used_gpus": self.used_gpus,
            "free_gpus": self.free_gpus,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ClusterUsage:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__})


@dataclass(frozen=True, kw_only=True, slots=True)
class ObjectiveValue:
    """The objective's levels, each a vector in rank order. Compare allocations with ``key()``.

    ``floors_met``: G1, whether each team holds its floor (teams without a floor: True).
    ``equivalents``: G2, H100-equivalents per team. ``clusters_per_team``: G3 (first the number of
    teams split, :attr:`teams_split`, then this vector).
    ``budget_units``: B1, units above the minimum given to teams with a positive score.
    ``budget_deviation``: B2, ``sum(extra_units**2 / score)`` over those teams, computed with 60 significant
    digits and rounded to 12 decimal places (an exact fraction over thousands of scores would run to
    thousands of digits).
    """

    floors_met: tuple[bool, ...]
    equivalents: tuple[Decimal, ...]
    clusters_per_team: tuple[int, ...]
    budget_units: int
    budget_deviation: Decimal

    @property
    def teams_split(self) -> int:
        """Teams whose GPUs sit in more than one cluster."""
        return sum(1 for k in self.clusters_per_team if k > 1)

    def key(self) -> tuple[Any, ...]:
        """A tuple that compares like the objective: greater is better."""
        return (
            tuple(int(met) for met in self.floors_met),
            self.equivalents,
            -self.teams_split,
            tuple(-k for k in self.clusters_per_team),
            self.budget_units,
            -self.budget_deviation,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "floors_met": list(self.floors_met),
            "equivalents": [_dec_str(e) for e in self.equivalents],
            "clusters_per_team": list(self.clusters_per_team),
            "budget_units": self.budget_units,
            "budget_deviation": _dec_str(self.budget_deviation),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ObjectiveValue:
        return cls(
            floors_met=tuple(bool(m) for m in data["floors_met"]),
            equivalents=tuple(Decimal(e) for e in data["equivalents"]),
            clusters_per_team=tuple(data["clusters_per_team"]),
            budget_units=data["budget_units"],
            budget_deviation=Decimal(data["budget_deviation"]),
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class AllocationResult:
    """A proposed allocation: teams in rank order, clusters by id, and the objective reached."""

    teams: tuple[TeamAllocation, ...]
    clusters: tuple[ClusterUsage, ...]
    objective: ObjectiveValue
    node_size: int
    floor_gpus: int
    budget_envelope: int
    budget_allocated: int
    budget_unallocated: int
    inputs_digest: str
    policy_version: str = POLICY_VERSION
    method: str = "policy"

    def team(self, team_id: int) -> TeamAllocation:
        for allocation in self.teams:
            if allocation.team_id == team_id:
                return allocation
        raise KeyError(team_id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "policy_version": self.policy_version,
            "method": self.method,
            "inputs_digest": self.inputs_digest,
            "node_size": self.node_size,
            "floor_gpus": self.floor_gpus,
            "budget_envelope": self.budget_envelope,
            "budget_allocated": self.budget_allocated,
            "budget_unallocated": self.budget_unallocated,
            "objective": self.objective.to_dict(),
            "teams": [t.to_dict() for t in self.teams],
            "clusters": [c.to_dict() for c in self.clusters],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AllocationResult:
        return cls(
            teams=tuple(TeamAllocation.from_dict(t) for t in data["teams"]),
            clusters=tuple(ClusterUsage.from_dict(c) for c in data["clusters"]),
            objective=ObjectiveValue.from_dict(data["objective"]),
            node_size=data["node_size"],
            floor_gpus=data["floor_gpus"],
            budget_envelope=data["budget_envelope"],
            budget_allocated=data["budget_allocated"],
            budget_unallocated=data["budget_unallocated"],
            inputs_digest=data["inputs_digest"],
            policy_version=data["policy_version"],
            method=data.get("method", "policy"),
        )


# --------------------------------------------------------------------------------------------
# Canonical inputs and their digest
# --------------------------------------------------------------------------------------------


def inputs_to_dict(teams: Iterable[Team], clusters: Iterable[Cluster], settings: PolicySettings) -> dict[str, Any]:
    """The inputs as JSON-friendly data, teams and clusters sorted by id (input order is irrelevant)."""
    return {
        "policy_version": POLICY_VERSION,
        "teams": [t.to_dict() for t in sorted(teams, key=lambda t: t.id)],
        "clusters": [c.to_dict() for c in sorted(clusters, key=lambda c: c.id)],
        "settings": settings.to_dict(),
    }


def inputs_from_dict(data: Mapping[str, Any]) -> tuple[tuple[Team, ...], tuple[Cluster, ...], PolicySettings]:
    """Inverse of :func:`inputs_to_dict`."""
    return (
        tuple(Team.from_dict(t) for t in data["teams"]),
        tuple(Cluster.from_dict(c) for c in data["clusters"]),
        PolicySettings.from_dict(data["settings"]),
    )


def canonical_inputs_json(teams: Iterable[Team], clusters: Iterable[Cluster], settings: PolicySettings) -> str:
    """The inputs as canonical JSON: sorted keys and ids, no spaces, Decimals as normalised strings.

    The same text as ``json.dumps(inputs_to_dict(...), sort_keys=True, separators=(",", ":"),
    ensure_ascii=False)``; each team's object is written directly (keys in sorted order) rather than
    built as a dictionary first, as there may be thousands of them."""

    def dumps(value: Any) -> str:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def team_json(t: Team) -> str:
        members = dumps(list(t.gpu_supplier_members)) if t.gpu_supplier_members else "[]"
        ties = dumps([tie.to_dict() for tie in t.tie_breaks]) if t.tie_breaks else "[]"
        # ints are written as json writes them (digits); a score's canonical text is digits, "." and "-" only.
        return (
            f'{{"gpu_supplier":{"true" if t.gpu_supplier else "false"},"gpu_supplier_members":{members},'
            f'"id":{t.id:d},"rank":{t.rank:d},'
            f'"requested_budget":{t.requested_budget:d},"requested_gpus":{t.requested_gpus:d},'
            f'"score":"{_dec_str(t.score)}","tie_breaks":{ties}}}'
        )

    return (
        f'{{"clusters":{dumps([c.to_dict() for c in sorted(clusters, key=lambda c: c.id)])},'
        f'"policy_version":{dumps(POLICY_VERSION)},"settings":{dumps(settings.to_dict())},'
        f'"teams":[{",".join(team_json(t) for t in sorted(teams, key=lambda t: t.id))}]}}'
    )


def inputs_digest(teams: Iterable[Team], clusters: Iterable[Cluster], settings: PolicySettings) -> str:
    """Hex SHA-256 of :func:`canonical_inputs_json` (UTF-8)."""
    return hashlib.sha256(canonical_inputs_json(teams, clusters, settings).encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------------------------
# Preparation shared by the policy, the baseline and the objective
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Prepared:
    teams: tuple[Team, ...]  # rank order
    clusters: tuple[Cluster, ...]  # id order
    settings: PolicySettings
    node_size: int
    pool_nodes: int
    limit_gpus: tuple[int, ...]  # min(request, cap), 0 for suppliers; rank order
    limit_nodes: tuple[int, ...]
    floor_size: int  # F, in nodes
    floors: tuple[int, ...]  # f_i in nodes (0 for ineligible teams)


def _rank_key(team: Team) -> tuple[int, int]:
    return (team.rank, team.id)


def floor_nodes(*, pool_nodes: int, eligible_teams: int, share: Decimal) -> int:
    """The floor ``F`` in nodes: ``max(1, floor(share x pool_nodes / eligible_teams))``, 0 if share is 0."""
    if share <= 0 or eligible_teams == 0:
        return 0
    return max(1, math.floor(Fraction(share) * pool_nodes / eligible_teams))


def _prepare(teams: Iterable[Team], clusters: Iterable[Cluster], settings: PolicySettings) -> _Prepared:
    if not isinstance(settings, PolicySettings):
        raise PolicyInputError("settings must be a PolicySettings.")
    ordered = tuple(sorted(teams, key=_rank_key))
    pool = tuple(sorted(clusters, key=lambda c: c.id))
    for kind, items in (("team", ordered), ("cluster", pool)):
        ids = [item.id for item in items]
        if len(set(ids)) != len(ids):
            duplicates = sorted({i for i in ids if ids.count(i) > 1})
            raise PolicyInputError(f"Duplicate {kind} ids: {duplicates}.")
    sizes = sorted({c.gpus_per_node for c in pool})
    if len(sizes) > 1:
        raise PolicyInputError(
            "All clusters of a pool must have the same number of GPUs per node (found "
            + ", ".join(str(s) for s in sizes)
            + "): requests are made in whole nodes of the pool's node size."
        )
    node_size = sizes[0] if sizes else DEFAULT_GPUS_PER_NODE
    cap = settings.per_team_gpu_cap
    limit_gpus = tuple(0 if t.gpu_supplier else min(t.requested_gpus, cap) for t in ordered)
    limit_nodes = tuple(g // node_size for g in limit_gpus)
    pool_nodes = sum(c.nodes for c in pool)
    eligible = sum(1 for n in limit_nodes if n > 0)
    size = floor_nodes(pool_nodes=pool_nodes, eligible_teams=eligible, share=settings.gpu_floor_share)
    floors = tuple(min(n, size) for n in limit_nodes)
    return _Prepared(ordered, pool, settings, node_size, pool_nodes, limit_gpus, limit_nodes, size, floors)


# --------------------------------------------------------------------------------------------
# GPUs: G1 floors and G2 rank priority (node counts), then dealing nodes by value
# --------------------------------------------------------------------------------------------


def _node_counts(prep: _Prepared) -> tuple[list[int], list[bool]]:
    """G1 and G2 counts: floors in rank order (skipping what no longer fits), then top-ups in rank order."""
    remaining = prep.pool_nodes
    counts = [0] * len(prep.teams)
    floor_met = [not floor for floor in prep.floors]  # a team without a floor has nothing to miss
    for i, floor in enumerate(prep.floors):
        if floor and floor <= remaining:
            counts[i] = floor
            floor_met[i] = True
            remaining -= floor
    for i, limit in enumerate(prep.limit_nodes):
        if not remaining:
            break
        extra = min(limit - counts[i], remaining)
        counts[i] += extra
        remaining -= extra
    return counts, floor_met


def _tiers(pool: Sequence[Cluster]) -> list[list[Cluster]]:
    """Clusters with nodes, grouped by equivalence, best first; each group in id order."""
    tiers: list[list[Cluster]] = []
    for cluster in sorted((c for c in pool if c.nodes), key=lambda c: (-c.equivalence, c.id)):
        if tiers and tiers[-1][0].equivalence == cluster.equivalence:
            tiers[-1].append(cluster)
        else:
            tiers.append([cluster])
    return tiers


def _cut_key(cuts: tuple[int, ...], sentinel: int) -> tuple[int, ...]:
    """Order multisets of cut team positions like count vectors compared lexicographically (fewer cuts of
    higher-ranked teams first): larger first position is better, a prefix beats its extensions."""
    return tuple(-c for c in cuts) + (sentinel,)


def _order_tier(shares: Sequence[tuple[int, int]], tier: Sequence[Cluster], sentinel: int) -> list[Cluster]:
    """G3 for one tier: the order of clusters that, filled with ``shares`` (team position, nodes) in rank
    order, cuts the fewest higher-ranked teams. Exact dynamic programme over how many clusters of each size
    have been laid out; ties go to larger clusters first, then lower ids."""
    by_size = sorted(tier, key=lambda c: (-c.nodes, c.id))
    if len(by_size) == 1:
        return by_size
    demand = sum(s for _, s in shares)
    if demand == 0:
        return by_size
    bounds = [0]
    owners = []
    for position, share in shares:
        owners.append(position)
        bounds.append(bounds[-1] + share)
    boundary = set(bounds)
    sizes: list[int] = []
    groups: list[list[Cluster]] = []
    for cluster in by_size:
        if sizes and sizes[-1] == cluster.nodes:
            groups[-1].append(cluster)
        else:
            sizes.append(cluster.nodes)
            groups.append([cluster])
    limits = [len(g) for g in groups]
    # state -> (comparison key, cuts, sequence of size indices, prefix nodes)
    start = (0,) * len(sizes)
    layer: dict[tuple[int, ...], tuple[tuple[tuple[int, ...], tuple[int, ...]], tuple[int, ...], int]] = {
        start: ((_cut_key((), sentinel), ()), (), 0)
    }
    for _ in range(len(by_size)):
        following: dict[tuple[int, ...], tuple[tuple[tuple[int, ...], tuple[int, ...]], tuple[int, ...], int]] = {}
        for state, ((_, sequence), cuts, prefix) in layer.items():
            for k, size in enumerate(sizes):
                if state[k] == limits[k]:
                    continue
                nxt = state[:k] + (state[k] + 1,) + state[k + 1 :]
                end = prefix + size
                new_cuts = cuts
                if 0 < end < demand and end not in boundary:
                    new_cuts = tuple(sorted(cuts + (owners[bisect_right(bounds, end) - 1],)))
                candidate = ((_cut_key(new_cuts, sentinel), sequence + (k,)), new_cuts, end)
                if nxt not in following or candidate[0] < following[nxt][0]:
                    following[nxt] = candidate
        layer = following
    ((_, sequence), _, _) = layer[tuple(limits)]
    used = [0] * len(sizes)
    order = []
    for k in sequence:
        order.append(groups[k][used[k]])
        used[k] += 1
    return order


#: The layout search of one tier stops after this many steps (a step tries one placement of one
#: team). Small tiers finish far inside it and are then laid out optimally; see :func:`_layout_tier`.
LAYOUT_SEARCH_STEPS = 20_000
#: Tiers with more clusters than this are not searched (the search keeps a table of 2**clusters
#: loads); they keep the best rank-ordered layout.
LAYOUT_SEARCH_MAX_CLUSTERS = 10


@dataclass(frozen=True, slots=True)
class _TierLayout:
    """The layout of one tier: for each share (rank order), cluster id -> nodes.

    ``proven``: no layout of these shares into these clusters has a better key (:func:`_layout_key`);
    False when the search stopped at its bound (the layout is then the best one it found, never worse
    than the best rank-ordered layout)."""

    pieces: list[dict[int, int]]
    proven: bool


def _layout_key(pieces: Sequence[Mapping[int, int]], whole: Sequence[bool]) -> tuple[int, tuple[int, ...]]:
    """(teams split inside the tier that are in no other tier, clusters per share in rank order): smaller is better."""
    counts = tuple(len(p) for p in pieces)
    return sum(1 for k, w in zip(counts, whole, strict=True) if w and k > 1), counts


def _fill_in_order(shares: Sequence[tuple[int, int]], order: Sequence[Cluster]) -> list[dict[int, int]]:
    """Lay the shares out in rank order over the clusters in ``order``, one cluster after another."""
    pieces: list[dict[int, int]] = [{} for _ in shares]
    c, room = 0, order[0].nodes
    for j, (_, share) in enumerate(shares):
        need = share
        while need:
            while not room:
                c += 1
                room = order[c].nodes
            take = min(need, room)
            pieces[j][order[c].id] = pieces[j].get(order[c].id, 0) + take
            need -= take
            room -= take
    return pieces


def _route(sizes: Sequence[int], supports: Sequence[int], bins: Sequence[Cluster]) -> list[dict[int, int]]:
    """Whole nodes for each share inside its support (a bit mask over ``bins``), every cluster within capacity.

    The supports satisfy Hall's condition, so a transport exists: shares with one cluster are placed
    directly, the others by augmenting paths (share -> cluster, back along a cluster's other shares)."""
    left = [b.nodes for b in bins]
    x: list[dict[int, int]] = [{} for _ in sizes]
    multi = []
    for j, mask in enumerate(supports):
        if mask & (mask - 1):
            multi.append(j)
        else:
            b = mask.bit_length() - 1
            x[j][b] = sizes[j]
            left[b] -= sizes[j]
    members = [[b for b in range(len(bins)) if mask >> b & 1] for mask in supports]
    for j in multi:
        need = sizes[j]
        while need:
            # BFS from share j over (share -> cluster in its support) and (cluster -> share holding nodes there).
            parent: dict[tuple[str, int], tuple[str, int] | None] = {("s", j): None}
            queue, end = [("s", j)], None
            for kind, v in queue:
                if kind == "s":
                    for b in members[v]:
                        if ("b", b) not in parent:
                            parent[("b", b)] = (kind, v)
                            if left[b] > 0:
                                end = ("b", b)
                                break
                            queue.append(("b", b))
                    if end:
                        break
                else:
                    for k in multi:
                        if x[k].get(v) and ("s", k) not in parent:
                            parent[("s", k)] = (kind, v)
                            queue.append(("s", k))
            if end is None:  # pragma: no cover -- Hall's condition was checked
                raise AssertionError("layout supports admit no transport")
            path = [end]
            while parent[path[-1]] is not None:
                path.append(parent[path[-1]])
            path.reverse()  # s j, b, s, b, ..., b end
            amount = min(need, left[end[1]])
            for a in range(2, len(path) - 1, 2):  # cluster path[a-1] gives back nodes of share path[a]
                amount = min(amount, x[path[a][1]][path[a - 1][1]])
            for a in range(0, len(path) - 1, 2):
                share, cluster = path[a][1], path[a + 1][1]
                x[share][cluster] = x[share].get(cluster, 0) + amount
                if a:
                    back = path[a - 1][1]
                    x[share][back] -= amount
                    if not x[share][back]:
                        del x[share][back]
            left[end[1]] -= amount
            need -= amount
    _cancel_cycles(x, multi)
    return [{bins[b].id: n for b, n in sorted(p.items())} for p in x]


def _cancel_cycles(x: list[dict[int, int]], multi: Sequence[int]) -> None:
    """Remove every cycle share-cluster-share-... from the layout of the split shares: moving nodes
    around a cycle keeps every share's total and every cluster's load, and empties at least one piece.
    The pieces then form a forest, so ``clusters - 1`` boundaries bound the extra pieces of a tier."""
    while True:
        cycle = _find_cycle(x, multi)
        if cycle is None:
            return
        # cycle: [(share, cluster), ...] alternating "+" and "-" edges, starting with a "-" edge.
        amount = min(x[s][b] for s, b in cycle[0::2])
        for k, (s, b) in enumerate(cycle):
            x[s][b] = x[s].get(b, 0) + (amount if k % 2 else -amount)
            if not x[s][b]:
                del x[s][b]


def _find_cycle(x: list[dict[int, int]], multi: Sequence[int]) -> list[tuple[int, int]] | None:
    """A cycle of pieces among shares with several pieces, as edges (share, cluster) in cycle order."""
    edges = [(s, b) for s in multi for b in sorted(x[s])]
    adjacency: dict[tuple[str, int], list[tuple[str, int]]] = {}
    for s, b in edges:
        adjacency.setdefault(("s", s), []).append(("b", b))
        adjacency.setdefault(("b", b), []).append(("s", s))
    seen: dict[tuple[str, int], tuple[str, int] | None] = {}
    for root in adjacency:
        if root in seen:
            continue
        seen[root] = None
        stack = [(root, None)]
        while stack:
            node, via = stack.pop()
            for other in adjacency[node]:
                if other == via:
                    continue
                if other in seen:
                    # Found a cycle: walk both ends up to their common ancestor.
                    up_a, a = [node], node
                    while seen[a] is not None:
                        a = seen[a]
                        up_a.append(a)
                    up_b, b = [other], other
                    while seen[b] is not None:
                        b = seen[b]
                        up_b.append(b)
                    common = next(n for n in up_a if n in set(up_b))
                    path = up_a[: up_a.index(common) + 1] + list(reversed(up_b[: up_b.index(common)]))
                    nodes = path  # node ... common ... other, closed by the edge other-node
                    cycle = []
                    for k in range(len(nodes)):
                        p, q = nodes[k], nodes[(k + 1) % len(nodes)]
                        share, cluster = (p[1], q[1]) if p[0] == "s" else (q[1], p[1])
                        cycle.append((share, cluster))
                    return cycle
                seen[other] = node
                stack.append((other, node))
    return None


def _layout_tier(shares: Sequence[tuple[int, int]], whole: Sequence[bool], tier: Sequence[Cluster]) -> _TierLayout:
    """G3 for one tier: among all layouts of ``shares`` (team position, nodes) into the tier's clusters, one
    with the fewest split teams, then the fewest clusters for each team in rank order (:func:`_layout_key`).

    A layout is described by each share's *support*, the set of clusters it uses; a set of supports can be
    filled exactly when Hall's condition holds: for every set ``T`` of clusters, the shares whose support
    lies inside ``T`` need no more than ``T`` holds. The search is a depth-first branch and bound over the
    shares in rank order, smaller supports first, keeping that condition for every ``T`` (a table of
    ``2**clusters`` loads) and pruning any partial layout that cannot beat the best one found. It starts from
    the best rank-ordered layout (:func:`_order_tier`), so it is never worse than that; identical clusters
    not used yet are interchangeable, and only the first of them is tried. If it finishes within
    ``LAYOUT_SEARCH_STEPS`` the result is optimal (``proven``)."""
    by_size = sorted(tier, key=lambda c: (-c.nodes, c.id))
    sentinel = -(max((p for p, _ in shares), default=0) + 2)
    incumbent = _fill_in_order(shares, _order_tier(shares, by_size, sentinel))
    if len(by_size) == 1:
        return _TierLayout(incumbent, True)
    best_key = _layout_key(incumbent, whole)
    if best_key[0] == 0 and all(k == 1 for k in best_key[1]):
        return _TierLayout(incumbent, True)
    k_bins = len(by_size)
    if k_bins > LAYOUT_SEARCH_MAX_CLUSTERS:
        return _TierLayout(incumbent, False)
    sizes = [s for _, s in shares]
    m = len(sizes)
    full = (1 << k_bins) - 1
    cap = [0] * (full + 1)
    for mask in range(1, full + 1):
        low = mask & -mask
        cap[mask] = cap[mask ^ low] + by_size[low.bit_length() - 1].nodes
    load = [0] * (full + 1)
    candidates = sorted(
        range(1, full + 1), key=lambda mask: (mask.bit_count(), [not mask >> b & 1 for b in range(k_bins)])
    )
    # The fewest clusters each share needs (its largest clusters first): a lower bound for the search.
    capacities = [c.nodes for c in by_size]
    least = []
    for s in sizes:
        total, k = 0, 0
        while total < s:
            total += capacities[k]
            k += 1
        least.append(max(k, 1))
    forced_after = [0] * (m + 1)  # whole shares after j that cannot sit in one cluster
    for j in range(m - 1, -1, -1):
        forced_after[j] = forced_after[j + 1] + (1 if whole[j] and least[j] > 1 else 0)
    same_before = [[p for p in range(b) if capacities[p] == capacities[b]] for b in range(k_bins)]
    best_splits, best_vector = best_key
    best_supports: list[int] | None = None
    tail_equal = [False] * (m + 1)  # best_vector[j:] == least[j:]

    def refresh_tail() -> None:
        tail_equal[m] = True
        for j in range(m - 1, -1, -1):
            tail_equal[j] = tail_equal[j + 1] and best_vector[j] == least[j]

    refresh_tail()
    chosen = [0] * m
    order_state = [0] * (m + 1)  # comparison of the prefix with best_vector: -1 below, 0 equal, 1 above
    next_candidate = [0] * m
    used = [0] * k_bins  # shares using each cluster
    splits, j, steps = 0, 0, 0
    finished = True
    while j >= 0:
        if j == m:
            vector = tuple(mask.bit_count() for mask in chosen)
            # Every complete layout reached here beats the best so far (the bound prunes the others).
            best_splits, best_vector, best_supports = splits, vector, list(chosen)
            refresh_tail()
            for k in range(m):
                order_state[k + 1] = 0  # the current path now is the best: equal everywhere
            j -= 1
            _unplace(chosen, j, sizes, load, used, full)
            splits -= 1 if whole[j] and chosen[j].bit_count() > 1 else 0
            chosen[j] = 0
            continue
        placed = False
        idx = next_candidate[j]
        while idx < len(candidates):
            mask = candidates[idx]
            idx += 1
            steps += 1
            width = mask.bit_count()
            new_splits = splits + (1 if whole[j] and width > 1 else 0)
            state = order_state[j] or ((width > best_vector[j]) - (width < best_vector[j]))
            bound_splits = new_splits + forced_after[j + 1]
            if bound_splits > best_splits or (
                bound_splits == best_splits and (state > 0 or (state == 0 and tail_equal[j + 1]))
            ):
                break  # wider supports only make the bound worse
            if width < least[j] or any(
                not used[b] and any(not used[p] and not mask >> p & 1 for p in same_before[b])
                for b in range(k_bins)
                if mask >> b & 1
            ):
                continue
            if _place(mask, sizes[j], load, cap, full):
                chosen[j] = mask
                for b in range(k_bins):
                    if mask >> b & 1:
                        used[b] += 1
                splits = new_splits
                order_state[j + 1] = state
                next_candidate[j] = idx
                placed = True
                break
        if steps > LAYOUT_SEARCH_STEPS:
            finished = False
            break
        if placed:
            j += 1
            if j < m:
                next_candidate[j] = 0
            continue
        next_candidate[j] = 0
        j -= 1
        if j >= 0:
            splits -= 1 if whole[j] and chosen[j].bit_count() > 1 else 0
            _unplace(chosen, j, sizes, load, used, full)
            chosen[j] = 0
    if best_supports is None:
        return _TierLayout(incumbent, finished)
    return _TierLayout(_route(sizes, best_supports, by_size), finished)


def _place(mask: int, size: int, load: list[int], cap: Sequence[int], full: int) -> bool:
    """Add a share of ``size`` with support ``mask`` if Hall's condition still holds for every cluster set."""
    t = mask
    while t <= full:
        load[t] += size
        if load[t] > cap[t]:
            u = mask
            while u <= t:
                load[u] -= size
                u = (u + 1) | mask
            return False
        t = (t + 1) | mask
    return True


def _unplace(chosen: Sequence[int], j: int, sizes: Sequence[int], load: list[int], used: list[int], full: int) -> None:
    mask, size = chosen[j], sizes[j]
    t = mask
    while t <= full:
        load[t] -= size
        t = (t + 1) | mask
    for b in range(len(used)):
        if mask >> b & 1:
            used[b] -= 1


def _deal(prep: _Prepared, counts: Sequence[int]) -> tuple[list[dict[int, int]], list[list[TierNote]]]:
    """Deal value-sorted nodes to teams in rank order (G2), laying each tier out by G3.

    Returns each team's nodes per cluster and, per team, a note on every tier it holds nodes in."""
    tiers = _tiers(prep.clusters)
    shares: list[list[tuple[int, int]]] = [[] for _ in tiers]
    t, left = 0, (sum(c.nodes for c in tiers[0]) if tiers else 0)
    for position, count in enumerate(counts):
        need = count
        while need:
            while not left:
                t += 1
                left = sum(c.nodes for c in tiers[t])
            take = min(need, left)
            shares[t].append((position, take))
            need -= take
            left -= take
    tiers_of = [0] * len(counts)
    for tier_shares in shares:
        for position, _ in tier_shares:
            tiers_of[position] += 1
    grants: list[dict[int, int]] = [{} for _ in counts]
    notes: list[list[TierNote]] = [[] for _ in counts]
    for tier, tier_shares in zip(tiers, shares, strict=True):
        if not tier_shares:
            continue
        layout = _layout_tier(tier_shares, [tiers_of[p] == 1 for p, _ in tier_shares], tier)
        models = " / ".join(dict.fromkeys(c.gpu_model for c in sorted(tier, key=lambda c: (-c.nodes, c.id))))
        largest = max(c.nodes for c in tier)
        proven = layout.proven
        for (position, share), pieces in zip(tier_shares, layout.pieces, strict=True):
            if tiers_of[position] == 1:
                grants[position] = pieces  # the team's only tier: its pieces are its grants
            else:
                held = grants[position]
                for cluster_id, nodes in pieces.items():
                    held[cluster_id] = held.get(cluster_id, 0) + nodes
            notes[position].append(TierNote(models, share, len(pieces), largest, proven))
    return grants, notes


# --------------------------------------------------------------------------------------------
# Data budget: B1 and B2
# --------------------------------------------------------------------------------------------


def _check_envelope(prep: _Prepared) -> None:
    settings, n = prep.settings, len(prep.teams)
    need = n * settings.budget_min
    if need > settings.budget_envelope:
        params = {
            "envelope": settings.budget_envelope,
            "teams": n,
            "budget_min": settings.budget_min,
            "required": need,
            "shortfall": need - settings.budget_envelope,
        }
        message_en, message_ko = explain.envelope_below_minimum(**params)
        raise PolicyInfeasible(
            code="envelope_below_minimum", params=params, message_en=message_en, message_ko=message_ko
        )


def _budget_ceilings(prep: _Prepared) -> list[int]:
    s = prep.settings
    return [min(max(t.requested_budget, s.budget_min), s.budget_max) for t in prep.teams]


def _integer_weights(teams: Sequence[Team]) -> list[int]:
    """Scores scaled to integers by one common factor (which changes neither the optimum nor any
    comparison below): each score times the least common multiple of their denominators."""
    ratios = [t.score.as_integer_ratio() for t in teams]
    common = math.lcm(*(d for _, d in ratios)) if ratios else 1
    return [n * (common // d) for n, d in ratios]


def _budget_units(prep: _Prepared) -> tuple[list[int], list[int]]:
    """Units above the minimum per team (rank order) and the per-team ceilings in units.

    B1: ``T = min(R, sum of ceilings of positive-score teams)`` units are given. B2: the first ``T`` units
    in the order of cost ``(2k - 1) / w`` (ties to the higher-ranked team) — start from the rounded
    continuous water level, then repair with a heap.
    """
    s = prep.settings
    unit = s.budget_unit
    ceilings = [(c - s.budget_min) // unit for c in _budget_ceilings(prep)]
    weights = _integer_weights(prep.teams)
    available = (s.budget_envelope - len(prep.teams) * s.budget_min) // unit
    active = [i for i, (w, c) in enumerate(zip(weights, ceilings, strict=True)) if w > 0 and c > 0]
    units = [0] * len(prep.teams)
    if sum(ceilings[i] for i in active) <= available:
        for i in active:
            units[i] = ceilings[i]
        return units, ceilings
    # Continuous water-filling: x_i = min(c_i, level * w_i) with sum x_i = available.
    level_units, level_weight = available, sum(weights[i] for i in active)
    # NOTE: the order only needs to be right for speed, not for exactness: the comparisons below are exact,
    # and whatever level they produce, the rounded vector is a prefix of the unit order that the heap repairs.
    for i in sorted(active, key=lambda i: ceilings[i] / weights[i]):
        if ceilings[i] * level_weight <= level_units * weights[i]:
            level_units -= ceilings[i]
            level_weight -= weights[i]
        else:
            break
    p, q = level_units, level_weight  # level = p / q; round to the nearest unit, halves up
    total = 0
    for i in active:
        units[i] = min(ceilings[i], (2 * p * weights[i] + q) // (2 * q))
        total += units[i]
    # The unit order compares costs (2k +- 1) / w exactly. Two different costs with denominators of at
    # most W differ by at least 1 / W**2, so with M = W**2 + 1 the integer floor((2k +- 1) * M / w)
    # orders them as the fractions do and maps equal costs to equal integers: exact, without Fraction.
    scale = max((weights[i] for i in active), default=1) ** 2 + 1
    if total < available:
        heap = [((2 * units[i] + 1) * scale // weights[i], i) for i in active if units[i] < ceilings[i]]
        heapq.heapify(heap)
        for _ in range(available - total):
            _, i = heapq.heappop(heap)
            units[i] += 1
            if units[i] < ceilings[i]:
                heapq.heappush(heap, ((2 * units[i] + 1) * scale // weights[i], i))
    elif total > available:
        heap = [(-((2 * units[i] - 1) * scale // weights[i]), -i) for i in active if units[i] > 0]
        heapq.heapify(heap)
        for _ in range(total - available):
            _, minus_i = heapq.heappop(heap)
            i = -minus_i
            units[i] -= 1
            if units[i] > 0:
                heapq.heappush(heap, (-((2 * units[i] - 1) * scale // weights[i]), -i))
    return units, ceilings


# --------------------------------------------------------------------------------------------
# Explanations: which bindings apply, with their figures (the sentences: policy_explain.py)
# --------------------------------------------------------------------------------------------


class _NeighbourTable:
    """:class:`Neighbours` of any team (rank order), from prefix sums built in one pass; a team's
    entry is made only when its explanation needs it."""

    __slots__ = ("nodes_before", "served_before", "held_before", "holders_before", "group_start", "group_end")

    def __init__(self, prep: _Prepared, counts: Sequence[int], floor_met: Sequence[bool]) -> None:
        n = len(prep.teams)
        nodes_before, served_before, held_before, holders_before = [0], [0], [0], [0]
        for j in range(n):
            held = prep.floors[j] if floor_met[j] else 0
            nodes_before.append(nodes_before[-1] + counts[j])
            served_before.append(served_before[-1] + (1 if counts[j] else 0))
            held_before.append(held_before[-1] + held)
            holders_before.append(holders_before[-1] + (1 if held else 0))
        group_start, group_end = [0] * n, [0] * n
        start = 0
        while start < n:
            end = start
            while end < n and prep.teams[end].rank == prep.teams[start].rank:
                end += 1
            for i in range(start, end):
                group_start[i], group_end[i] = start, end
            start = end
        self.nodes_before, self.served_before = nodes_before, served_before
        self.held_before, self.holders_before = held_before, holders_before
        self.group_start, self.group_end = group_start, group_end

    def __getitem__(self, i: int) -> Neighbours:
        start, end = self.group_start[i], self.group_end[i]
        nodes, served, held, holders = self.nodes_before, self.served_before, self.held_before, self.holders_before
        last = len(nodes) - 1
        return Neighbours(
            higher_nodes=nodes[start],
            same_before_nodes=nodes[i] - nodes[start],
            same_before_teams=served[i] - served[start],
            lower_reserved_nodes=held[last] - held[end],
            lower_reserved_teams=holders[last] - holders[end],
            same_reserved_nodes=held[end] - held[i + 1],
            same_reserved_teams=holders[end] - holders[i + 1],
        )


def _neighbours(prep: _Prepared, counts: Sequence[int], floor_met: Sequence[bool]) -> _NeighbourTable:
    """:class:`Neighbours` of every team (rank order), indexed by position."""
    return _NeighbourTable(prep, counts, floor_met)


def _rank_bindings(team: Team) -> tuple[Binding, ...]:
    """How the team's place among equal phase scores was settled, if it shares its score."""
    if not team.tie_breaks:
        return ()
    score = _dec_str(team.score)
    render = partial(explain.rank_tie, rank=team.rank, score=score, ties=team.tie_breaks)
    return (_lazy("rank_tie", render, tied=len(team.tie_breaks)),)


def _gpu_bindings(
    prep: _Prepared,
    i: int,
    counts: Sequence[int],
    floor_met: Sequence[bool],
    grants: Mapping[int, int],
    names: Mapping[int, str],
    tier_notes: Sequence[TierNote],
    neighbours: _NeighbourTable,
) -> tuple[Binding, ...]:
    team, g, cap = prep.teams[i], prep.node_size, prep.settings.per_team_gpu_cap
    granted = counts[i] * g
    if team.gpu_supplier:
        members = ", ".join(team.gpu_supplier_members)
        return (_lazy("supplier", partial(explain.supplier, members=members), members=members),)
    if team.requested_gpus == 0:
        return (_lazy("no_request", explain.no_request),)
    limit = prep.limit_gpus[i]
    limited_by = "team_cap" if team.requested_gpus > cap else "request"
    if prep.limit_nodes[i] == 0:
        render = partial(explain.below_one_node, node_size=g, limited_by=limited_by, cap=cap, limit=limit)
        return (_lazy("below_one_node", render, limit_gpus=limit, node_size=g, limited_by=limited_by),)
    out: list[Binding] = []
    rounded = prep.limit_nodes[i] * g
    requested = team.requested_gpus
    if counts[i] == prep.limit_nodes[i]:
        if limited_by == "team_cap":
            render = partial(explain.team_cap, cap=cap, requested=requested)
            out.append(_lazy("team_cap", render, cap=cap, requested=requested, granted=granted))
        else:
            render = partial(explain.request, requested=requested)
            out.append(_lazy("request", render, requested=requested, granted=granted))
    if rounded < limit and counts[i] == prep.limit_nodes[i]:
        render = partial(explain.node_rounding, node_size=g, limit=limit, rounded=rounded)
        out.append(_lazy("node_rounding", render, limit_gpus=limit, rounded_gpus=rounded, node_size=g))
    if counts[i] < prep.limit_nodes[i]:
        floor_gpus = prep.floors[i] * g
        if floor_met[i] and prep.floors[i] and counts[i] == prep.floors[i]:
            share = prep.settings.gpu_floor_share
            render = partial(
                explain.floor, floor_gpus=floor_gpus, floor_size_gpus=prep.floor_size * g, floor_share=share
            )
            out.append(_lazy("floor", render, floor_gpus=floor_gpus, floor_share=_dec_str(share)))
        elif not floor_met[i]:
            out.append(_lazy("no_floor", partial(explain.no_floor, floor_gpus=floor_gpus), floor_gpus=floor_gpus))
        around = neighbours[i]
        out.append(
            _lazy(
                "pool_exhausted",
                partial(explain.pool_exhausted, granted=granted, rounded=rounded, around=around, node_size=g),
                granted=granted,
                limit_gpus=rounded,
                higher_ranked_gpus=around.higher_nodes * g,
                same_rank_gpus=around.same_before_nodes * g,
                reserved_gpus=(around.lower_reserved_nodes + around.same_reserved_nodes) * g,
                reserved_teams=around.lower_reserved_teams + around.same_reserved_teams,
            )
        )
    if len(grants) > 1:
        render = partial(explain.split, grants=grants, names=names, notes=tier_notes, node_size=g)
        out.append(_lazy("split", render, clusters=len(grants)))
    return tuple(out)


def _budget_bindings(
    prep: _Prepared, i: int, budget: int, ceiling: int, units: int, ceiling_units: int
) -> tuple[Binding, ...]:
    team, s = prep.teams[i], prep.settings
    request = team.requested_budget
    out: list[Binding] = []
    if units == ceiling_units:
        if request < s.budget_min:
            render = partial(explain.budget_below_min, requested=request, budget_min=s.budget_min)
            out.append(_lazy("budget_below_min", render, requested=request, budget_min=s.budget_min))
        elif request > s.budget_max:
            render = partial(explain.budget_max, requested=request, budget_max=s.budget_max)
            out.append(_lazy("budget_max", render, requested=request, budget_max=s.budget_max))
        else:
            out.append(_lazy("budget_request", partial(explain.budget_request, requested=request), requested=request))
        if budget < ceiling:
            render = partial(explain.budget_rounding, unit=s.budget_unit, ceiling=ceiling, budget=budget)
            out.append(_lazy("budget_rounding", render, ceiling=ceiling, budget=budget, unit=s.budget_unit))
    elif team.score == 0:
        out.append(_lazy("zero_score", partial(explain.zero_score, budget_min=s.budget_min), budget_min=s.budget_min))
    else:
        score = _dec_str(team.score)
        render = partial(
            explain.envelope,
            envelope=s.budget_envelope,
            budget_min=s.budget_min,
            score=score,
            unit=s.budget_unit,
            budget=budget,
            ceiling=ceiling,
        )
        out.append(
            _lazy(
                "envelope",
                render,
                envelope=s.budget_envelope,
                score=score,
                budget=budget,
                ceiling=ceiling,
                unit=s.budget_unit,
            )
        )
    return tuple(out)


# --------------------------------------------------------------------------------------------
# Assembling results and the objective
# --------------------------------------------------------------------------------------------


def _grants_tuple(grants: Mapping[int, int], node_size: int) -> tuple[Grant, ...]:
    return tuple(Grant(cluster_id=c, nodes=n, gpus=n * node_size) for c, n in sorted(grants.items()) if n)


def _equivalents(grants: Iterable[Grant], equivalence: Mapping[int, Decimal]) -> Decimal:
    return sum((g.gpus * equivalence[g.cluster_id] for g in grants), Decimal(0))


def _usage(prep: _Prepared, allocations: Iterable[TeamAllocation]) -> tuple[ClusterUsage, ...]:
    used: dict[int, int] = {c.id: 0 for c in prep.clusters}
    for allocation in allocations:
        for grant in allocation.grants:
            used[grant.cluster_id] += grant.nodes
    g = prep.node_size
    return tuple(
        ClusterUsage(
            cluster_id=c.id,
            capacity_nodes=c.nodes,
            used_nodes=used[c.id],
            free_nodes=c.nodes - used[c.id],
            used_gpus=used[c.id] * g,
            free_gpus=(c.nodes - used[c.id]) * g,
        )
        for c in prep.clusters
    )


def _objective(
    prep: _Prepared, allocations: Sequence[TeamAllocation], *, in_rank_order: bool = False
) -> ObjectiveValue:
    if in_rank_order:
        ordered = allocations
    else:
        by_id = {a.team_id: a for a in allocations}
        ordered = [by_id[t.id] for t in prep.teams]
    s = prep.settings
    units_total = 0
    with localcontext() as context:
        context.prec = 60
        deviation = Decimal(0)
        for team, allocation in zip(prep.teams, ordered, strict=True):
            if team.score > 0:
                whole, rest = divmod(allocation.budget - s.budget_min, s.budget_unit)
                # a whole number of units (always, for the policy's budgets) needs no division
                units = Decimal(whole) if not rest else Decimal(allocation.budget - s.budget_min) / s.budget_unit
                units_total += int(units)
                deviation += units * units / team.score
        deviation = deviation.quantize(_DEVIATION_QUANTUM)
    return ObjectiveValue(
        floors_met=tuple(a.total_gpus >= f * prep.node_size for a, f in zip(ordered, prep.floors, strict=True)),
        equivalents=tuple(a.total_equivalents for a in ordered),
        clusters_per_team=tuple(len(a.grants) for a in ordered),
        budget_units=units_total,
        budget_deviation=deviation,
    )


def evaluate_objective(
    result: AllocationResult, teams: Iterable[Team], clusters: Iterable[Cluster], settings: PolicySettings
) -> ObjectiveValue:
    """The objective value of any allocation of these inputs (the policy's own, the baseline's, a test's)."""
    return _objective(_prepare(teams, clusters, settings), result.teams)


def _result(prep: _Prepared, allocations: list[TeamAllocation], method: str) -> AllocationResult:
    s = prep.settings
    allocated = sum(a.budget for a in allocations)
    return AllocationResult(
        teams=tuple(allocations),
        clusters=_usage(prep, allocations),
        objective=_objective(prep, allocations, in_rank_order=True),
        node_size=prep.node_size,
        floor_gpus=prep.floor_size * prep.node_size,
        budget_envelope=s.budget_envelope,
        budget_allocated=allocated,
        budget_unallocated=s.budget_envelope - allocated,
        inputs_digest=inputs_digest(prep.teams, prep.clusters, s),
        method=method,
    )


class _Explainer:
    """What the reasons of every team are worked out from, kept by the result until they are read."""

    def __init__(
        self,
        prep: _Prepared,
        counts: Sequence[int],
        floor_met: Sequence[bool],
        dealt: Sequence[Mapping[int, int]],
        notes: Sequence[Sequence[TierNote]],
        budget_units: tuple[Sequence[int], Sequence[int]],
        ceilings: Sequence[int],
    ) -> None:
        self.prep, self.counts, self.floor_met, self.dealt, self.notes = prep, counts, floor_met, dealt, notes
        self.units, self.ceiling_units = budget_units
        self.ceilings = ceilings
        self.names = {c.id: c.name for c in prep.clusters}
        self._neighbours: _NeighbourTable | None = None

    @property
    def neighbours(self) -> _NeighbourTable:
        if self._neighbours is None:
            self._neighbours = _neighbours(self.prep, self.counts, self.floor_met)
        return self._neighbours

    def bindings(self, i: int, budget: int) -> tuple[tuple[Binding, ...], tuple[Binding, ...]]:
        prep = self.prep
        team = prep.teams[i]
        gpu = _gpu_bindings(
            prep, i, self.counts, self.floor_met, self.dealt[i], self.names, self.notes[i], self.neighbours
        )
        if team.tie_breaks:
            gpu = _rank_bindings(team) + gpu
        return gpu, _budget_bindings(prep, i, budget, self.ceilings[i], self.units[i], self.ceiling_units[i])


def allocate(teams: Iterable[Team], clusters: Iterable[Cluster], settings: PolicySettings) -> AllocationResult:
    """Allocate GPUs and data budgets to ``teams`` by the policy in this module's docstring.

    Raises :class:`PolicyInfeasible` if the envelope cannot give every team the budget minimum, and
    :class:`PolicyInputError` if the inputs are malformed. The result does not depend on input order.
    """
    prep = _prepare(teams, clusters, settings)
    _check_envelope(prep)
    counts, floor_met = _node_counts(prep)
    dealt, notes = _deal(prep, counts)
    units, ceiling_units = _budget_units(prep)
    ceilings = _budget_ceilings(prep)
    equivalence = {c.id: c.equivalence for c in prep.clusters}
    explainer = _Explainer(prep, counts, floor_met, dealt, notes, (units, ceiling_units), ceilings)
    node_size, budget_min, budget_unit = prep.node_size, settings.budget_min, settings.budget_unit
    # Teams holding the same nodes of the same clusters share one (immutable) grants tuple and its sum.
    same_grants: dict[tuple[tuple[int, int], ...], tuple[tuple[Grant, ...], Decimal]] = {}
    allocations: list[TeamAllocation] = []
    explained_later = TeamAllocation._explained_later
    for i, team in enumerate(prep.teams):
        pieces = dealt[i]
        key = tuple(sorted(pieces.items())) if len(pieces) > 1 else tuple(pieces.items())
        known = same_grants.get(key)
        if known is None:
            grants = _grants_tuple(pieces, node_size)
            known = same_grants[key] = (grants, _equivalents(grants, equivalence))
        grants, equivalents = known
        budget = budget_min + units[i] * budget_unit
        allocations.append(
            explained_later((team.id, team.rank, grants, counts[i] * node_size, equivalents, budget), explainer, i)
        )
    return _result(prep, allocations, "policy")


def greedy_allocate(teams: Iterable[Team], clusters: Iterable[Cluster], settings: PolicySettings) -> AllocationResult:
    """A first-come-first-served baseline that keeps the hard rules but has no objective.

    In rank order, each team takes its limit in whole nodes from the clusters in id order, as much
    as each has left; every team gets the budget minimum, then in rank order each positive-score
    team takes its ceiling from what is left of the envelope. Used by tests and the benchmark.
    """
    prep = _prepare(teams, clusters, settings)
    _check_envelope(prep)
    s, g = prep.settings, prep.node_size
    left = {c.id: c.nodes for c in prep.clusters}
    remaining = (s.budget_envelope - len(prep.teams) * s.budget_min) // s.budget_unit
    ceilings = [(c - s.budget_min) // s.budget_unit for c in _budget_ceilings(prep)]
    equivalence = {c.id: c.equivalence for c in prep.clusters}
    note = _binding("baseline", *explain.baseline())
    allocations: list[TeamAllocation] = []
    for i, team in enumerate(prep.teams):
        need = prep.limit_nodes[i]
        taken: dict[int, int] = {}
        for cluster in prep.clusters:
            take = min(need, left[cluster.id])
            if take:
                taken[cluster.id] = take
                left[cluster.id] -= take
                need -= take
        units = min(ceilings[i], remaining) if team.score > 0 else 0
        remaining -= units
        grants = _grants_tuple(taken, g)
        allocations.append(
            TeamAllocation(
                team_id=team.id,
                rank=team.rank,
                grants=grants,
                total_gpus=sum(x.gpus for x in grants),
                total_equivalents=_equivalents(grants, equivalence),
                budget=s.budget_min + units * s.budget_unit,
                gpu_bindings=(note,),
                budget_bindings=(),
            )
        )
    return _result(prep, allocations, "greedy")
