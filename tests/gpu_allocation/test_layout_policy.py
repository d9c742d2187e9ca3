"""Cluster layout (G3) and the truth of the GPU explanations, checked against a brute force over
every layout on small random pools (no database)."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from gpu_allocation.policy import Cluster, PolicySettings, Team, allocate

BILLION = 1_000_000_000
MODELS = (("B200", Decimal(2)), ("H100", Decimal(1)))


def small_pool(seed: int):
    """At most 4 clusters and 5 teams, 1 to 6 nodes a cluster; often several clusters of one model."""
    rng = random.Random(seed)
    node_size = 8
    models = MODELS if rng.random() < 0.4 else MODELS[1:]
    clusters = [
        Cluster(id=c, name=f"C{c}", gpu_model=model, nodes=rng.randint(1, 6), equivalence=eq)
        for c, (model, eq) in enumerate((rng.choice(models) for _ in range(rng.randint(2, 4))), start=1)
    ]
    n = rng.randint(2, 5)
    teams = [
        Team(
            id=100 + i,
            rank=i,
            score=Decimal(90 - i),
            requested_gpus=node_size * rng.randint(1, 9),
            requested_budget=3 * BILLION,
        )
        for i in range(1, n + 1)
    ]
    settings = PolicySettings(budget_envelope=n * 3 * BILLION, gpu_floor_share=Decimal(rng.choice(["0", "0.5", "1"])))
    return teams, clusters, settings


def compositions(total: int, rooms: list[int]):
    """Every way to put ``total`` nodes into clusters with ``rooms`` free nodes."""
    if not rooms:
        if total == 0:
            yield ()
        return
    for here in range(min(total, rooms[0]) + 1):
        for rest in compositions(total - here, rooms[1:]):
            yield (here, *rest)


def tier_layouts(shares: list[int], capacities: list[int]):
    """Every layout of ``shares`` (rank order) into clusters of ``capacities``: clusters used per share."""

    def walk(j: int, rooms: list[int]):
        if j == len(shares):
            yield ()
            return
        for split in compositions(shares[j], rooms):
            used = sum(1 for x in split if x)
            left = [r - x for r, x in zip(rooms, split, strict=True)]
            for rest in walk(j + 1, left):
                yield (used, *rest)

    yield from walk(0, capacities)


def tiers_of(clusters):
    tiers: dict[Decimal, list[Cluster]] = {}
    for c in sorted(clusters, key=lambda c: (-c.equivalence, c.id)):
        tiers.setdefault(c.equivalence, []).append(c)
    return list(tiers.values())


def layout_facts(teams, clusters, result):
    """Per tier: the shares (team index, nodes) the result gives, every layout's clusters per share,
    and which teams hold nodes in more than one tier."""
    ordered = sorted(teams, key=lambda t: (t.rank, t.id))
    facts = []
    spans = [0] * len(ordered)
    for tier in tiers_of(clusters):
        ids = {c.id for c in tier}
        shares = []
        for i, team in enumerate(ordered):
            nodes = sum(g.nodes for g in result.team(team.id).grants if g.cluster_id in ids)
            if nodes:
                shares.append((i, nodes))
                spans[i] += 1
        layouts = list(tier_layouts([s for _, s in shares], [c.nodes for c in tier])) if shares else [()]
        facts.append((tier, shares, layouts))
    return ordered, facts, spans


def tier_splits(shares, layout, spans):
    return sum(1 for (i, _), k in zip(shares, layout, strict=True) if spans[i] == 1 and k > 1)


@pytest.mark.parametrize("seed", range(240))
def test_layout_is_the_best_of_all_layouts_and_split_sentences_are_true(seed):
    teams, clusters, settings = small_pool(seed)
    result = allocate(teams, clusters, settings)
    ordered, facts, spans = layout_facts(teams, clusters, result)

    # The fewest teams split over every layout that gives each team the same GPUs, then the fewest
    # clusters per team in rank order (tiers do not interact, so the minimum is taken tier by tier).
    best_split_total = sum(spans[i] > 1 for i in range(len(ordered)))
    best_vector = [0] * len(ordered)
    for _, shares, layouts in facts:
        best = min((tier_splits(shares, lay, spans), lay) for lay in layouts)
        best_split_total += best[0]
        for (i, _), k in zip(shares, best[1], strict=True):
            best_vector[i] += k
    assert result.objective.teams_split == best_split_total
    assert result.objective.clusters_per_team == tuple(best_vector)

    for i, team in enumerate(ordered):
        allocation = result.team(team.id)
        split = [b for b in allocation.gpu_bindings if b.code == "split"]
        # A split sentence exactly for the teams whose GPUs sit in more than one cluster.
        assert len(split) == (1 if len(allocation.grants) > 1 else 0)
        if not split:
            continue
        sentence = split[0].en
        assert "does not fit in one cluster" not in sentence
        assert f"spread over {len(allocation.grants)} clusters" in sentence
        assert ("different value" in sentence) == (spans[i] > 1)
        for tier, shares, layouts in facts:
            mine = [(j, (who, nodes)) for j, (who, nodes) in enumerate(shares) if who == i]
            if not mine:
                continue
            j, (_, nodes) = mine[0]
            used = sum(1 for g in allocation.grants if g.cluster_id in {c.id for c in tier})
            largest = max(c.nodes for c in tier)
            model = tier[0].gpu_model
            assert (f"more than the largest {model} cluster holds" in sentence) == (used > 1 and nodes > largest)
            if used < 2:
                continue
            # "no layout ... splits fewer teams, and none that splits as few puts it in fewer clusters
            # without putting a team before it in rank order into more of them": check every layout.
            assert f"Among the {model} clusters, no layout" in sentence
            ours = tuple(
                sum(1 for g in result.team(ordered[w].id).grants if g.cluster_id in {c.id for c in tier})
                for w, _ in shares
            )
            fewest = min(tier_splits(shares, lay, spans) for lay in layouts)
            assert tier_splits(shares, ours, spans) == fewest
            for lay in layouts:
                if tier_splits(shares, lay, spans) == fewest and lay[j] < ours[j]:
                    assert any(lay[k] > ours[k] for k in range(j)), (lay, ours)


def test_a_layout_better_than_every_rank_ordered_one_is_found():
    """Clusters of 3 and 3 nodes, teams of 2, 3 and 1 nodes (one model): laying teams out in rank
    order splits someone whatever the order of the clusters; placing 2 + 1 and 3 splits nobody."""
    clusters = [Cluster(id=1, name="A", gpu_model="H100", nodes=3), Cluster(id=2, name="B", gpu_model="H100", nodes=3)]
    teams = [
        Team(id=1, rank=1, score=Decimal(90), requested_gpus=16, requested_budget=3 * BILLION),
        Team(id=2, rank=2, score=Decimal(80), requested_gpus=24, requested_budget=3 * BILLION),
        Team(id=3, rank=3, score=Decimal(70), requested_gpus=8, requested_budget=3 * BILLION),
    ]
    result = allocate(teams, clusters, PolicySettings(budget_envelope=9 * BILLION, gpu_floor_share=Decimal(0)))

    assert [t.total_gpus for t in result.teams] == [16, 24, 8]
    assert result.objective.clusters_per_team == (1, 1, 1)
    assert not [b for t in result.teams for b in t.gpu_bindings if b.code == "split"]
    assert {g.cluster_id for g in result.team(1).grants} == {g.cluster_id for g in result.team(3).grants}


def test_teams_sharing_a_rank_are_never_told_another_ranks_higher():
    """Three teams share rank 1 (an undecided tie) and one is ranked 4th: the pool runs out."""
    clusters = [Cluster(id=1, name="A", gpu_model="H100", nodes=10)]
    teams = [
        Team(id=7, rank=1, score=Decimal(80), requested_gpus=400, requested_budget=3 * BILLION),
        Team(id=3, rank=1, score=Decimal(80), requested_gpus=400, requested_budget=3 * BILLION),
        Team(id=5, rank=1, score=Decimal(80), requested_gpus=400, requested_budget=3 * BILLION),
        Team(id=9, rank=4, score=Decimal(70), requested_gpus=400, requested_budget=3 * BILLION),
    ]
    result = allocate(teams, clusters, PolicySettings(budget_envelope=12 * BILLION))

    for team_id in (3, 5, 7):
        text = result.team(team_id).explanation_en
        assert "Higher-ranked" not in text and "higher-ranked team" not in text
    # Team 5 comes after team 3 by team number; it is told so, not that team 3 ranks higher.
    assert "1 team sharing its rank comes before it by team number and holds" in result.team(5).explanation_en
    assert "2 teams sharing its rank come before it by team number" in result.team(7).explanation_en
    assert "GPUs are held as the floors of 2 teams sharing its rank" in result.team(3).explanation_en
    exhausted = result.team(9).gpu_bindings
    higher = [b for b in exhausted if b.code == "pool_exhausted"][0].params_dict["higher_ranked_gpus"]
    assert higher == sum(result.team(t).total_gpus for t in (3, 5, 7))
    assert f"Higher-ranked teams come first and hold {higher:,} GPUs" in result.team(9).explanation_en


def test_a_team_with_a_supplier_member_gets_no_gpus_and_is_told_which_member():
    clusters = [Cluster(id=1, name="A", gpu_model="H100", nodes=20)]
    teams = [
        Team(
            id=1,
            rank=1,
            score=Decimal(90),
            requested_gpus=80,
            requested_budget=4 * BILLION,
            gpu_supplier=True,
            gpu_supplier_members=("Gamma Compute",),
        ),
        Team(id=2, rank=2, score=Decimal(80), requested_gpus=80, requested_budget=4 * BILLION),
    ]
    result = allocate(teams, clusters, PolicySettings(budget_envelope=8 * BILLION))

    supplier = result.team(1)
    assert supplier.total_gpus == 0 and supplier.grants == ()
    assert [b.code for b in supplier.gpu_bindings] == ["supplier"]
    assert "Gamma Compute" in supplier.explanation_en and "Gamma Compute" in supplier.explanation_ko
    assert "any of its member organisations supplies GPUs" in supplier.explanation_en
    assert supplier.budget >= 3 * BILLION
    assert result.team(2).total_gpus == 80


def test_a_large_tier_whose_search_stops_at_its_bound_says_so_and_stays_optimal_here():
    """Three H100 clusters of 101 nodes, 199 teams asking 2 nodes each: 151 teams get 2 nodes and one
    gets 1. Two clusters hold an odd number of nodes that 2-node teams alone cannot fill, so at least one
    team must be split; the search cannot prove that within its bound, keeps the one split it found, and
    the split team's sentence says the search was bounded instead of claiming optimality."""
    clusters = [Cluster(id=c, name=f"H{c}", gpu_model="H100", nodes=101) for c in (1, 2, 3)]
    teams = [
        Team(id=i, rank=i, score=Decimal(50), requested_gpus=16, requested_budget=3 * BILLION) for i in range(1, 200)
    ]
    result = allocate(teams, clusters, PolicySettings(budget_envelope=199 * 3 * BILLION, gpu_floor_share=Decimal(0)))

    assert sum(t.total_gpus for t in result.teams) == 303 * 8
    assert result.objective.teams_split == 1
    [split] = [t for t in result.teams if len(t.grants) > 1]
    sentence = next(b.en for b in split.gpu_bindings if b.code == "split")
    assert "the layout search (bounded for pools this large) found no layout" in sentence
    assert "no layout that gives every team the same GPUs splits fewer teams" not in sentence
    assert all(c.used_nodes <= c.capacity_nodes for c in result.clusters)
