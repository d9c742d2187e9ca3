"""The allocation policy (gpu_allocation/policy.py): hand-checked cases, properties, and optimality.

No database: the policy is a pure core. The optimality checks solve the same lexicographic objective
with HiGHS (one MILP per level, in rank order) and by brute force, independently of the policy's code.
"""

from __future__ import annotations

import heapq
import itertools
import json
import math
import random
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gpu_allocation.policy import (
    AllocationResult,
    Cluster,
    PolicyInfeasible,
    PolicyInputError,
    PolicySettings,
    Team,
    allocate,
    canonical_inputs_json,
    evaluate_objective,
    greedy_allocate,
    inputs_digest,
    inputs_from_dict,
    inputs_to_dict,
)

BILLION = 1_000_000_000
PROPERTY_SETTINGS = settings(
    max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


def team(id: int, rank: int, gpus: int, budget: int = 4 * BILLION, score: str = "80", supplier: bool = False) -> Team:
    return Team(
        id=id, rank=rank, score=Decimal(score), requested_gpus=gpus, requested_budget=budget, gpu_supplier=supplier
    )


def h100(id: int, nodes: int, name: str = "H100 cluster") -> Cluster:
    return Cluster(id=id, name=name, gpu_model="H100", nodes=nodes)


def codes(result: AllocationResult, team_id: int) -> list[str]:
    return [b.code for b in result.team(team_id).bindings]


def gpus_by_cluster(result: AllocationResult) -> dict[int, dict[int, int]]:
    return {t.team_id: {g.cluster_id: g.gpus for g in t.grants} for t in result.teams}


# --------------------------------------------------------------------------------------------
# Hand-checked cases
# --------------------------------------------------------------------------------------------

DEMO_TEAMS = (
    team(1, 1, 1000, 5 * BILLION, "90.00"),
    team(2, 2, 800, 4_800_000_000, "85.00"),
    team(3, 3, 600, 4_500_000_000, "80.00"),
    team(4, 4, 512, 4 * BILLION, "75.00"),
    team(5, 5, 400, 3_500_000_000, "70.00"),
)
DEMO_CLUSTERS = (
    Cluster(id=10, name="Gwangju AI data centre", gpu_model="H100", nodes=64),
    Cluster(id=20, name="Daejeon supercomputing centre", gpu_model="H200", nodes=32, equivalence=Decimal("1.2")),
)
DEMO_SETTINGS = PolicySettings(budget_envelope=20 * BILLION)


def test_allocate_demo_case_matches_hand_computation():
    # Pool 96 nodes, 5 eligible teams: floor = floor(0.5 x 96 / 5) = 9 nodes = 72 GPUs each (45 nodes);
    # the other 51 nodes go by rank, all to team 1 (limit 125 nodes). Team 1 takes the H200s first.
    # Budget: 15 bn of minimums, 5,000 units of 1 M left; teams 5 and 4 reach their requests, the other
    # 3,500 units go 90:85:80 -> 1235.29, 1166.67, 1098.04 -> 1235, 1167, 1098 (Sainte-Laguë).
    result = allocate(DEMO_TEAMS, DEMO_CLUSTERS, DEMO_SETTINGS)

    assert gpus_by_cluster(result) == {1: {10: 224, 20: 256}, 2: {10: 72}, 3: {10: 72}, 4: {10: 72}, 5: {10: 72}}
    assert [t.total_equivalents for t in result.teams] == [Decimal("531.2"), 72, 72, 72, 72]
    assert [t.budget for t in result.teams] == [
        4_235_000_000,
        4_167_000_000,
        4_098_000_000,
        4_000_000_000,
        3_500_000_000,
    ]
    assert result.budget_allocated == 20 * BILLION and result.budget_unallocated == 0
    assert result.floor_gpus == 72
    assert [(c.cluster_id, c.used_gpus, c.free_gpus) for c in result.clusters] == [(10, 512, 0), (20, 256, 0)]
    assert codes(result, 1) == ["pool_exhausted", "split", "envelope"]
    assert result.team(1).gpu_bindings[0].params_dict == {
        "granted": 480,
        "higher_ranked_gpus": 0,
        "limit_gpus": 1000,
        "reserved_gpus": 288,
        "reserved_teams": 4,
        "same_rank_gpus": 0,
    }
    assert codes(result, 2) == ["floor", "pool_exhausted", "envelope"]
    assert codes(result, 5) == ["floor", "pool_exhausted", "budget_request"]
    assert "288 GPUs are held as the floors of 4 lower-ranked teams" in result.team(1).explanation_en
    assert "하위 순위 4개 팀의 최소 보장 물량으로 288개" in result.team(1).explanation_ko
    assert result.objective.floors_met == (True,) * 5
    assert result.objective.clusters_per_team == (2, 1, 1, 1, 1)


def test_allocate_envelope_below_minimum_fails_with_the_numbers():
    too_small = PolicySettings(budget_envelope=14 * BILLION)

    with pytest.raises(PolicyInfeasible) as failure:
        allocate(DEMO_TEAMS, DEMO_CLUSTERS, too_small)

    error = failure.value
    assert error.code == "envelope_below_minimum"
    assert error.params == {
        "envelope": 14 * BILLION,
        "teams": 5,
        "budget_min": 3 * BILLION,
        "required": 15 * BILLION,
        "shortfall": BILLION,
    }
    assert "14,000,000,000 KRW" in error.message_en and "15,000,000,000 KRW" in error.message_en
    assert "1,000,000,000 KRW more" in error.message_en
    assert "1,000,000,000원(10억 원)이 부족합니다" in error.message_ko
    assert str(error) == error.message_en
    with pytest.raises(PolicyInfeasible):
        greedy_allocate(DEMO_TEAMS, DEMO_CLUSTERS, too_small)


def test_allocate_envelope_exactly_the_minimum_gives_everyone_the_minimum():
    result = allocate(DEMO_TEAMS, DEMO_CLUSTERS, PolicySettings(budget_envelope=15 * BILLION))

    assert [t.budget for t in result.teams] == [3 * BILLION] * 5


@pytest.mark.parametrize(
    ("pool_nodes", "share", "expected_gpus", "expected_codes"),
    [
        # floor = floor(0.5 x 10 / 4) = 1 node; the other 6 nodes by rank.
        (10, "0.5", [56, 8, 8, 8], ["pool_exhausted", "floor", "floor", "floor"]),
        # floor = floor(1 x 10 / 4) = 2 nodes; 2 nodes left go to team 1.
        (10, "1", [32, 16, 16, 16], ["pool_exhausted", "floor", "floor", "floor"]),
        # share 0: pure rank order, the lower teams are starved on purpose.
        (10, "0", [80, 0, 0, 0], ["request", "pool_exhausted", "pool_exhausted", "pool_exhausted"]),
        # fewer nodes than teams: one node each, in rank order; team 4 gets none.
        (3, "0.5", [8, 8, 8, 0], ["floor", "floor", "floor", "no_floor"]),
    ],
)
def test_allocate_small_pool_favours_higher_ranks_above_a_floor(pool_nodes, share, expected_gpus, expected_codes):
    teams = [team(i, i, 80 if share == "0" and i == 1 else 1000) for i in range(1, 5)]
    policy = PolicySettings(budget_envelope=16 * BILLION, gpu_floor_share=Decimal(share))

    result = allocate(teams, [h100(1, pool_nodes)], policy)

    assert [t.total_gpus for t in result.teams] == expected_gpus
    assert [codes(result, i)[0] for i in range(1, 5)] == expected_codes


def test_allocate_gpu_supplier_gets_no_gpus_but_its_budget():
    teams = [team(1, 1, 400, 5 * BILLION, supplier=True), team(2, 2, 400, 5 * BILLION)]

    result = allocate(teams, [h100(1, 100)], PolicySettings(budget_envelope=10 * BILLION))

    assert result.team(1).grants == () and result.team(1).total_gpus == 0
    assert result.team(1).budget == 5 * BILLION
    assert codes(result, 1) == ["supplier", "budget_request"]
    assert result.team(2).total_gpus == 400
    assert result.floor_gpus == 50 * 8  # only one eligible team shares the floor


@pytest.mark.parametrize(
    ("requested", "cap", "expected", "expected_codes"),
    [
        (100, 1000, 96, ["request", "node_rounding"]),
        (7, 1000, 0, ["below_one_node"]),
        (0, 1000, 0, ["no_request"]),
        (1000, 200, 200, ["team_cap"]),
        (1000, 100, 96, ["team_cap", "node_rounding"]),
        (1000, 4, 0, ["below_one_node"]),
    ],
)
def test_allocate_limits_round_down_to_whole_nodes(requested, cap, expected, expected_codes):
    policy = PolicySettings(budget_envelope=4 * BILLION, per_team_gpu_cap=cap)

    result = allocate([team(1, 1, requested, 4 * BILLION)], [h100(1, 500)], policy)

    assert result.team(1).total_gpus == expected
    assert [b.code for b in result.team(1).gpu_bindings] == expected_codes


def test_allocate_team_cap_binds_each_team_separately():
    teams = [team(1, 1, 1200), team(2, 2, 300)]

    result = allocate(teams, [h100(1, 400)], PolicySettings(budget_envelope=8 * BILLION))

    assert [t.total_gpus for t in result.teams] == [1000, 296]
    assert result.team(1).gpu_bindings[0].params_dict == {"cap": 1000, "granted": 1000, "requested": 1200}
    assert codes(result, 2)[:2] == ["request", "node_rounding"]


def test_allocate_best_gpus_go_to_the_highest_rank_in_equivalents():
    clusters = [h100(1, 20), Cluster(id=2, name="B200", gpu_model="B200", nodes=5, equivalence=Decimal(2))]
    teams = [team(1, 2, 40), team(2, 1, 40)]  # team 2 is ranked first

    result = allocate(teams, clusters, PolicySettings(budget_envelope=8 * BILLION))

    assert gpus_by_cluster(result) == {2: {2: 40}, 1: {1: 40}}
    assert [t.team_id for t in result.teams] == [2, 1]
    assert result.team(2).total_equivalents == 80 and result.team(1).total_equivalents == 40


def test_allocate_orders_equal_clusters_to_avoid_splitting_a_team():
    # Same GPU model in a 10-node and a 6-node cluster; teams of 6 and 10 nodes. Laying the larger
    # cluster first would split team 2; the policy lays the 6-node cluster first and splits no one.
    clusters = [h100(1, 10, "Big"), h100(2, 6, "Small")]
    teams = [team(1, 1, 48), team(2, 2, 80)]
    policy = PolicySettings(budget_envelope=8 * BILLION, gpu_floor_share=Decimal(0))

    result = allocate(teams, clusters, policy)

    assert gpus_by_cluster(result) == {1: {2: 48}, 2: {1: 80}}
    assert result.objective.clusters_per_team == (1, 1)


def test_allocate_splits_only_when_no_single_cluster_fits():
    clusters = [h100(1, 10, "North"), h100(2, 10, "South")]
    teams = [team(1, 1, 120)]  # 15 nodes

    result = allocate(teams, clusters, PolicySettings(budget_envelope=4 * BILLION))

    assert gpus_by_cluster(result) == {1: {1: 80, 2: 40}}
    split = result.team(1).gpu_bindings[-1]
    assert split.code == "split" and "North, South" in split.en and "2개 클러스터(North, South)" in split.ko


@pytest.mark.parametrize(
    ("requested", "expected", "expected_codes"),
    [
        (2 * BILLION, 3 * BILLION, ["budget_below_min"]),
        (9 * BILLION, 5 * BILLION, ["budget_max"]),
        (4_300_000_000, 4_300_000_000, ["budget_request"]),
        (4_300_500_000, 4_300_000_000, ["budget_request", "budget_rounding"]),
    ],
)
def test_allocate_budget_is_clamped_into_the_range(requested, expected, expected_codes):
    result = allocate([team(1, 1, 8, requested)], [h100(1, 1)], PolicySettings(budget_envelope=10 * BILLION))

    assert result.team(1).budget == expected
    assert [b.code for b in result.team(1).budget_bindings] == expected_codes


def test_allocate_budget_zero_score_team_gets_the_minimum_only():
    teams = [team(1, 1, 8, 5 * BILLION, "0"), team(2, 2, 8, 5 * BILLION, "50")]

    result = allocate(teams, [h100(1, 2)], PolicySettings(budget_envelope=9 * BILLION))

    assert [t.budget for t in result.teams] == [3 * BILLION, 5 * BILLION]
    assert codes(result, 1)[-1] == "zero_score"
    assert result.budget_unallocated == BILLION


def test_allocate_budget_ties_go_to_the_higher_rank():
    teams = [team(1, 2, 8, 5 * BILLION, "80"), team(2, 1, 8, 5 * BILLION, "80")]
    policy = PolicySettings(budget_envelope=6 * BILLION + 3_000_000)  # 3 units for two equal scores

    result = allocate(teams, [h100(1, 2)], policy)

    assert result.team(2).budget == 3_002_000_000 and result.team(1).budget == 3_001_000_000


def test_allocate_with_no_teams_or_no_pool():
    assert allocate([], DEMO_CLUSTERS, DEMO_SETTINGS).teams == ()
    result = allocate(DEMO_TEAMS, [], DEMO_SETTINGS)
    assert [t.total_gpus for t in result.teams] == [0] * 5
    assert codes(result, 1)[:2] == ["no_floor", "pool_exhausted"]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: allocate(
                DEMO_TEAMS,
                [h100(1, 4), Cluster(id=2, name="x", gpu_model="x", nodes=4, gpus_per_node=4)],
                DEMO_SETTINGS,
            ),
            "same number of GPUs per node",
        ),
        (lambda: allocate([team(1, 1, 8), team(1, 2, 8)], DEMO_CLUSTERS, DEMO_SETTINGS), "Duplicate team ids"),
        (lambda: team(1, 0, 8), "Rank of team 1"),
        (lambda: team(1, 1, -8), "Requested GPUs"),
        (lambda: Team(id=1, rank=1, score=80.5, requested_gpus=8, requested_budget=0), "not a float"),
        (lambda: Cluster(id=1, name="x", gpu_model="x", nodes=1, equivalence=Decimal(0)), "must be positive"),
        (lambda: PolicySettings(budget_envelope=1, budget_min=5, budget_max=4), "above the maximum"),
        (lambda: PolicySettings(budget_envelope=1, gpu_floor_share=Decimal("1.5")), "between 0 and 1"),
    ],
)
def test_inputs_are_validated(make, message):
    with pytest.raises(PolicyInputError, match=message):
        make()


