"""The reviewer-assignment core: conflicts, coverage, balance and determinism, without a database."""

import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluations.assignment import (
    AssignmentApplication,
    AssignmentResult,
    AssignmentReviewer,
    Shortfall,
    assign_reviewers,
    conflict_reasons,
)


def app(application_id, *organisations):
    return AssignmentApplication(application_id, frozenset(organisations))


def test_conflict_reasons_name_affiliation_and_declaration():
    application = app("A", "org-1", "org-2")

    assert conflict_reasons(application, AssignmentReviewer("r1", frozenset({"org-2"}))) == ("affiliated",)
    assert conflict_reasons(application, AssignmentReviewer("r2", declared_conflicts=frozenset({"A"}))) == ("declared",)
    assert conflict_reasons(
        application, AssignmentReviewer("r3", frozenset({"org-1"}), declared_conflicts=frozenset({"A"}))
    ) == ("affiliated", "declared")
    assert conflict_reasons(application, AssignmentReviewer("r4", frozenset({"org-3"}))) == ()


def test_assign_reviewers_forced_by_conflicts_gives_the_only_valid_assignment():
    applications = [app("A", "org-a"), app("B", "org-b")]
    reviewers = [
        AssignmentReviewer("r1", frozenset({"org-a"})),  # affiliated with A's consortium
        AssignmentReviewer("r2"),
        AssignmentReviewer("r3", declared_conflicts=frozenset({"B"})),
    ]

    result = assign_reviewers(applications, reviewers, reviewers_per_application=2)

    assert result == AssignmentResult(
        assignments={"A": ("r2", "r3"), "B": ("r1", "r2")},
        new_assignments=(("A", "r2"), ("A", "r3"), ("B", "r1"), ("B", "r2")),
        released=(),
        loads={"r1": 1, "r2": 2, "r3": 1},
        shortfalls=(),
    )


def test_assign_reviewers_open_pool_fills_every_place_with_loads_one_apart():
    applications = [app(n, f"org-{n}") for n in range(10)]
    reviewers = [AssignmentReviewer(f"r{n}") for n in range(7)]

    result = assign_reviewers(applications, reviewers, reviewers_per_application=3)

    assert all(len(set(chosen)) == 3 for chosen in result.assignments.values())
    assert sorted(result.loads.values()) == [4, 4, 4, 4, 4, 5, 5]  # 30 places over 7 reviewers
    assert (result.complete, result.spread) == (True, 1)


def test_assign_reviewers_too_few_eligible_reviewers_is_a_shortfall():
    applications = [app("A", "org-x"), app("B", "org-y")]
    reviewers = [
        AssignmentReviewer("r1", frozenset({"org-x"})),
        AssignmentReviewer("r2", frozenset({"org-x"})),
        AssignmentReviewer("r3"),
    ]

    result = assign_reviewers(applications, reviewers, reviewers_per_application=2)

    assert result == AssignmentResult(
        assignments={"A": ("r3",), "B": ("r1", "r2")},
        new_assignments=(("A", "r3"), ("B", "r1"), ("B", "r2")),
        released=(),
        loads={"r1": 1, "r2": 1, "r3": 1},
        shortfalls=(Shortfall(application_id="A", required=2, assigned=1, eligible=1),),
    )
    assert not result.complete


def test_assign_reviewers_keeps_existing_assignments_and_counts_them():
    applications = [app(name) for name in "ABCD"]
    reviewers = [
        AssignmentReviewer("r1", assigned_application_ids=frozenset({"A"}), current_load=1),
        AssignmentReviewer("r2"),
        AssignmentReviewer("r3"),
        AssignmentReviewer("r4"),
    ]

    result = assign_reviewers(applications, reviewers, reviewers_per_application=1)

    assert result.assignments["A"] == ("r1",)
    assert all(pair[1] != "r1" for pair in result.new_assignments)  # r1 already carries 2
    assert result.loads == {"r1": 2, "r2": 1, "r3": 1, "r4": 1}


def test_assign_reviewers_more_kept_reviewers_than_required_are_all_kept():
    reviewers = [AssignmentReviewer(f"r{n}", assigned_application_ids=frozenset({"A"})) for n in range(3)]

    result = assign_reviewers([app("A")], reviewers, reviewers_per_application=2)

    assert (result.assignments, result.new_assignments) == ({"A": ("r0", "r1", "r2")}, ())


