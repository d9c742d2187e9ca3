"""Benchmark of the allocation policy (gpu_allocation/policy.py) against the first-come baseline.

    python bench/bench_policy.py                 # prints the table
    python bench/bench_policy.py --json out.json # also writes the figures as JSON

For 5 teams (the demo case), 100 and 10,000 teams on a five-cluster pool, it reports the time to
solve (median and best of several runs, inputs already built) and the objective reached by the
policy and by ``greedy_allocate`` (rank order, each team takes its request until the pool runs out).
It imports only the pure module, so it needs neither Django nor a database.

Each case is also solved by ``bench/reference_policy.py`` (a frozen copy of the policy as it was
before its explanations became lazy and its budget order stopped using ``Fraction``; used only
here and by its comparison test) on the same instances in the same run, the two interleaved
round by round: the table gives both medians, the speed-up and whether the two results are
identical (``to_dict()``, every sentence included).
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import reference_policy  # noqa: E402 (bench/ must be on the path first)

from gpu_allocation.policy import (  # noqa: E402 (the repository root must be on the path first)
    AllocationResult,
    Cluster,
    PolicySettings,
    Team,
    allocate,
    greedy_allocate,
    inputs_to_dict,
)

BILLION = 1_000_000_000


def demo_instance() -> tuple[list[Team], list[Cluster], PolicySettings]:
    """The demo programme: five teams, 64 H100 nodes and 32 H200 nodes of 8 GPUs."""
    requests = [(1000, 5_000), (800, 4_800), (600, 4_500), (512, 4_000), (400, 3_500)]
    teams = [
        Team(id=i, rank=i, score=Decimal(95 - 5 * i), requested_gpus=g, requested_budget=b * 1_000_000)
        for i, (g, b) in enumerate(requests, start=1)
    ]
    clusters = [
        Cluster(id=1, name="H100 cluster", gpu_model="H100", nodes=64),
        Cluster(id=2, name="H200 cluster", gpu_model="H200", nodes=32, equivalence=Decimal("1.2")),
    ]
    return teams, clusters, PolicySettings(budget_envelope=20 * BILLION)


def scaled_instance(n: int, seed: int = 2025) -> tuple[list[Team], list[Cluster], PolicySettings]:
    """``n`` teams (5% GPU suppliers) and a five-cluster pool of about 10 nodes per team, scarce on purpose."""
    rng = random.Random(seed)
    teams = [
        Team(
            id=i,
            rank=i,
            score=Decimal(10_000 - (9_000 * i) // n) / 100,
            requested_gpus=rng.choice([64, 128, 256, 512, 800, 1000]),
            requested_budget=rng.randint(2_000, 6_000) * 1_000_000,
            gpu_supplier=rng.random() < 0.05,
        )
        for i in range(1, n + 1)
    ]
    rng.shuffle(teams)  # the policy must not depend on input order
    total = 10 * n
    shape = [
        ("B200", Decimal(2), 10),
        ("H200", Decimal("1.2"), 20),
        ("H100", Decimal(1), 30),
        ("H100", Decimal(1), 25),
        ("A100", Decimal("0.5"), 15),
    ]
    clusters = [
        Cluster(id=c, name=f"{model} #{c}", gpu_model=model, nodes=total * percent // 100, equivalence=equivalence)
        for c, (model, equivalence, percent) in enumerate(shape, start=1)
    ]
    # An envelope of 3.6 bn KRW a team: below the sum of the requests, so the sharing rule matters.
    return teams, clusters, PolicySettings(budget_envelope=n * 3_600_000_000)


def timed(function, *args, repeat: int) -> tuple[AllocationResult, list[float]]:
    times = []
    result = None
    for _ in range(repeat):
        result = None
        gc.collect()  # each run starts without the garbage of the one before
        start = time.perf_counter()
        result = function(*args)
        times.append(time.perf_counter() - start)
    return result, times


def summary(result: AllocationResult, teams: list[Team]) -> dict[str, object]:
    """The objective in a few readable figures."""
    supplier = {t.id for t in teams if t.gpu_supplier}
    eligible = [
        a
        for a in result.teams
        if a.team_id not in supplier and a.gpu_bindings[0].code not in ("no_request", "below_one_node")
    ]
    eligible_ids = {a.team_id for a in eligible}
    objective = result.objective
    return {
        "eligible_teams": len(eligible),
        "floors_met": sum(
            met for met, a in zip(objective.floors_met, result.teams, strict=True) if a.team_id in eligible_ids
        ),
        "eligible_teams_without_gpus": sum(1 for a in eligible if a.total_gpus == 0),
        "rank_1_equivalents": str(objective.equivalents[0]),
        "min_equivalents_of_eligible": str(min((a.total_equivalents for a in eligible), default=0)),
        "teams_split": sum(1 for k in objective.clusters_per_team if k > 1),
        "budget_units": objective.budget_units,
        "budget_deviation": str(objective.budget_deviation.quantize(Decimal("0.01"))),
    }


def run_case(
    name: str, teams: list[Team], clusters: list[Cluster], policy: PolicySettings, repeat: int
) -> dict[str, object]:
    reference_inputs = reference_policy.inputs_from_dict(inputs_to_dict(teams, clusters, policy))
    ours_times, reference_times = [], []
    ours = reference = None
    for _ in range(repeat):  # interleaved, so that both see the same load
        ours, took = timed(allocate, teams, clusters, policy, repeat=1)
        ours_times += took
        reference, took = timed(reference_policy.allocate, *reference_inputs, repeat=1)
        reference_times += took
    greedy, greedy_times = timed(greedy_allocate, teams, clusters, policy, repeat=repeat)
    ours_median, reference_median = statistics.median(ours_times), statistics.median(reference_times)
    return {
        "case": name,
        "teams": len(teams),
        "clusters": len(clusters),
        "pool_gpus": sum(c.gpus for c in clusters),
        "policy_seconds_median": round(ours_median, 6),
        "policy_seconds_best": round(min(ours_times), 6),
        "reference_seconds_median": round(reference_median, 6),
        "reference_seconds_best": round(min(reference_times), 6),
        "speedup_median": round(reference_median / ours_median, 2),
        "speedup_best": round(min(reference_times) / min(ours_times), 2),
        "identical_to_reference": ours.to_dict() == reference.to_dict(),
        "greedy_seconds_median": round(statistics.median(greedy_times), 6),
        "policy": summary(ours, teams),
        "greedy": summary(greedy, teams),
        "policy_at_least_greedy": ours.objective.key() >= greedy.objective.key(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", metavar="PATH", help="also write the figures to this JSON file")
    parser.add_argument("--repeat", type=int, default=7, help="runs per case (default 7; 5 for 10,000 teams)")
    args = parser.parse_args(argv)

    cases = [
        ("demo", *demo_instance(), args.repeat),
        ("100 teams", *scaled_instance(100), args.repeat),
        ("10,000 teams", *scaled_instance(10_000), min(args.repeat, 5)),
    ]
    rows = [run_case(name, teams, clusters, policy, repeat) for name, teams, clusters, policy, repeat in cases]

    print(
        f"{'case':<14}{'teams':>7}{'policy s':>10}{'reference s':>12}{'speed-up':>9}{'same':>6}{'greedy s':>10}"
        "  objective (policy | greedy)"
    )
    for row in rows:
        p, g = row["policy"], row["greedy"]
        print(
            f"{row['case']:<14}{row['teams']:>7}{row['policy_seconds_median']:>10.4f}"
            f"{row['reference_seconds_median']:>12.4f}{row['speedup_median']:>8.2f}×"
            f"{'yes' if row['identical_to_reference'] else 'NO':>6}{row['greedy_seconds_median']:>10.4f}  "
            f"floors met {p['floors_met']}|{g['floors_met']} of {p['eligible_teams']}, "
            f"eligible without GPUs {p['eligible_teams_without_gpus']}|{g['eligible_teams_without_gpus']}, "
            f"rank-1 equivalents {p['rank_1_equivalents']}|{g['rank_1_equivalents']}, "
            f"teams split {p['teams_split']}|{g['teams_split']}, "
            f"budget deviation {p['budget_deviation']}|{g['budget_deviation']}, "
            f"policy >= greedy: {row['policy_at_least_greedy']}"
        )
    if args.json:
        Path(args.json).write_text(
            json.dumps({"benchmark": "allocation_policy", "cases": rows}, indent=2) + "\n", encoding="utf-8"
        )
        print(f"figures written to {args.json}")
    return 0 if all(row["identical_to_reference"] for row in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