def test_result_and_inputs_round_trip_through_json():
    result = allocate(DEMO_TEAMS, DEMO_CLUSTERS, DEMO_SETTINGS)

    data = json.loads(json.dumps(result.to_dict()))
    inputs = json.loads(json.dumps(inputs_to_dict(DEMO_TEAMS, DEMO_CLUSTERS, DEMO_SETTINGS)))

    assert AllocationResult.from_dict(data) == result
    assert data["teams"][0]["total_equivalents"] == "531.2"
    assert data["teams"][0]["explanation_ko"] == result.team(1).explanation_ko
    teams, clusters, policy = inputs_from_dict(inputs)
    assert allocate(teams, clusters, policy) == result


def test_inputs_digest_ignores_order_and_decimal_spelling():
    respelled = [
        Cluster(id=20, name="Daejeon supercomputing centre", gpu_model="H200", nodes=32, equivalence=Decimal("1.200")),
        DEMO_CLUSTERS[0],
    ]
    teams = [
        Team(
            id=t.id,
            rank=t.rank,
            score=t.score.normalize(),
            requested_gpus=t.requested_gpus,
            requested_budget=t.requested_budget,
        )
        for t in reversed(DEMO_TEAMS)
    ]

    digest = inputs_digest(DEMO_TEAMS, DEMO_CLUSTERS, DEMO_SETTINGS)

    assert digest == inputs_digest(teams, respelled, DEMO_SETTINGS)
    assert len(digest) == 64 and digest == allocate(teams, respelled, DEMO_SETTINGS).inputs_digest
    assert canonical_inputs_json(DEMO_TEAMS, DEMO_CLUSTERS, DEMO_SETTINGS).startswith('{"clusters":[{"equivalence":"1"')
    assert digest != inputs_digest(DEMO_TEAMS, DEMO_CLUSTERS, PolicySettings(budget_envelope=21 * BILLION))