def test_assign_reviewers_releases_a_conflicted_existing_assignment_and_replaces_it():
    applications = [app("A", "org-a")]
    reviewers = [
        AssignmentReviewer("r1", frozenset({"org-a"}), assigned_application_ids=frozenset({"A"})),
        AssignmentReviewer("r2"),
    ]

    result = assign_reviewers(applications, reviewers, reviewers_per_application=1)

    assert result == AssignmentResult(
        assignments={"A": ("r2",)},
        new_assignments=(("A", "r2"),),
        released=(("A", "r1"),),
        loads={"r1": 0, "r2": 1},
    )


def test_assign_reviewers_assignment_outside_the_problem_counts_as_load():
    reviewers = [AssignmentReviewer("r1", assigned_application_ids=frozenset({"elsewhere"})), AssignmentReviewer("r2")]

    result = assign_reviewers([app("A")], reviewers, reviewers_per_application=1)

    assert (result.assignments, result.loads) == ({"A": ("r2",)}, {"r1": 1, "r2": 1})


def test_assign_reviewers_refuses_duplicate_ids():
    with pytest.raises(ValueError, match="reviewer ids"):
        assign_reviewers([app("A")], [AssignmentReviewer("r1"), AssignmentReviewer("r1")], reviewers_per_application=1)


def test_assign_reviewers_concentrated_conflicts_still_even_out_the_rest():
    # 60 reviewers work for a firm that is in 70% of the consortia: the other 40 must carry those
    # applications, and the 60 take all the others they can.
    rng = random.Random(5)
    applications = [app(n, "big-firm" if rng.random() < 0.7 else f"org-{n}") for n in range(300)]
    reviewers = [AssignmentReviewer(n, frozenset({"big-firm"}) if n < 60 else frozenset()) for n in range(100)]

    result = assign_reviewers(applications, reviewers, reviewers_per_application=5)

    firm = sorted(result.loads[n] for n in range(60))
    independent = sorted(result.loads[n] for n in range(60, 100))
    assert result.complete
    assert firm[-1] - firm[0] <= 1 and independent[-1] - independent[0] <= 1
    assert firm[-1] <= independent[0]


def test_assign_reviewers_scale_2000_applications_100_reviewers_five_each():
    rng = random.Random(2026)
    applications = [app(n, *rng.sample(range(800), rng.randint(2, 6))) for n in range(2000)]
    reviewers = [
        AssignmentReviewer(
            1000 + n,
            frozenset(rng.sample(range(800), rng.randint(0, 2))),
            declared_conflicts=frozenset(rng.sample(range(2000), 3)),
        )
        for n in range(100)
    ]

    result = assign_reviewers(applications, reviewers, reviewers_per_application=5)

    assert result.complete
    assert result.spread == 0  # 10,000 places over 100 reviewers
    by_id = {r.reviewer_id: r for r in reviewers}
    assert not any(
        conflict_reasons(application, by_id[reviewer])
        for application in applications
        for reviewer in result.assignments[application.application_id]
    )


MIDDLE_CASES = [
    # (k, applications as (id, organisations), reviewers as (id, organisations, current load), loads busiest first)
    (
        2,
        [(0, {1, 3}), (1, {0})],
        [("r0", {0}, 1), ("r1", set(), 2), ("r2", set(), 0), ("r3", {3}, 2), ("r4", {0}, 0)],
        [3, 2, 2, 1, 1],
    ),
    (
        1,
        [(0, {1, 3}), (1, set()), (2, {1})],
        [("r0", {1}, 0), ("r1", {3}, 0), ("r2", {1}, 0), ("r3", {3}, 0), ("r4", set(), 2), ("r5", set(), 2)],
        [3, 2, 1, 1, 0, 0],
    ),
    (
        2,
        [(0, {1, 2}), (1, {1, 3}), (2, {2, 3})],
        [("r0", {0}, 0), ("r1", {3}, 1), ("r2", {1}, 0), ("r3", set(), 2), ("r4", {3}, 0)],
        [3, 2, 2, 1, 1],
    ),
]


