"""The allocation policy gives the same results as the reference copy kept by the benchmark.

``bench/reference_policy.py`` is the policy as it was before its explanations became lazy and its
budget order stopped using ``Fraction``. On random pools (ties in rank, suppliers, tie-break
records, zero scores, pools too small for the floors, tiers of several clusters, large layouts)
both give the same ``to_dict()`` — every grant, budget, binding code, parameter and sentence — and
the same refusals. A result's sentences are built only when read.
"""

from __future__ import annotations

import pickle
import random
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from gpu_allocation import policy

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import reference_policy as reference  # noqa: E402 (bench/ must be on the path first)

BILLION = 1_000_000_000
EQUIVALENCES = [Decimal(2), Decimal("1.2"), Decimal(1), Decimal(1), Decimal("0.5")]
MODELS = {Decimal(2): "B200", Decimal("1.2"): "H200", Decimal(1): "H100", Decimal("0.5"): "A100"}


def random_inputs(rng: random.Random, max_teams: int) -> dict:
    """Random inputs as data (``inputs_to_dict`` form), so each module builds its own objects."""
    node_size = rng.choice([4, 8])
    clusters = []
    for c in range(1, rng.randint(1, 6) + 1):
        equivalence = rng.choice(EQUIVALENCES)
        clusters.append(
            {
                "id": c * 3,
                "name": f"클러스터 {c}",
                "gpu_model": MODELS[equivalence],
                "nodes": rng.randint(0, 40),
                "gpus_per_node": node_size,
                "equivalence": str(equivalence),
            }
        )
    n = rng.randint(0, max_teams)
    ids = rng.sample(range(1, 10 * max_teams + 10), n)
    teams = []
    for position, team_id in enumerate(ids):
        rank = rng.randint(1, max(1, n)) if rng.random() < 0.3 else position + 1
        score = Decimal(rng.randint(0, 10_000)) / rng.choice([1, 10, 100]) if rng.random() > 0.05 else Decimal(0)
        ties = []
        for _ in range(rng.choice([0, 0, 0, 1, 2])):
            by = rng.choice(["criterion", "officer", "undecided"])
            ties.append(
                {
                    "other": f"Team {rng.randint(1, 99)}",
                    "other_rank": rng.randint(1, max(1, n)),
                    "by": by,
                    "criterion": "기술성" if by == "criterion" else "",
                    "own_mean": "81.25" if by == "criterion" else "",
                    "other_mean": "80.5" if by == "criterion" else "",
                    "reason": "발표 평가 결과" if by == "officer" else "",
                }
            )
        supplier = rng.random() < 0.08
        teams.append(
            {
                "id": team_id,
                "rank": rank,
                "score": str(score),
                "requested_gpus": rng.choice([0, 3, 8, 64, 100, 128, 256, 512, 800, 1000, 1200]),
                "requested_budget": rng.randint(0, 7_000) * 1_000_000 + rng.choice([0, 1, 499_999]),
                "gpu_supplier": supplier,
                "gpu_supplier_members": ["한빛전자"] if supplier and rng.random() < 0.5 else [],
                "tie_breaks": ties,
            }
        )
    budget_min = rng.choice([0, 1, 3]) * BILLION
    settings = {
        "budget_envelope": max(0, n * budget_min + rng.randint(-BILLION, 2 * n * BILLION + 1)),
        "per_team_gpu_cap": rng.choice([0, 64, 500, 1000]),
        "budget_min": budget_min,
        "budget_max": budget_min + rng.choice([0, 1, 2]) * BILLION,
        "budget_unit": rng.choice([1, 1_000, 1_000_000, 250_000_000]),
        "gpu_floor_share": rng.choice(["0", "0.25", "0.5", "1"]),
    }
    return {"policy_version": policy.POLICY_VERSION, "teams": teams, "clusters": clusters, "settings": settings}


def outcome(module, data: dict) -> dict:
    try:
        return module.allocate(*module.inputs_from_dict(data)).to_dict()
    except module.PolicyError as exc:
        return {"refused": type(exc).__name__, "detail": exc.to_dict() if hasattr(exc, "to_dict") else str(exc)}


@pytest.mark.parametrize("seed", range(400))
def test_same_results_as_the_reference_on_random_pools(seed):
    rng = random.Random(seed)
    data = random_inputs(rng, max_teams=rng.choice([3, 8, 25, 120]))
    assert outcome(policy, data) == outcome(reference, data)


@pytest.mark.parametrize("seed", range(3))
def test_same_results_as_the_reference_on_large_pools(seed):
    data = random_inputs(random.Random(10_000 + seed), max_teams=3_000)
    assert outcome(policy, data) == outcome(reference, data)


def test_sentences_are_built_only_when_read():
    teams = [
        policy.Team(id=i, rank=i, score=Decimal(90 - i), requested_gpus=800, requested_budget=5 * BILLION)
        for i in range(1, 6)
    ]
    clusters = [policy.Cluster(id=1, name="H100 cluster", gpu_model="H100", nodes=100)]
    result = policy.allocate(teams, clusters, policy.PolicySettings(budget_envelope=18 * BILLION))
    team = result.teams[-1]
    assert team._bindings is None  # nothing worked out yet
    assert [b.code for b in team.gpu_bindings] == ["floor", "pool_exhausted"]
    assert all(b._text is None for b in team.gpu_bindings)  # codes known, sentences not built
    assert team.gpu_bindings[1].params_dict["granted"] == team.total_gpus
    assert "The pool ran out" in team.explanation_en and "GPU 풀이 소진" in team.explanation_ko
    assert all(b._text is not None for b in team.gpu_bindings)
    # Immutable, comparable and picklable like the frozen dataclasses they replace.
    with pytest.raises(AttributeError):
        team.budget = 0
    with pytest.raises(AttributeError):
        team.gpu_bindings[0].code = "other"
    again = pickle.loads(pickle.dumps(result))  # noqa: S301 -- our own object, round-tripped
    assert again == result and again.to_dict() == result.to_dict()
    assert policy.AllocationResult.from_dict(result.to_dict()) == result