def test_allocate_beats_greedy_on_the_demo_case():
    policy = allocate(DEMO_TEAMS, DEMO_CLUSTERS, DEMO_SETTINGS)
    greedy = greedy_allocate(DEMO_TEAMS, DEMO_CLUSTERS, DEMO_SETTINGS)

    assert greedy.objective.floors_met == (True, False, False, False, False)
    assert policy.objective.key() > greedy.objective.key()
    assert evaluate_objective(greedy, DEMO_TEAMS, DEMO_CLUSTERS, DEMO_SETTINGS) == greedy.objective


# --------------------------------------------------------------------------------------------
# Properties over random inputs
# --------------------------------------------------------------------------------------------

EQUIVALENCES = [Decimal("0.5"), Decimal(1), Decimal("1.2"), Decimal(2)]


@st.composite
def instances(draw, max_teams: int = 8, max_clusters: int = 4, max_nodes: int = 30):
    node_size = draw(st.sampled_from([4, 8]))
    cluster_ids = draw(st.lists(st.integers(1, 99), max_size=max_clusters, unique=True))
    clusters = [
        Cluster(
            id=cid,
            name=f"C{cid}",
            gpu_model="GPU",
            nodes=draw(st.integers(0, max_nodes)),
            gpus_per_node=node_size,
            equivalence=draw(st.sampled_from(EQUIVALENCES)),
        )
        for cid in cluster_ids
    ]
    team_ids = draw(st.lists(st.integers(1, 999), max_size=max_teams, unique=True))
    budget_min = draw(st.integers(0, 5)) * BILLION
    budget_max = budget_min + draw(st.integers(0, 3)) * BILLION
    teams = [
        Team(
            id=tid,
            rank=draw(st.integers(1, len(team_ids))),  # ties in rank are broken by id
            score=Decimal(draw(st.integers(0, 10_000))) / 100,
            requested_gpus=draw(st.integers(0, 300)),
            requested_budget=draw(st.integers(0, 9_000)) * 1_000_000 + draw(st.sampled_from([0, 1, 499_999])),
            gpu_supplier=draw(st.booleans()),
        )
        for tid in team_ids
    ]
    policy = PolicySettings(
        per_team_gpu_cap=draw(st.integers(0, 300)),
        budget_min=budget_min,
        budget_max=budget_max,
        budget_unit=draw(st.sampled_from([1, 1_000, 1_000_000, 250_000_000])),
        budget_envelope=max(0, len(teams) * budget_min + draw(st.integers(-BILLION, 12 * BILLION))),
        gpu_floor_share=draw(st.sampled_from([Decimal(0), Decimal("0.25"), Decimal("0.5"), Decimal(1)])),
    )
    return teams, clusters, policy