@pytest.mark.parametrize(("k", "applications", "reviewers", "loads"), MIDDLE_CASES)
def test_assign_reviewers_evens_out_loads_between_the_busiest_and_the_least_busy(k, applications, reviewers, loads):
    # Pools where the busiest and the least busy loads are forced: an assignment can still
    # leave 3, 3, 1 where 3, 2, 2 was possible.
    applications = [AssignmentApplication(i, frozenset(orgs)) for i, orgs in applications]
    reviewers = [AssignmentReviewer(i, frozenset(orgs), current_load=load) for i, orgs, load in reviewers]

    result = assign_reviewers(applications, reviewers, reviewers_per_application=k)

    assert sorted(result.loads.values(), reverse=True) == loads == min(brute_force(applications, reviewers, k))


# ------------------------------------------------------------------ properties against a brute force


@st.composite
def pools(draw, max_applications=4, max_reviewers=5):
    organisations = st.frozensets(st.integers(0, 5), max_size=2)
    applications = [
        AssignmentApplication(n, draw(organisations)) for n in range(draw(st.integers(1, max_applications)))
    ]
    ids = [a.application_id for a in applications]
    reviewers = [
        AssignmentReviewer(
            f"r{n}",
            draw(st.frozensets(st.integers(0, 5), max_size=1)),
            declared_conflicts=draw(st.frozensets(st.sampled_from(ids), max_size=1)),
            assigned_application_ids=draw(st.frozensets(st.sampled_from(ids), max_size=1)),
            current_load=draw(st.integers(0, 2)),
        )
        for n in range(draw(st.integers(1, max_reviewers)))
    ]
    return applications, reviewers, draw(st.integers(1, 3))


def brute_force(applications, reviewers, k):
    """Every assignment that fills as many places as possible; the loads sorted from the busiest."""
    kept = {a.application_id: [] for a in applications}
    pre = {}
    for reviewer in reviewers:
        pre[reviewer.reviewer_id] = reviewer.current_load
        for a in applications:
            if a.application_id in reviewer.assigned_application_ids and not conflict_reasons(a, reviewer):
                kept[a.application_id].append(reviewer.reviewer_id)
                pre[reviewer.reviewer_id] += 1
    options = []
    for a in applications:
        free = [
            r.reviewer_id
            for r in reviewers
            if not conflict_reasons(a, r) and r.reviewer_id not in kept[a.application_id]
        ]
        need = min(max(0, k - len(kept[a.application_id])), len(free))
        options.append(list(itertools.combinations(free, need)))
    results = []
    for choice in itertools.product(*options):
        loads = dict(pre)
        for chosen in choice:
            for reviewer_id in chosen:
                loads[reviewer_id] += 1
        results.append(sorted(loads.values(), reverse=True))
    return results


@settings(max_examples=300, deadline=None)
@given(pool=pools())
def test_assign_reviewers_is_valid_and_as_even_as_any_assignment(pool):
    applications, reviewers, k = pool

    result = assign_reviewers(applications, reviewers, reviewers_per_application=k)

    by_id = {r.reviewer_id: r for r in reviewers}
    for a in applications:
        chosen = result.assignments[a.application_id]
        assert len(set(chosen)) == len(chosen)
        assert not any(conflict_reasons(a, by_id[r]) for r in chosen)  # never a conflicted reviewer
        eligible = sum(not conflict_reasons(a, r) for r in reviewers)
        kept = sum(a.application_id in r.assigned_application_ids and r.reviewer_id in chosen for r in reviewers)
        assert len(chosen) == max(kept, min(k, eligible))  # exactly k whenever the pool allows
    assert {s.application_id for s in result.shortfalls} == {
        a.application_id for a in applications if len(result.assignments[a.application_id]) < k
    }
    possible = brute_force(applications, reviewers, k)
    ours = sorted(result.loads.values(), reverse=True)
    assert ours == min(possible)  # the busiest as idle as possible, then the next busiest, and so on
    if any(loads[0] - loads[-1] <= 1 for loads in possible):
        assert result.spread <= 1


@settings(max_examples=40, deadline=None)
@given(pool=pools(max_applications=12, max_reviewers=8), data=st.data())
def test_assign_reviewers_gives_the_same_result_whatever_the_input_order(pool, data):
    applications, reviewers, k = pool

    first = assign_reviewers(applications, reviewers, reviewers_per_application=k)
    again = assign_reviewers(
        data.draw(st.permutations(applications)), data.draw(st.permutations(reviewers)), reviewers_per_application=k
    )

    assert again == first
