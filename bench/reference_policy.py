"""REFERENCE COPY, frozen: ``gpu_allocation/policy.py`` as it was before its explanations became
lazy and its budget order stopped using ``Fraction``. Used only by ``bench/bench_policy.py`` (speed
on the same instances in the same run) and ``tests/gpu_allocation/test_policy_reference.py``
(identical results on random pools). Do not edit (its Korean amount wording alone is the portal's,
``portal/formatting.py``); the portal never imports it.

GPU and data-budget allocation policy (SPEC §6): a pure core, no database, no Django.

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
"""

from __future__ import annotations

import hashlib
import heapq
import json
import math
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation, localcontext
from fractions import Fraction
from typing import Any

from portal.formatting import krw, krw_korean

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


def _num(value: int) -> str:
    return f"{value:,}"


def _krw_en(amount: int) -> str:
    return f"{amount:,} KRW"


def _krw_ko(amount: int) -> str:
    """``4,512,000,000원(45억 1,200만 원)`` — the figure, and the reading Korean readers expect.

    NOTE: the one part of this copy that follows the portal: amounts are read in the portal's
    KRW wording, so the comparison with the policy is about the algorithm, not the wording."""
    return f"{krw(amount)}({krw_korean(amount)})"


def _share_text(share: Decimal) -> str:
    return f"{_dec_str(share * 100)}%"


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


@dataclass(frozen=True, slots=True)
class Binding:
    """One limit that shaped a team's result: a machine code with parameters, and two sentences."""

    code: str
    params: tuple[tuple[str, int | str], ...]
    en: str
    ko: str

    @property
    def params_dict(self) -> dict[str, int | str]:
        return dict(self.params)

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "params": dict(self.params), "en": self.en, "ko": self.ko}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Binding:
        return cls(code=data["code"], params=tuple(sorted(data["params"].items())), en=data["en"], ko=data["ko"])


def _binding(code: str, en: str, ko: str, **params: int | str) -> Binding:
    return Binding(code=code, params=tuple(sorted(params.items())), en=en, ko=ko)


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