def check_rules(teams, clusters, policy, result):
    """Every hard rule of SPEC §6, checked from the result alone."""
    by_team = {t.id: t for t in teams}
    by_cluster = {c.id: c for c in clusters}
    node_size = clusters[0].gpus_per_node if clusters else 8
    used = dict.fromkeys(by_cluster, 0)
    assert [a.team_id for a in result.teams] == [t.id for t in sorted(teams, key=lambda t: (t.rank, t.id))]
    for allocation in result.teams:
        t = by_team[allocation.team_id]
        for grant in allocation.grants:
            assert grant.nodes > 0 and grant.gpus == grant.nodes * node_size
            used[grant.cluster_id] += grant.nodes
        assert len({g.cluster_id for g in allocation.grants}) == len(allocation.grants)
        assert allocation.total_gpus == sum(g.gpus for g in allocation.grants)
        assert allocation.total_gpus <= min(t.requested_gpus, policy.per_team_gpu_cap)
        assert allocation.total_equivalents == sum(
            (g.gpus * by_cluster[g.cluster_id].equivalence for g in allocation.grants), Decimal(0)
        )
        if t.gpu_supplier:
            assert allocation.total_gpus == 0
        ceiling = min(max(t.requested_budget, policy.budget_min), policy.budget_max)
        assert policy.budget_min <= allocation.budget <= ceiling
        assert (allocation.budget - policy.budget_min) % policy.budget_unit == 0
        if t.score == 0:
            assert allocation.budget == policy.budget_min
        assert allocation.bindings and all(b.en and b.ko for b in allocation.bindings)
    for cluster in clusters:
        assert used[cluster.id] <= cluster.nodes
    assert [(u.cluster_id, u.used_nodes, u.free_nodes) for u in result.clusters] == [
        (c.id, used[c.id], c.nodes - used[c.id]) for c in sorted(clusters, key=lambda c: c.id)
    ]
    assert result.budget_allocated == sum(a.budget for a in result.teams) <= policy.budget_envelope


@PROPERTY_SETTINGS
@given(instances(), st.randoms(use_true_random=False))
def test_property_rules_hold_and_result_ignores_input_order(instance, rnd):
    teams, clusters, policy = instance
    if len(teams) * policy.budget_min > policy.budget_envelope:
        with pytest.raises(PolicyInfeasible):
            allocate(teams, clusters, policy)
        return

    result = allocate(teams, clusters, policy)
    shuffled_teams, shuffled_clusters = teams[:], clusters[:]
    rnd.shuffle(shuffled_teams)
    rnd.shuffle(shuffled_clusters)

    check_rules(teams, clusters, policy, result)
    check_rules(teams, clusters, policy, greedy_allocate(teams, clusters, policy))
    assert allocate(shuffled_teams, shuffled_clusters, policy).to_dict() == result.to_dict()
    assert allocate(teams, clusters, policy) == result


@PROPERTY_SETTINGS
@given(instances())
def test_property_objective_never_worse_than_greedy(instance):
    teams, clusters, policy = instance
    if len(teams) * policy.budget_min > policy.budget_envelope:
        return

    policy_result = allocate(teams, clusters, policy)
    greedy_result = greedy_allocate(teams, clusters, policy)

    assert policy_result.objective.key() >= greedy_result.objective.key()