@dataclass(frozen=True, kw_only=True, slots=True)
class TeamAllocation:
    """One team's GPUs (grants ordered by cluster id) and data budget, with the reasons."""

    team_id: int
    rank: int
    grants: tuple[Grant, ...]
    total_gpus: int
    total_equivalents: Decimal
    budget: int
    gpu_bindings: tuple[Binding, ...]
    budget_bindings: tuple[Binding, ...]

    @property
    def bindings(self) -> tuple[Binding, ...]:
        return self.gpu_bindings + self.budget_bindings

    @property
    def explanation_en(self) -> str:
        return " ".join(b.en for b in self.bindings)

    @property
    def explanation_ko(self) -> str:
        return " ".join(b.ko for b in self.bindings)

    def to_dict(self) -> dict[str, Any]:
        return {
            "team_id": self.team_id,
            "rank": self.rank,
            "grants": [g.to_dict() for g in self.grants],
            "total_gpus": self.total_gpus,
            "total_equivalents": _dec_str(self.total_equivalents),
            "budget": self.budget,
            "gpu_bindings": [b.to_dict() for b in self.gpu_bindings],
            "budget_bindings": [b.to_dict() for b in self.budget_bindings],
            "explanation_en": self.explanation_en,
            "explanation_ko": self.explanation_ko,
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
    """The inputs as canonical JSON: sorted keys and ids, no spaces, Decimals as normalised strings."""
    return json.dumps(
        inputs_to_dict(teams, clusters, settings), sort_keys=True, separators=(",", ":"), ensure_ascii=False
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


@dataclass(frozen=True, slots=True)
class _TierNote:
    """What a team's explanation needs about one tier it holds nodes in."""

    models: str  # the GPU models of the tier's clusters, e.g. "H100"
    nodes: int  # the team's share of the tier
    clusters: int  # clusters of the tier it uses
    largest: int  # nodes of the tier's largest cluster
    proven: bool  # the tier's layout is optimal (the search finished)


def _deal(prep: _Prepared, counts: Sequence[int]) -> tuple[list[dict[int, int]], list[list[_TierNote]]]:
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
    notes: list[list[_TierNote]] = [[] for _ in counts]
    for tier, tier_shares in zip(tiers, shares, strict=True):
        if not tier_shares:
            continue
        layout = _layout_tier(tier_shares, [tiers_of[p] == 1 for p, _ in tier_shares], tier)
        models = " / ".join(dict.fromkeys(c.gpu_model for c in sorted(tier, key=lambda c: (-c.nodes, c.id))))
        largest = max(c.nodes for c in tier)
        for (position, share), pieces in zip(tier_shares, layout.pieces, strict=True):
            for cluster_id, nodes in pieces.items():
                grants[position][cluster_id] = grants[position].get(cluster_id, 0) + nodes
            notes[position].append(_TierNote(models, share, len(pieces), largest, layout.proven))
    return grants, notes


# --------------------------------------------------------------------------------------------
# Data budget: B1 and B2
# --------------------------------------------------------------------------------------------


def _check_envelope(prep: _Prepared) -> None:
    settings, n = prep.settings, len(prep.teams)
    need = n * settings.budget_min
    if need > settings.budget_envelope:
        short = need - settings.budget_envelope
        raise PolicyInfeasible(
            code="envelope_below_minimum",
            params={
                "envelope": settings.budget_envelope,
                "teams": n,
                "budget_min": settings.budget_min,
                "required": need,
                "shortfall": short,
            },
            message_en=(
                f"The data-budget envelope of {_krw_en(settings.budget_envelope)} cannot give each of the {n} active "
                f"teams the minimum of {_krw_en(settings.budget_min)}: that needs {_krw_en(need)}, "
                f"{_krw_en(short)} more. Raise the envelope or lower the minimum, then run the allocation again."
            ),
            message_ko=(
                f"데이터 예산 총액 {_krw_ko(settings.budget_envelope)}으로는 활동 중인 {n}개 팀에 팀당 최소 "
                f"{_krw_ko(settings.budget_min)}을 줄 수 없습니다. 필요한 금액은 {_krw_ko(need)}으로 "
                f"{_krw_ko(short)}이 부족합니다. 총액을 늘리거나 최소액을 낮춘 뒤 배분을 다시 실행하십시오."
            ),
        )


def _budget_ceilings(prep: _Prepared) -> list[int]:
    s = prep.settings
    return [min(max(t.requested_budget, s.budget_min), s.budget_max) for t in prep.teams]


def _integer_weights(teams: Sequence[Team]) -> list[int]:
    """Scores scaled to integers by one common power of ten (which does not change the optimum)."""
    parts = [t.score.as_tuple() for t in teams]
    low = min((p.exponent for p in parts), default=0)
    return [int("".join(map(str, p.digits))) * 10 ** (p.exponent - low) for p in parts]


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
    if total < available:
        heap = [(Fraction(2 * units[i] + 1, weights[i]), i) for i in active if units[i] < ceilings[i]]
        heapq.heapify(heap)
        for _ in range(available - total):
            _, i = heapq.heappop(heap)
            units[i] += 1
            if units[i] < ceilings[i]:
                heapq.heappush(heap, (Fraction(2 * units[i] + 1, weights[i]), i))
    elif total > available:
        heap = [(-Fraction(2 * units[i] - 1, weights[i]), -i) for i in active if units[i] > 0]
        heapq.heapify(heap)
        for _ in range(total - available):
            _, minus_i = heapq.heappop(heap)
            i = -minus_i
            units[i] -= 1
            if units[i] > 0:
                heapq.heappush(heap, (-Fraction(2 * units[i] - 1, weights[i]), -i))
    return units, ceilings


# --------------------------------------------------------------------------------------------
# Explanations
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Neighbours:
    """Nodes held before and reserved after a team, split by whether the other teams rank above it
    (below it) or share its rank, so that no sentence calls a team of the same rank higher-ranked."""

    higher_nodes: int  # teams with a better rank
    same_before_nodes: int  # teams of the same rank placed before it (by team id)
    same_before_teams: int
    lower_reserved_nodes: int  # floors held by teams with a worse rank
    lower_reserved_teams: int
    same_reserved_nodes: int  # floors held by teams of the same rank placed after it
    same_reserved_teams: int


def _neighbours(prep: _Prepared, counts: Sequence[int], floor_met: Sequence[bool]) -> list[_Neighbours]:
    """:class:`_Neighbours` of every team (rank order), from prefix sums in one pass."""
    n = len(prep.teams)
    nodes_before, served_before, held_before, holders_before = [0], [0], [0], [0]
    for j in range(n):
        held = prep.floors[j] if floor_met[j] else 0
        nodes_before.append(nodes_before[-1] + counts[j])
        served_before.append(served_before[-1] + (1 if counts[j] else 0))
        held_before.append(held_before[-1] + held)
        holders_before.append(holders_before[-1] + (1 if held else 0))
    out: list[_Neighbours] = []
    start = 0
    while start < n:
        end = start
        while end < n and prep.teams[end].rank == prep.teams[start].rank:
            end += 1
        for i in range(start, end):
            out.append(
                _Neighbours(
                    higher_nodes=nodes_before[start],
                    same_before_nodes=nodes_before[i] - nodes_before[start],
                    same_before_teams=served_before[i] - served_before[start],
                    lower_reserved_nodes=held_before[n] - held_before[end],
                    lower_reserved_teams=holders_before[n] - holders_before[end],
                    same_reserved_nodes=held_before[end] - held_before[i + 1],
                    same_reserved_teams=holders_before[end] - holders_before[i + 1],
                )
            )
        start = end
    return out


def _teams_en(n: int) -> str:
    return f"{n} team{'s' if n != 1 else ''}"


def _pool_exhausted(granted: int, rounded: int, around: _Neighbours, g: int) -> Binding:
    en = f"The pool ran out: it received {_num(granted)} of the {_num(rounded)} GPUs it could take."
    ko = f"GPU 풀이 소진되어 받을 수 있는 {_num(rounded)}개 중 {_num(granted)}개를 받았습니다."
    if around.higher_nodes:
        en += f" Higher-ranked teams come first and hold {_num(around.higher_nodes * g)} GPUs."
        ko += f" 상위 순위 팀이 먼저 {_num(around.higher_nodes * g)}개를 받았습니다."
    if around.same_before_nodes:
        en += (
            f" {_teams_en(around.same_before_teams)} sharing its rank "
            f"{'come' if around.same_before_teams != 1 else 'comes'} before it by team number and "
            f"{'hold' if around.same_before_teams != 1 else 'holds'} {_num(around.same_before_nodes * g)} GPUs."
        )
        ko += (
            f" 같은 순위의 {around.same_before_teams}개 팀이 팀 번호 순으로 먼저 "
            f"{_num(around.same_before_nodes * g)}개를 받았습니다."
        )
    if around.lower_reserved_nodes:
        en += (
            f" {_num(around.lower_reserved_nodes * g)} GPUs are held as the floors of "
            f"{around.lower_reserved_teams} lower-ranked team{'s' if around.lower_reserved_teams != 1 else ''}."
        )
        ko += (
            f" 하위 순위 {around.lower_reserved_teams}개 팀의 최소 보장 물량으로 "
            f"{_num(around.lower_reserved_nodes * g)}개를 남겨 두었습니다."
        )
    if around.same_reserved_nodes:
        en += (
            f" {_num(around.same_reserved_nodes * g)} GPUs are held as the floors of "
            f"{_teams_en(around.same_reserved_teams)} sharing its rank."
        )
        ko += (
            f" 같은 순위 {around.same_reserved_teams}개 팀의 최소 보장 물량으로 "
            f"{_num(around.same_reserved_nodes * g)}개를 남겨 두었습니다."
        )
    return _binding(
        "pool_exhausted",
        en,
        ko,
        granted=granted,
        limit_gpus=rounded,
        higher_ranked_gpus=around.higher_nodes * g,
        same_rank_gpus=around.same_before_nodes * g,
        reserved_gpus=(around.lower_reserved_nodes + around.same_reserved_nodes) * g,
        reserved_teams=around.lower_reserved_teams + around.same_reserved_teams,
    )


def _split_binding(grants: Mapping[int, int], names: Mapping[int, str], notes: Sequence[_TierNote], g: int) -> Binding:
    """Why a team's GPUs sit in several clusters: each sentence part is one fact that holds for the result."""
    listed = ", ".join(names[c] for c in sorted(grants))
    en = [f"Its GPUs are spread over {len(grants)} clusters ({listed})."]
    ko = [f"배정 물량이 {len(grants)}개 클러스터({listed})에 나뉘어 있습니다."]
    if len(notes) > 1:
        parts = " and ".join(f"{_num(n.nodes * g)} {n.models}" for n in notes)
        parts_ko = ", ".join(f"{n.models} {_num(n.nodes * g)}개" for n in notes)
        en.append(
            f"Its share of the best remaining GPUs is made of GPUs of different value ({parts}), "
            "which sit in different clusters."
        )
        ko.append(
            f"남은 GPU 중 가장 좋은 것부터 받은 몫이 서로 다른 등급의 GPU({parts_ko})로 이루어져 클러스터가 다릅니다."
        )
    for n in notes:
        if n.clusters < 2:
            continue
        if n.nodes > n.largest:
            en.append(
                f"Its {_num(n.nodes * g)} {n.models} GPUs are more than the largest {n.models} cluster holds "
                f"({_num(n.largest * g)})."
            )
            ko.append(
                f"받은 {n.models} {_num(n.nodes * g)}개가 가장 큰 {n.models} 클러스터({_num(n.largest * g)}개)보다 많습니다."
            )
        if n.proven:
            en.append(
                f"Among the {n.models} clusters, no layout that gives every team the same GPUs splits fewer teams, "
                f"and none that splits as few puts it in fewer than {n.clusters} of them without putting a team "
                "before it in rank order into more of them."
            )
            ko.append(
                f"{n.models} 클러스터에서는 모든 팀에 같은 GPU를 주는 배치 가운데 나뉘는 팀이 더 적은 배치가 없고, 나뉘는 팀 수가 "
                f"같은 배치에서는 순위상 앞선 팀을 더 많은 클러스터에 나누지 않고서는 이 팀을 {n.clusters}개보다 적은 "
                "클러스터에 둘 수 없습니다."
            )
        else:
            en.append(
                f"Among the {n.models} clusters, the layout search (bounded for pools this large) found no layout that "
                f"gives every team the same GPUs and splits fewer teams, nor one that splits as few and puts it in fewer "
                f"than {n.clusters} of them without putting a team before it in rank order into more of them."
            )
            ko.append(
                f"{n.models} 클러스터의 배치 탐색(큰 풀에서는 탐색 범위를 제한합니다)에서 모든 팀에 같은 GPU를 주면서 나뉘는 팀이 "
                f"더 적거나, 나뉘는 팀 수가 같으면서 순위상 앞선 팀을 더 나누지 않고 이 팀을 {n.clusters}개보다 적은 클러스터에 두는 배치를 찾지 못했습니다."
            )
    return _binding("split", " ".join(en), " ".join(ko), clusters=len(grants))


def _rank_bindings(team: Team) -> tuple[Binding, ...]:
    """One sentence on how the team's place among equal phase scores was settled, if it shares its score."""
    if not team.tie_breaks:
        return ()
    score = _dec_str(team.score)
    en_parts, ko_parts = [], []
    for tie in team.tie_breaks:
        if tie.other_rank > team.rank:
            side_en, side_ko = "it ranks above", "앞 순위입니다"
        elif tie.other_rank < team.rank:
            side_en, side_ko = "it ranks below", "뒤 순위입니다"
        else:
            side_en, side_ko = "they share the rank", "같은 순위입니다"
        if tie.by == "criterion":
            en_parts.append(
                f"against {tie.other}, the tie-break criterion {tie.criterion} decided (mean {tie.own_mean} against "
                f"{tie.other_mean}), so {side_en}"
            )
            ko_parts.append(
                f"{tie.other}와는 동점 처리 기준 {tie.criterion}의 평균({tie.own_mean} 대 {tie.other_mean})으로 정해져 "
                f"{side_ko}"
            )
        elif tie.by == "officer":
            en_parts.append(
                f"against {tie.other}, the tie-break criteria could not separate them and an officer's recorded "
                f"decision set the order (reason: {tie.reason}), so {side_en}"
            )
            ko_parts.append(
                f"{tie.other}와는 동점 처리 기준으로 가릴 수 없어 담당관의 기록된 결정(사유: {tie.reason})으로 정해져 "
                f"{side_ko}"
            )
        else:
            en_parts.append(f"against {tie.other}, the order is not decided yet")
            ko_parts.append(f"{tie.other}와의 순서는 아직 정해지지 않았습니다")
    n = len(team.tie_breaks)
    return (
        _binding(
            "rank_tie",
            f"Rank {team.rank}: its phase score of {score} equals that of {n} other application{'s' if n != 1 else ''}; "
            + "; ".join(en_parts)
            + ".",
            f"{team.rank}위: 단계 평가 점수 {score}점이 다른 {n}개 신청과 같습니다. " + "; ".join(ko_parts) + ".",
            tied=n,
        ),
    )


def _gpu_bindings(
    prep: _Prepared,
    i: int,
    counts: Sequence[int],
    floor_met: Sequence[bool],
    grants: Mapping[int, int],
    names: Mapping[int, str],
    tier_notes: Sequence[_TierNote],
    around: _Neighbours,
) -> tuple[Binding, ...]:
    team, g, cap = prep.teams[i], prep.node_size, prep.settings.per_team_gpu_cap
    granted = counts[i] * g
    if team.gpu_supplier:
        members = ", ".join(team.gpu_supplier_members)
        who_en = (
            f"a member organisation of this team's consortium ({members})"
            if members
            else ("a member organisation of this team's consortium")
        )
        who_ko = f"이 팀 컨소시엄의 참여 기관({members})" if members else "이 팀 컨소시엄의 참여 기관"
        return (
            _binding(
                "supplier",
                f"It receives no GPUs: {who_en} is flagged as a GPU supplier to the programme, and under the "
                "programme's rule a team receives no GPUs while any of its member organisations supplies GPUs.",
                f"GPU를 배정하지 않습니다. {who_ko}이 사업의 GPU 공급 기관으로 지정되어 있으며, 사업 규칙에 따라 "
                "참여 기관 중 하나라도 GPU를 공급하는 동안에는 그 팀에 GPU를 배정하지 않습니다.",
                members=members,
            ),
        )
    if team.requested_gpus == 0:
        return (_binding("no_request", "The team requested no GPUs.", "이 팀은 GPU를 요청하지 않았습니다."),)
    limit = prep.limit_gpus[i]
    limited_by = "team_cap" if team.requested_gpus > cap else "request"
    if prep.limit_nodes[i] == 0:
        what_en = (
            f"the per-team cap of {_num(cap)} GPUs"
            if limited_by == "team_cap"
            else f"its request of {_num(limit)} GPUs"
        )
        what_ko = f"팀당 상한 {_num(cap)}개" if limited_by == "team_cap" else f"요청한 {_num(limit)}개"
        return (
            _binding(
                "below_one_node",
                f"GPUs are granted in whole nodes of {g}, and {what_en} is less than one node, so it receives none.",
                f"GPU는 {g}개짜리 노드 단위로만 배정하는데 {what_ko}가 노드 1개보다 적어 배정하지 않습니다.",
                limit_gpus=limit,
                node_size=g,
                limited_by=limited_by,
            ),
        )
    out: list[Binding] = []
    rounded = prep.limit_nodes[i] * g
    if counts[i] == prep.limit_nodes[i]:
        if limited_by == "team_cap":
            out.append(
                _binding(
                    "team_cap",
                    f"Limited by the per-team cap of {_num(cap)} GPUs (it requested {_num(team.requested_gpus)}).",
                    f"팀당 상한인 {_num(cap)}개까지 배정했습니다(요청 {_num(team.requested_gpus)}개).",
                    cap=cap,
                    requested=team.requested_gpus,
                    granted=granted,
                )
            )
        else:
            out.append(
                _binding(
                    "request",
                    f"Limited by its own request of {_num(team.requested_gpus)} GPUs.",
                    f"자체 요청량인 GPU {_num(team.requested_gpus)}개까지 배정했습니다.",
                    requested=team.requested_gpus,
                    granted=granted,
                )
            )
    if rounded < limit and counts[i] == prep.limit_nodes[i]:
        out.append(
            _binding(
                "node_rounding",
                f"GPUs are granted in whole nodes of {g}, so its limit of {_num(limit)} GPUs is rounded down to {_num(rounded)}.",
                f"GPU는 {g}개짜리 노드 단위로만 배정하므로 한도 {_num(limit)}개를 {_num(rounded)}개로 내림했습니다.",
                limit_gpus=limit,
                rounded_gpus=rounded,
                node_size=g,
            )
        )
    if counts[i] < prep.limit_nodes[i]:
        floor_gpus = prep.floors[i] * g
        if floor_met[i] and prep.floors[i] and counts[i] == prep.floors[i]:
            out.append(
                _binding(
                    "floor",
                    f"It holds its guaranteed floor of {_num(floor_gpus)} GPUs: every eligible team is first given up to "
                    f"{_num(prep.floor_size * g)} GPUs ({_share_text(prep.settings.gpu_floor_share)} of an equal share of the pool).",
                    f"최소 보장 물량 {_num(floor_gpus)}개를 받았습니다. 모든 대상 팀에는 먼저 최대 {_num(prep.floor_size * g)}개"
                    f"(풀 균등 배분량의 {_share_text(prep.settings.gpu_floor_share)})를 보장합니다.",
                    floor_gpus=floor_gpus,
                    floor_share=_dec_str(prep.settings.gpu_floor_share),
                )
            )
        elif not floor_met[i]:
            out.append(
                _binding(
                    "no_floor",
                    f"The pool is too small to give every eligible team its floor of {_num(floor_gpus)} GPUs; floors go to "
                    "teams in rank order (teams sharing a rank by team number), and a floor is never taken from a team "
                    "before it in that order.",
                    f"GPU 풀이 모든 대상 팀에 최소 보장 물량({_num(floor_gpus)}개)을 주기에 부족합니다. 최소 보장은 순위 순서(같은 "
                    "순위는 팀 번호 순)로 배정하며, 앞선 팀의 몫을 줄여 뒤의 팀에 주지 않습니다.",
                    floor_gpus=floor_gpus,
                )
            )
        out.append(_pool_exhausted(granted, rounded, around, g))
    if len(grants) > 1:
        out.append(_split_binding(grants, names, tier_notes, g))
    return tuple(out)


def _budget_bindings(
    prep: _Prepared, i: int, budget: int, ceiling: int, units: int, ceiling_units: int
) -> tuple[Binding, ...]:
    team, s = prep.teams[i], prep.settings
    request = team.requested_budget
    out: list[Binding] = []
    if units == ceiling_units:
        if request < s.budget_min:
            out.append(
                _binding(
                    "budget_below_min",
                    f"Data budget: its request of {_krw_en(request)} is below the per-team minimum, so it receives the "
                    f"minimum of {_krw_en(s.budget_min)}.",
                    f"데이터 예산: 요청액 {_krw_ko(request)}이 팀당 최소액보다 적어 최소액 {_krw_ko(s.budget_min)}을 받습니다.",
                    requested=request,
                    budget_min=s.budget_min,
                )
            )
        elif request > s.budget_max:
            out.append(
                _binding(
                    "budget_max",
                    f"Data budget: limited by the per-team maximum of {_krw_en(s.budget_max)} (it requested {_krw_en(request)}).",
                    f"데이터 예산: 팀당 최대액인 {_krw_ko(s.budget_max)}까지 배정했습니다(요청액 {_krw_ko(request)}).",
                    requested=request,
                    budget_max=s.budget_max,
                )
            )
        else:
            out.append(
                _binding(
                    "budget_request",
                    f"Data budget: received its request of {_krw_en(request)}.",
                    f"데이터 예산: 요청액 {_krw_ko(request)}을 받았습니다.",
                    requested=request,
                )
            )
        if budget < ceiling:
            out.append(
                _binding(
                    "budget_rounding",
                    f"Budgets above the minimum move in whole units of {_krw_en(s.budget_unit)}, so {_krw_en(ceiling)} "
                    f"is rounded down to {_krw_en(budget)}.",
                    f"최소액을 넘는 예산은 {_krw_ko(s.budget_unit)} 단위로 배정하므로 {_krw_ko(ceiling)}을 "
                    f"{_krw_ko(budget)}으로 내림했습니다.",
                    ceiling=ceiling,
                    budget=budget,
                    unit=s.budget_unit,
                )
            )
    elif team.score == 0:
        out.append(
            _binding(
                "zero_score",
                f"Data budget: with a phase score of 0 it receives the minimum of {_krw_en(s.budget_min)} only.",
                f"데이터 예산: 단계 평가 점수가 0점이어서 최소액 {_krw_ko(s.budget_min)}만 받습니다.",
                budget_min=s.budget_min,
            )
        )
    else:
        out.append(
            _binding(
                "envelope",
                f"Data budget: the envelope of {_krw_en(s.budget_envelope)} is shared out. Every team first gets the minimum "
                f"of {_krw_en(s.budget_min)}; the rest goes in proportion to phase scores (this team: "
                f"{_dec_str(team.score)}), capped at each team's request, in whole units of {_krw_en(s.budget_unit)}. "
                f"It receives {_krw_en(budget)} of the {_krw_en(ceiling)} it could take.",
                f"데이터 예산: 총액 {_krw_ko(s.budget_envelope)}을 나눕니다. 모든 팀이 먼저 최소액 {_krw_ko(s.budget_min)}을 "
                f"받고, 나머지는 요청액을 넘지 않는 범위에서 단계 평가 점수(이 팀: {_dec_str(team.score)}점)에 비례하여 "
                f"{_krw_ko(s.budget_unit)} 단위로 나눕니다. 받을 수 있는 {_krw_ko(ceiling)} 중 {_krw_ko(budget)}을 받습니다.",
                envelope=s.budget_envelope,
                score=_dec_str(team.score),
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


def _objective(prep: _Prepared, allocations: Sequence[TeamAllocation]) -> ObjectiveValue:
    by_id = {a.team_id: a for a in allocations}
    ordered = [by_id[t.id] for t in prep.teams]
    s = prep.settings
    units_total = 0
    with localcontext() as context:
        context.prec = 60
        deviation = Decimal(0)
        for team, allocation in zip(prep.teams, ordered, strict=True):
            if team.score > 0:
                units = Decimal(allocation.budget - s.budget_min) / s.budget_unit
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
        objective=_objective(prep, allocations),
        node_size=prep.node_size,
        floor_gpus=prep.floor_size * prep.node_size,
        budget_envelope=s.budget_envelope,
        budget_allocated=allocated,
        budget_unallocated=s.budget_envelope - allocated,
        inputs_digest=inputs_digest(prep.teams, prep.clusters, s),
        method=method,
    )


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
    names = {c.id: c.name for c in prep.clusters}
    around = _neighbours(prep, counts, floor_met)
    allocations: list[TeamAllocation] = []
    for i, team in enumerate(prep.teams):
        grants = _grants_tuple(dealt[i], prep.node_size)
        budget = settings.budget_min + units[i] * settings.budget_unit
        allocations.append(
            TeamAllocation(
                team_id=team.id,
                rank=team.rank,
                grants=grants,
                total_gpus=counts[i] * prep.node_size,
                total_equivalents=_equivalents(grants, equivalence),
                budget=budget,
                gpu_bindings=_rank_bindings(team)
                + _gpu_bindings(prep, i, counts, floor_met, dealt[i], names, notes[i], around[i]),
                budget_bindings=_budget_bindings(prep, i, budget, ceilings[i], units[i], ceiling_units[i]),
            )
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
    note = _binding(
        "baseline",
        "Baseline for comparison: teams in rank order each take what they ask for until the pool and envelope run out.",
        "비교용 기준 배분: 순위대로 각 팀이 요청한 만큼 가져가며, GPU 풀과 예산이 소진되면 멈춥니다.",
    )
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