@PROPERTY_SETTINGS
@given(instances())
def test_property_rank_priority_floor_and_few_splits(instance):
    teams, clusters, policy = instance
    if len(teams) * policy.budget_min > policy.budget_envelope:
        return

    result = allocate(teams, clusters, policy)

    node_size = clusters[0].gpus_per_node if clusters else 8
    pool = sum(c.nodes for c in clusters)
    ordered = sorted(teams, key=lambda t: (t.rank, t.id))
    limits = [
        0 if t.gpu_supplier else min(t.requested_gpus, policy.per_team_gpu_cap) // node_size * node_size
        for t in ordered
    ]
    got = [result.team(t.id).total_gpus for t in ordered]
    floor = result.floor_gpus
    # A team above its floor means every higher-ranked team is at its limit.
    for j in range(len(ordered)):
        if got[j] > min(floor, limits[j]):
            assert all(got[i] == limits[i] for i in range(j))
    # No eligible team is starved while the pool has a node per eligible team.
    eligible = [i for i, limit in enumerate(limits) if limit]
    if policy.gpu_floor_share > 0 and pool >= len(eligible):
        assert all(got[i] > 0 for i in eligible)
    # Rank-ordered layouts split at most one team per cluster boundary.
    splits = sum(len(a.grants) - 1 for a in result.teams if a.grants)
    assert splits <= max(0, sum(1 for c in clusters if c.nodes) - 1)
    # The pool is used up unless every eligible team is at its limit.
    if sum(got) < pool:
        assert got == limits
    # G3: never worse than the best rank-ordered layout of the same node counts (brute force); the search
    # over all layouts may do better (tests/gpu_allocation/test_layout_policy.py checks it is optimal).
    if clusters:
        achieved = (result.objective.teams_split, result.objective.clusters_per_team)
        assert achieved <= best_rank_ordered_layout(teams, clusters, result)


# --------------------------------------------------------------------------------------------
# Optimality: the stated objective, solved independently
# --------------------------------------------------------------------------------------------


def random_small_instance(rng: random.Random):
    node_size = rng.choice([4, 8])
    models = EQUIVALENCES if rng.random() < 0.5 else EQUIVALENCES[1:3]  # often several clusters per tier
    clusters = [
        Cluster(
            id=c,
            name=f"C{c}",
            gpu_model="GPU",
            nodes=rng.randint(0, 12),
            gpus_per_node=node_size,
            equivalence=rng.choice(models),
        )
        for c in range(1, rng.randint(1, 4) + 1)
    ]
    ranks = list(range(1, rng.randint(1, 5) + 1))
    rng.shuffle(ranks)
    teams = [
        Team(
            id=i,
            rank=r,
            score=Decimal(rng.randint(50, 100)),
            requested_gpus=rng.randint(0, 120),
            requested_budget=0,
            gpu_supplier=rng.random() < 0.15,
        )
        for i, r in enumerate(ranks, start=1)
    ]
    policy = PolicySettings(
        per_team_gpu_cap=rng.randint(30, 120),
        budget_min=0,
        budget_envelope=0,
        gpu_floor_share=rng.choice([Decimal(0), Decimal("0.5"), Decimal(1)]),
    )
    return teams, clusters, policy


def milp_lexicographic_optimum(teams, clusters, policy):
    """Levels G1 and G2 with HiGHS: one MILP per team and level, each fixing the optimum found before."""
    highspy = pytest.importorskip("highspy")
    node_size = clusters[0].gpus_per_node
    ordered = sorted(teams, key=lambda t: (t.rank, t.id))
    limits = [0 if t.gpu_supplier else min(t.requested_gpus, policy.per_team_gpu_cap) // node_size for t in ordered]
    pool = sum(c.nodes for c in clusters)
    eligible = sum(1 for limit in limits if limit)
    floor = (
        0
        if policy.gpu_floor_share == 0 or not eligible
        else max(1, math.floor(Fraction(policy.gpu_floor_share) * pool / eligible))
    )
    h = highspy.Highs()
    h.silent()
    x = {(i, c.id): h.addIntegral(lb=0, ub=c.nodes) for i in range(len(ordered)) for c in clusters}
    met = [h.addBinary() for _ in ordered]
    for i, limit in enumerate(limits):
        h.addConstr(sum(x[i, c.id] for c in clusters) <= limit)
        h.addConstr(sum(x[i, c.id] for c in clusters) - min(limit, floor) * met[i] >= 0)
    for c in clusters:
        h.addConstr(sum(x[i, c.id] for i in range(len(ordered))) <= c.nodes)
    floors_met = []
    for i in range(len(ordered)):
        h.maximize(met[i])
        value = round(h.val(met[i]))
        h.addConstr(met[i] >= value)
        floors_met.append(bool(value))
    tenths = []  # equivalents x 10, integers: the equivalences have one decimal place
    for i in range(len(ordered)):
        expression = sum(int(c.equivalence * 10) * node_size * x[i, c.id] for c in clusters)
        h.maximize(expression)
        value = round(h.getObjectiveValue())
        h.addConstr(expression >= value)
        tenths.append(value)
    return tuple(floors_met), tuple(tenths)


def best_rank_ordered_layout(teams, clusters, result):
    """The best rank-ordered layout by brute force: every order of the clusters in every tier, teams laid out
    in rank order; as (teams split, clusters per team), smaller is better."""
    ordered = sorted(teams, key=lambda t: (t.rank, t.id))
    counts = [result.team(t.id).total_gpus // clusters[0].gpus_per_node for t in ordered]
    tiers = {}
    for c in sorted((c for c in clusters if c.nodes), key=lambda c: (-c.equivalence, c.id)):
        tiers.setdefault(c.equivalence, []).append(c)
    tiers = list(tiers.values())
    best = None
    for orders in itertools.product(*(itertools.permutations(tier) for tier in tiers)):
        sequence = [c for order in orders for c in order]
        used = [set() for _ in ordered]
        cursor, room = 0, sequence[0].nodes if sequence else 0
        for i, count in enumerate(counts):
            for _ in range(count):
                while not room:
                    cursor += 1
                    room = sequence[cursor].nodes
                used[i].add(sequence[cursor].id)
                room -= 1
        vector = tuple(len(u) for u in used)
        key = (sum(1 for k in vector if k > 1), vector)
        best = key if best is None or key < best else best
    return best


@pytest.mark.parametrize("seed", range(80))
def test_optimal_against_milp_and_brute_force(seed):
    teams, clusters, policy = random_small_instance(random.Random(seed))

    result = allocate(teams, clusters, policy)
    floors_met, tenths = milp_lexicographic_optimum(teams, clusters, policy)

    assert result.objective.floors_met == floors_met
    assert tuple(int(e * 10) for e in result.objective.equivalents) == tenths
    achieved = (result.objective.teams_split, result.objective.clusters_per_team)
    assert achieved <= best_rank_ordered_layout(teams, clusters, result)


def brute_force_budget(ceilings, scores, available):
    """B1 then B2 by enumeration: most units, then least sum(units**2 / score)."""
    best = None
    for units in itertools.product(
        *(range(c + 1) if s > 0 else range(1) for c, s in zip(ceilings, scores, strict=True))
    ):
        if sum(units) > available:
            continue
        value = (-sum(units), sum((Fraction(u * u) / s for u, s in zip(units, scores, strict=True) if s), Fraction(0)))
        best = value if best is None or value < best else best
    return best


@pytest.mark.parametrize("seed", range(60))
def test_budget_optimal_against_brute_force(seed):
    rng = random.Random(seed)
    n = rng.randint(1, 4)
    teams = [team(i, i, 0, 10 + rng.randint(-2, 8), str(rng.choice([0, 1, 2, 3, 5, 7]))) for i in range(1, n + 1)]
    policy = PolicySettings(budget_min=10, budget_max=16, budget_unit=1, budget_envelope=10 * n + rng.randint(0, 16))

    result = allocate(teams, [], policy)

    units = [a.budget - 10 for a in result.teams]
    scores = [Fraction(t.score) for t in teams]
    ceilings = [min(max(t.requested_budget, 10), 16) - 10 for t in teams]
    ours = (-sum(units), sum((Fraction(u * u) / s for u, s in zip(units, scores, strict=True) if s), Fraction(0)))
    assert ours == brute_force_budget(ceilings, scores, policy.budget_envelope - 10 * n)


def sainte_lague_by_units(ceilings, weights, available):
    """The definition, one unit at a time: the cheapest next unit (2k - 1) / w, ties to the higher rank."""
    units = [0] * len(ceilings)
    heap = [(Fraction(1, w), i) for i, w in enumerate(weights) if w > 0 and ceilings[i] > 0]
    heapq.heapify(heap)
    for _ in range(available):
        if not heap:
            break
        _, i = heapq.heappop(heap)
        units[i] += 1
        if units[i] < ceilings[i]:
            heapq.heappush(heap, (Fraction(2 * units[i] + 1, weights[i]), i))
    return units


@pytest.mark.parametrize("seed", range(25))
def test_budget_equals_unit_by_unit_sainte_lague(seed):
    rng = random.Random(1000 + seed)
    n = rng.randint(2, 40)
    unit = 1_000_000
    teams = [
        team(i, i, 0, rng.randint(0, 6_000) * unit, str(Decimal(rng.choice([0, rng.randint(1, 10_000), 5_000])) / 100))
        for i in range(1, n + 1)
    ]
    policy = PolicySettings(budget_envelope=n * 3 * BILLION + rng.randint(0, n * 2_000) * unit)

    result = allocate(teams, [], policy)

    ceilings = [(min(max(t.requested_budget, 3 * BILLION), 5 * BILLION) - 3 * BILLION) // unit for t in teams]
    weights = [Fraction(t.score) for t in teams]
    expected = sainte_lague_by_units(ceilings, weights, (policy.budget_envelope - n * 3 * BILLION) // unit)
    assert [(a.budget - 3 * BILLION) // unit for a in result.teams] == expected
