"""The scoring core: worked examples (mirrored in docs/scoring.md), rounding, ties and properties."""

from decimal import Decimal as D
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluations.scoring import (
    BENCHMARK,
    EXPERT,
    USER_PANEL,
    ApplicationInput,
    ApplicationOutcome,
    BenchmarkObjective,
    Criterion,
    GateResult,
    PhaseResult,
    PhaseRules,
    Reason,
    ReviewerSheet,
    TieGroup,
    aggregate_totals,
    benchmark_points,
    evaluate_phase,
    objective_attainment,
    quantize_score,
    render_worked_example,
    trim_totals,
)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "scoring.md"

# Two expert criteria that add up to 100, the technology criterion breaking ties first.
SELECTION = PhaseRules(
    criteria=(Criterion("technology", D(60)), Criterion("plan", D(40))),
    teams_to_keep=2,
    tie_break_keys=("technology", "plan"),
)


def sheets(*scores: tuple[str, str]) -> tuple[ReviewerSheet, ...]:
    """Reviewer sheets r1, r2, ... from (technology, plan) pairs."""
    return tuple(
        ReviewerSheet(f"r{n}", {"technology": D(technology), "plan": D(plan)})
        for n, (technology, plan) in enumerate(scores, start=1)
    )


def outcome(application_id: str, **fields) -> ApplicationOutcome:
    """An expected outcome; the fields a test does not name take their usual values."""
    values = {
        "application_id": application_id,
        "reviewer_totals": (),
        "dropped_totals": (),
        "expert_score": None,
        "score": None,
        "criterion_means": {},
        "passed": True,
        "gate_failed": False,
        "failed_reasons": (),
        "rank": None,
        "tie_break": None,
        "decision": "selected",
        "reserve_rank": None,
    }
    values.update(fields)
    return ApplicationOutcome(**values)


# ------------------------------------------------------------------ worked example 1: 3, 5 and 7 reviewers

EXAMPLE_REVIEWERS = (
    # 3 reviewers: the plain mean of 71.0, 74.5 and 80.0.
    ApplicationInput("A3", sheets(("42.0", "29.0"), ("45.5", "29.0"), ("48.0", "32.0"))),
    # 5 reviewers: 62.0 and 95.0 are dropped; the mean of the middle three.
    ApplicationInput(
        "B5", sheets(("37.0", "25.0"), ("42.5", "28.0"), ("43.0", "29.0"), ("45.5", "30.0"), ("57.0", "38.0"))
    ),
    # 7 reviewers: 60.0 and only one of the two 88.0 totals are dropped.
    ApplicationInput(
        "C7",
        sheets(
            ("36.0", "24.0"),
            ("43.0", "28.5"),
            ("44.0", "29.0"),
            ("44.5", "30.0"),
            ("45.0", "31.0"),
            ("53.0", "35.0"),
            ("52.0", "36.0"),
        ),
    ),
)


def test_evaluate_phase_with_3_5_and_7_reviewers_trims_only_from_five():
    result = evaluate_phase(SELECTION, EXAMPLE_REVIEWERS)

    assert result == PhaseResult(
        outcomes=(
            outcome(
                "C7",
                reviewer_totals=(D("60.0"), D("71.5"), D("73.0"), D("74.5"), D("76.0"), D("88.0"), D("88.0")),
                dropped_totals=(D("60.0"), D("88.0")),
                expert_score=D("76.60"),  # (71.5 + 73.0 + 74.5 + 76.0 + 88.0) / 5
                score=D("76.60"),
                # Contributions of the kept sheets: the two sheets at 88.0 share the one drop (½ each):
                # technology (43 + 44 + 44.5 + 45 + ½·53 + ½·52) / 5 = 45.80, plan 154 / 5 = 30.80; 45.80 + 30.80 = 76.60
                criterion_means={"technology": D("45.80"), "plan": D("30.80")},
                rank=1,
            ),
            outcome(
                "A3",
                reviewer_totals=(D("71.0"), D("74.5"), D("80.0")),
                expert_score=D("75.17"),  # 225.5 / 3 = 75.1666...
                score=D("75.17"),
                criterion_means={"technology": D("45.17"), "plan": D("30.00")},  # 135.5 / 3, 90 / 3
                rank=2,
            ),
            outcome(
                "B5",
                reviewer_totals=(D("62.0"), D("70.5"), D("72.0"), D("75.5"), D("95.0")),
                dropped_totals=(D("62.0"), D("95.0")),
                expert_score=D("72.67"),  # 218 / 3 = 72.666...; the plain mean would be 75.00
                score=D("72.67"),
                criterion_means={
                    "technology": D("43.67"),
                    "plan": D("29.00"),
                },  # the three kept sheets: 131 / 3, 87 / 3
                rank=3,
                decision="reserve",
                reserve_rank=1,
            ),
        ),
        needs_officer_decision=(),
    )
    assert result.ready_to_finalise


def test_evaluate_phase_plain_mean_method_keeps_every_total():
    rules = PhaseRules(criteria=SELECTION.criteria, teams_to_keep=2, method="mean")

    result = evaluate_phase(rules, EXAMPLE_REVIEWERS[1:2])

    assert (result.outcomes[0].dropped_totals, result.outcomes[0].score) == ((), D("75.00"))


# ------------------------------------------------------------------ worked example 2: a tie settled by a criterion

STAGE = PhaseRules(
    criteria=SELECTION.criteria,
    teams_to_keep=1,
    tie_break_keys=("technology", "plan"),
    is_selection=False,
)
EXAMPLE_CRITERION_TIE = (
    ApplicationInput("E", sheets(("46.0", "34.0"), ("47.0", "33.0"), ("48.0", "32.0"))),
    ApplicationInput("D", sheets(("50.0", "30.0"), ("48.0", "32.0"), ("49.0", "31.0"))),
    ApplicationInput("F", sheets(("40.0", "25.0"), ("40.0", "25.0"), ("40.0", "25.0"))),
)


def test_evaluate_phase_tie_is_settled_by_the_first_tie_break_criterion():
    result = evaluate_phase(STAGE, EXAMPLE_CRITERION_TIE)

    totals = (D("80.0"), D("80.0"), D("80.0"))
    assert result == PhaseResult(
        outcomes=(
            outcome(
                "D",
                reviewer_totals=totals,
                expert_score=D("80.00"),
                score=D("80.00"),
                criterion_means={"technology": D("49.00"), "plan": D("31.00")},
                rank=1,
                tie_break="criteria",
                decision="kept",
            ),
            outcome(
                "E",
                reviewer_totals=totals,
                expert_score=D("80.00"),
                score=D("80.00"),
                criterion_means={"technology": D("47.00"), "plan": D("33.00")},
                rank=2,
                tie_break="criteria",
                decision="reserve",
                reserve_rank=1,
            ),
            outcome(
                "F",
                reviewer_totals=(D("65.0"), D("65.0"), D("65.0")),
                expert_score=D("65.00"),
                score=D("65.00"),
                criterion_means={"technology": D("40.00"), "plan": D("25.00")},
                passed=False,
                failed_reasons=(Reason("below_threshold", {"score": "65.00", "threshold": "70"}),),
                rank=3,
                decision="eliminated",
            ),
        ),
        needs_officer_decision=(),
    )


def test_evaluate_phase_second_tie_break_criterion_is_used_when_the_first_is_equal():
    rules = PhaseRules(criteria=SELECTION.criteria, teams_to_keep=1, tie_break_keys=("technology", "plan"))
    applications = (
        ApplicationInput("P", sheets(("48.0", "32.0"), ("50.0", "30.0"))),  # technology 49.00, plan 31.00
        ApplicationInput("Q", sheets(("49.0", "32.0"), ("49.0", "30.0"))),  # technology 49.00, plan 31.00
        ApplicationInput("R", sheets(("49.0", "33.0"), ("49.0", "29.0"))),  # same again: all three tie on both
        ApplicationInput("S", sheets(("49.0", "31.0"), ("49.0", "30.0"))),  # 79.50
    )

    result = evaluate_phase(rules, applications)

    assert [(o.application_id, o.rank, o.tie_break, o.decision) for o in result.outcomes] == [
        ("P", 1, "undecided", "undecided"),
        ("Q", 1, "undecided", "undecided"),
        ("R", 1, "undecided", "undecided"),
        ("S", 4, None, "reserve"),
    ]
    assert result.outcome("S").reserve_rank == 3
    assert result.needs_officer_decision == (TieGroup(("P", "Q", "R"), D("80.00"), 1, "selection"),)


# ------------------------------------------------------------------ worked example 3: a tie for the officer

EXAMPLE_OFFICER_TIE = (
    ApplicationInput("G", sheets(("50.0", "30.0"), ("48.0", "32.0"), ("49.0", "31.0"))),
    ApplicationInput("H", sheets(("49.0", "31.0"), ("50.0", "30.0"), ("48.0", "32.0"))),
    ApplicationInput("I", sheets(("54.0", "36.0"), ("54.0", "36.0"), ("54.0", "36.0"))),
)
TIED_MEANS = {"technology": D("49.00"), "plan": D("31.00")}


def test_evaluate_phase_tie_across_the_last_place_needs_an_officer_decision():
    result = evaluate_phase(SELECTION, EXAMPLE_OFFICER_TIE)

    tied = {"reviewer_totals": (D("80.0"),) * 3, "expert_score": D("80.00"), "score": D("80.00")}
    assert result == PhaseResult(
        outcomes=(
            outcome(
                "I",
                reviewer_totals=(D("90.0"),) * 3,
                expert_score=D("90.00"),
                score=D("90.00"),
                criterion_means={"technology": D("54.00"), "plan": D("36.00")},
                rank=1,
            ),
            outcome("G", **tied, criterion_means=TIED_MEANS, rank=2, tie_break="undecided", decision="undecided"),
            outcome("H", **tied, criterion_means=TIED_MEANS, rank=2, tie_break="undecided", decision="undecided"),
        ),
        needs_officer_decision=(TieGroup(("G", "H"), D("80.00"), 2, "selection"),),
    )
    assert not result.ready_to_finalise


def test_evaluate_phase_officer_decision_settles_the_tie():
    result = evaluate_phase(SELECTION, EXAMPLE_OFFICER_TIE, officer_order=["H", "G"])

    assert [(o.application_id, o.rank, o.tie_break, o.decision, o.reserve_rank) for o in result.outcomes] == [
        ("I", 1, None, "selected", None),
        ("H", 2, "officer_decision", "selected", None),
        ("G", 3, "officer_decision", "reserve", 1),
    ]
    assert result.needs_officer_decision == ()
    assert result.ready_to_finalise


def test_evaluate_phase_officer_order_naming_part_of_a_tie_settles_nothing():
    result = evaluate_phase(SELECTION, EXAMPLE_OFFICER_TIE, officer_order=["H"])

    assert result.needs_officer_decision == (TieGroup(("G", "H"), D("80.00"), 2, "selection"),)


def test_evaluate_phase_officer_order_does_not_override_tie_break_criteria():
    result = evaluate_phase(STAGE, EXAMPLE_CRITERION_TIE, officer_order=["E", "D"])

    assert [(o.application_id, o.tie_break) for o in result.outcomes[:2]] == [("D", "criteria"), ("E", "criteria")]


def test_evaluate_phase_tie_inside_the_reserve_list_shares_a_reserve_rank():
    rules = PhaseRules(criteria=SELECTION.criteria, teams_to_keep=1, tie_break_keys=("technology",))

    result = evaluate_phase(rules, EXAMPLE_OFFICER_TIE)

    assert [(o.application_id, o.rank, o.decision, o.reserve_rank) for o in result.outcomes] == [
        ("I", 1, "selected", None),
        ("G", 2, "reserve", 1),
        ("H", 2, "reserve", 1),
    ]
    assert result.needs_officer_decision == (TieGroup(("G", "H"), D("80.00"), 2, "reserve_order"),)


def test_evaluate_phase_tie_among_selected_applications_needs_an_officer_for_the_allocation_order():
    """Both selected, but the allocation favours the higher rank: their order needs a decision."""
    rules = PhaseRules(criteria=SELECTION.criteria, teams_to_keep=3)

    result = evaluate_phase(rules, EXAMPLE_OFFICER_TIE)

    assert [(o.application_id, o.rank, o.decision) for o in result.outcomes] == [
        ("I", 1, "selected"),
        ("G", 2, "selected"),
        ("H", 2, "selected"),
    ]
    assert [(g.application_ids, g.affects) for g in result.needs_officer_decision] == [(("G", "H"), "allocation_order")]
    assert not result.ready_to_finalise
    settled = evaluate_phase(rules, EXAMPLE_OFFICER_TIE, officer_order=["H", "G"])
    assert [(o.application_id, o.rank) for o in settled.outcomes] == [("I", 1), ("H", 2), ("G", 3)]
    assert settled.ready_to_finalise


def test_evaluate_phase_reserve_list_follows_the_ranking():
    rules = PhaseRules(criteria=SELECTION.criteria, teams_to_keep=1)
    applications = [
        ApplicationInput(name, sheets((technology, "30.0")))
        for name, technology in [("W", "45.0"), ("X", "55.0"), ("Y", "41.0"), ("Z", "50.0"), ("V", "35.0")]
    ]

    result = evaluate_phase(rules, applications)

    assert [(o.application_id, o.score, o.decision, o.reserve_rank) for o in result.outcomes] == [
        ("X", D("85.00"), "selected", None),
        ("Z", D("80.00"), "reserve", 1),
        ("W", D("75.00"), "reserve", 2),
        ("Y", D("71.00"), "reserve", 3),
        ("V", D("65.00"), "not_selected", None),
    ]


# ------------------------------------------------------------------ worked example 4: a stage evaluation

STAGE_RULES = PhaseRules(
    criteria=(
        Criterion("benchmark", D(40), source=BENCHMARK),
        Criterion("expert", D(35), source=EXPERT, threshold=D(21)),
        Criterion("user", D(25), source=USER_PANEL),
        Criterion("originality", D(0), is_gate=True),
    ),
    teams_to_keep=4,
    tie_break_keys=("benchmark",),
    is_selection=False,
)
PASS = GateResult(passed=True)


def stage_team(name: str, benchmark: str, expert: tuple[str, ...], user: str, gate: GateResult = PASS):
    return ApplicationInput(
        name,
        tuple(ReviewerSheet(f"r{n}", {"expert": D(score)}) for n, score in enumerate(expert, start=1)),
        criterion_points={"benchmark": D(benchmark), "user": D(user)},
        gate_results={"originality": gate},
    )


FINE_TUNED = GateResult(passed=False, reason="Fine-tuned from a foreign model's released weights.")
EXAMPLE_STAGE = (
    stage_team("T1", "40.00", ("33.0", "34.0", "32.0"), "24.0", gate=FINE_TUNED),
    stage_team("T2", "38.95", ("30.0", "31.5", "29.0"), "20.5"),
    stage_team("T3", "35.20", ("28.0", "27.5", "29.5"), "18.0"),
    stage_team("T4", "30.00", ("25.0", "24.0", "26.0"), "16.25"),
    stage_team("T5", "28.40", ("22.0", "23.0", "22.5"), "15.0"),
    stage_team("T6", "39.00", ("20.0", "21.0", "19.5"), "22.0"),
)


def test_evaluate_phase_stage_gate_threshold_and_criterion_threshold_leave_places_empty():
    result = evaluate_phase(STAGE_RULES, EXAMPLE_STAGE)

    assert result == PhaseResult(
        outcomes=(
            outcome(
                "T1",
                reviewer_totals=(D("32.0"), D("33.0"), D("34.0")),
                expert_score=D("33.00"),
                score=D("97.00"),  # the top score, but the gate failed
                criterion_means={"benchmark": D("40.00"), "expert": D("33.00"), "user": D("24.0")},
                passed=False,
                gate_failed=True,
                failed_reasons=(
                    Reason(
                        "gate_failed",
                        {"criterion": "originality", "reason": "Fine-tuned from a foreign model's released weights."},
                    ),
                ),
                rank=1,
                decision="eliminated",
            ),
            outcome(
                "T2",
                reviewer_totals=(D("29.0"), D("30.0"), D("31.5")),
                expert_score=D("30.17"),
                score=D("89.62"),  # 38.95 + 90.5 / 3 + 20.5 = 89.61666...
                criterion_means={"benchmark": D("38.95"), "expert": D("30.17"), "user": D("20.5")},
                rank=2,
                decision="kept",
            ),
            outcome(
                "T3",
                reviewer_totals=(D("27.5"), D("28.0"), D("29.5")),
                expert_score=D("28.33"),
                score=D("81.53"),  # 35.20 + 85 / 3 + 18.0 = 81.5333...
                criterion_means={"benchmark": D("35.20"), "expert": D("28.33"), "user": D("18.0")},
                rank=3,
                decision="kept",
            ),
            outcome(
                "T6",
                reviewer_totals=(D("19.5"), D("20.0"), D("21.0")),
                expert_score=D("20.17"),
                score=D("81.17"),  # 39.00 + 60.5 / 3 + 22.0 = 81.1666...: above 70, below the expert threshold
                criterion_means={"benchmark": D("39.00"), "expert": D("20.17"), "user": D("22.0")},
                passed=False,
                failed_reasons=(
                    Reason("below_criterion_threshold", {"criterion": "expert", "figure": "20.17", "threshold": "21"}),
                ),
                rank=4,
                decision="eliminated",
            ),
            outcome(
                "T4",
                reviewer_totals=(D("24.0"), D("25.0"), D("26.0")),
                expert_score=D("25.00"),
                score=D("71.25"),
                criterion_means={"benchmark": D("30.00"), "expert": D("25.00"), "user": D("16.25")},
                rank=5,
                decision="kept",
            ),
            outcome(
                "T5",
                reviewer_totals=(D("22.0"), D("22.5"), D("23.0")),
                expert_score=D("22.50"),
                score=D("65.90"),
                criterion_means={"benchmark": D("28.40"), "expert": D("22.50"), "user": D("15.0")},
                passed=False,
                failed_reasons=(Reason("below_threshold", {"score": "65.90", "threshold": "70"}),),
                rank=6,
                decision="eliminated",
            ),
        ),
        needs_officer_decision=(),
    )
    assert [o.application_id for o in result.outcomes if o.decision == "kept"] == ["T2", "T3", "T4"]  # 3 of 4 places


def test_evaluate_phase_zero_places_puts_every_passing_application_in_reserve():
    rules = PhaseRules(criteria=SELECTION.criteria, teams_to_keep=0)

    result = evaluate_phase(rules, EXAMPLE_REVIEWERS)

    assert [(o.decision, o.reserve_rank) for o in result.outcomes] == [("reserve", 1), ("reserve", 2), ("reserve", 3)]


def test_evaluate_phase_incomplete_inputs_are_reported_not_decided():
    applications = (
        ApplicationInput("no-reviews", criterion_points={"benchmark": D(30), "user": D(20)}),
        ApplicationInput(
            "no-points",
            (ReviewerSheet("r1", {"expert": D(30)}),),
            criterion_points={"benchmark": D(30)},
            gate_results={"originality": PASS},
        ),
    )

    result = evaluate_phase(STAGE_RULES, applications)

    assert [(o.application_id, o.score, o.rank, o.failed_reasons) for o in result.outcomes] == [
        ("no-reviews", None, None, (Reason("gate_undecided", {"criterion": "originality"}), Reason("no_reviews"))),
        ("no-points", None, None, (Reason("points_missing", {"criterion": "user"}),)),
    ]
    assert [o.decision for o in result.outcomes] == ["eliminated", "eliminated"]
    assert not result.complete
    assert not result.ready_to_finalise


# ------------------------------------------------------------------ rounding


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("70.125", "70.13"),
        ("70.124999", "70.12"),
        ("70.135", "70.14"),
        ("69.995", "70.00"),
        ("0.005", "0.01"),
        ("80", "80.00"),
    ],
)
def test_quantize_score_rounds_half_up_to_two_places(value, expected):
    assert str(quantize_score(D(value))) == expected


def test_aggregate_totals_rounds_an_exact_half_up():
    assert aggregate_totals([D("70.0"), D("70.1"), D("70.2"), D("70.2")]) == D("70.13")  # 280.5 / 4 = 70.125


ROUNDING = PhaseRules(
    criteria=(Criterion("expert", D(75)), Criterion("user", D(25), source=USER_PANEL)), teams_to_keep=1
)


@pytest.mark.parametrize(
    ("expert", "user", "expected"),
    [
        (("50.0", "50.1"), "20.075", "70.13"),  # 50.05 + 20.075 = 70.125 exactly: half up
        (("50.0", "50.1"), "20.074999", "70.12"),  # 70.124999
        (
            ("50.0", "50.0", "50.1"),
            "20.0917",
            "70.13",
        ),  # 50.0333... + 20.0917 = 70.12503...; 50.03 + 20.09 would be 70.12
        (("50.0", "50.1"), "19.945", "70.00"),  # 69.995 is published as 70.00, which meets the threshold of 70
    ],
)
def test_evaluate_phase_rounds_half_up_once_at_the_end(expert, user, expected):
    reviewers = tuple(ReviewerSheet(f"r{n}", {"expert": D(score)}) for n, score in enumerate(expert, start=1))

    result = evaluate_phase(ROUNDING, [ApplicationInput("A", reviewers, criterion_points={"user": D(user)})])

    assert (result.outcomes[0].score, result.outcomes[0].passed) == (D(expected), True)


# ------------------------------------------------------------------ benchmark attainment


OBJECTIVES = (
    BenchmarkObjective("KMMLU", "reference model A", D("80.0")),
    BenchmarkObjective("HAE-RAE", "reference model B", D("70.0")),
    BenchmarkObjective("KoBEST", "reference model A", D("90.0")),
)


def test_objective_attainment_ratio_is_shown_to_four_places_and_compared_with_the_target():
    attainments = objective_attainment(OBJECTIVES, {"KMMLU": D("76.0"), "HAE-RAE": D("63.0")})

    assert [(a.team_score, a.ratio, a.met) for a in attainments] == [
        (D("76.0"), D("0.9500"), True),
        (D("63.0"), D("0.9000"), False),
        (None, D("0.0000"), False),  # no result: ratio 0
    ]


def test_benchmark_points_is_max_times_mean_share_of_target():
    attainments = objective_attainment(OBJECTIVES, {"KMMLU": D("76.0"), "HAE-RAE": D("63.0"), "KoBEST": D("95.0")})

    # shares: min(1, 0.95 / 0.95) = 1, 0.9 / 0.95 = 0.947368..., min(1, 1.0556 / 0.95) = 1
    # 40 × (2.947368...) / 3 = 39.2982... → 39.30
    assert benchmark_points(D(40), attainments) == D("39.30")


def test_benchmark_points_counts_a_missing_result_as_zero():
    attainments = objective_attainment(OBJECTIVES, {"KMMLU": D("76.0"), "HAE-RAE": D("63.0")})

    # (1 + 0.947368... + 0) / 3 × 40 = 25.9649... → 25.96
    assert benchmark_points(D(40), attainments) == D("25.96")


def test_objective_attainment_one_benchmark_against_two_reference_models():
    objectives = (
        BenchmarkObjective("KMMLU", "reference model A", D("80.0")),
        BenchmarkObjective("KMMLU", "reference model B", D("84.0"), target_ratio=D("0.90")),
    )

    attainments = objective_attainment(objectives, {"KMMLU": D("75.6")})

    assert [(a.ratio, a.met) for a in attainments] == [(D("0.9450"), False), (D("0.9000"), True)]


# ------------------------------------------------------------------ inputs refused


@pytest.mark.parametrize(
    ("scores", "message"),
    [
        ({"technology": D("60.1"), "plan": D("30.0")}, "outside"),
        ({"technology": D("45.25"), "plan": D("30.0")}, "one decimal"),
        ({"technology": D("45.0")}, "missing"),
        ({"technology": D("45.0"), "plan": D("30.0"), "team": D("1.0")}, "unexpected"),
    ],
)
def test_evaluate_phase_refuses_an_inconsistent_sheet(scores, message):
    with pytest.raises(ValueError, match=message):
        evaluate_phase(SELECTION, [ApplicationInput("A", (ReviewerSheet("r1", scores),))])


def test_reviewer_sheet_refuses_floats():
    with pytest.raises(TypeError, match="Decimal"):
        ReviewerSheet("r1", {"technology": 45.5})


def test_evaluate_phase_refuses_an_officer_order_with_unknown_applications():
    with pytest.raises(ValueError, match="unknown"):
        evaluate_phase(SELECTION, EXAMPLE_OFFICER_TIE, officer_order=["G", "nobody"])


def test_phase_rules_refuse_a_tie_break_on_a_gate():
    with pytest.raises(ValueError, match="tie-break"):
        PhaseRules(criteria=STAGE_RULES.criteria, teams_to_keep=1, tie_break_keys=("originality",))


# ------------------------------------------------------------------ snapshot and documentation


def test_phase_result_as_dict_is_json_ready():
    result = evaluate_phase(SELECTION, EXAMPLE_OFFICER_TIE)

    snapshot = result.as_dict()

    assert snapshot["outcomes"][1] == {
        "application_id": "G",
        "reviewer_totals": ["80.0", "80.0", "80.0"],
        "dropped_totals": [],
        "expert_score": "80.00",
        "score": "80.00",
        "criterion_means": {"technology": "49.00", "plan": "31.00"},
        "passed": True,
        "gate_failed": False,
        "failed_reasons": [],
        "rank": 2,
        "tie_break": "undecided",
        "decision": "undecided",
        "reserve_rank": None,
    }
    assert snapshot["needs_officer_decision"] == [
        {"application_ids": ["G", "H"], "score": "80.00", "rank": 2, "affects": "selection"}
    ]


@pytest.mark.parametrize(
    ("rules", "applications", "officer_order"),
    [
        (SELECTION, EXAMPLE_REVIEWERS, ()),
        (STAGE, EXAMPLE_CRITERION_TIE, ()),
        (SELECTION, EXAMPLE_OFFICER_TIE, ()),
        (SELECTION, EXAMPLE_OFFICER_TIE, ("H", "G")),
        (STAGE_RULES, EXAMPLE_STAGE, ()),
    ],
    ids=["reviewers", "criterion-tie", "officer-tie", "officer-decided", "stage"],
)
def test_docs_scoring_shows_the_worked_examples_as_computed(rules, applications, officer_order):
    table = render_worked_example(evaluate_phase(rules, applications, officer_order=officer_order))

    assert table in DOCS.read_text(encoding="utf-8")


# ------------------------------------------------------------------ properties

one_decimal_totals = st.lists(
    st.integers(min_value=0, max_value=1000).map(lambda tenths: D(tenths) / 10), min_size=1, max_size=12
)


@given(totals=one_decimal_totals, method=st.sampled_from(["trimmed_mean", "mean"]))
def test_aggregate_totals_lies_between_the_lowest_and_highest_total(totals, method):
    assert min(totals) <= aggregate_totals(totals, method) <= max(totals)


@given(totals=one_decimal_totals, data=st.data())
def test_aggregate_totals_ignores_the_order_of_reviewers(totals, data):
    shuffled = data.draw(st.permutations(totals))

    assert aggregate_totals(shuffled) == aggregate_totals(totals)


@given(total=one_decimal_totals.map(lambda totals: totals[0]), count=st.integers(min_value=1, max_value=12))
def test_aggregate_totals_of_equal_totals_is_that_total(total, count):
    assert aggregate_totals([total] * count) == quantize_score(total)


@given(totals=one_decimal_totals)
def test_trim_totals_drops_one_from_each_end_from_five_reviewers(totals):
    kept, dropped = trim_totals(totals)

    if len(totals) >= 5:
        assert (len(kept), dropped) == (len(totals) - 2, (min(totals), max(totals)))
    else:
        assert (kept, dropped) == (tuple(sorted(totals)), ())


phase_applications = st.lists(
    st.tuples(
        st.lists(st.tuples(st.integers(0, 600), st.integers(0, 400)), min_size=1, max_size=6),
        st.booleans(),
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=75)
@given(drawn=phase_applications, teams_to_keep=st.integers(0, 5), data=st.data())
def test_evaluate_phase_decisions_respect_places_passing_and_ranking(drawn, teams_to_keep, data):
    rules = PhaseRules(
        criteria=(*SELECTION.criteria, Criterion("gate", D(0), is_gate=True)),
        teams_to_keep=teams_to_keep,
        tie_break_keys=("technology",),
    )
    applications = [
        ApplicationInput(
            f"A{n}",
            tuple(
                ReviewerSheet(f"r{m}", {"technology": D(t) / 10, "plan": D(p) / 10}) for m, (t, p) in enumerate(scores)
            ),
            gate_results={"gate": GateResult(passed=gate)},
        )
        for n, (scores, gate) in enumerate(drawn)
    ]

    result = evaluate_phase(rules, applications)
    shuffled = evaluate_phase(rules, data.draw(st.permutations(applications)))

    selected = [o for o in result.outcomes if o.decision == "selected"]
    undecided = [o for o in result.outcomes if o.decision == "undecided"]
    assert len(selected) <= teams_to_keep
    assert all(o.passed for o in selected + undecided)
    assert all(o.decision in ("not_selected",) for o in result.outcomes if not o.passed)
    ranks = [o.rank for o in result.outcomes]
    assert ranks == sorted(ranks)
    scores = [o.score for o in result.outcomes]
    assert scores == sorted(scores, reverse=True)
    reserve = [o.reserve_rank for o in result.outcomes if o.decision == "reserve"]
    assert reserve == sorted(reserve)
    if not undecided:  # places are filled from the passing applications, as far as they go
        passing = sum(o.passed for o in result.outcomes)
        assert len(selected) == min(teams_to_keep, passing)
    assert {o.application_id: o for o in shuffled.outcomes} == {o.application_id: o for o in result.outcomes}


def test_objective_is_met_by_the_exact_ratio_not_the_rounded_one():
    target = BenchmarkObjective("KMMLU", "reference model A", D("100"), D("0.9"))
    (below,) = objective_attainment([target], {"KMMLU": D("89.996")})
    (exact,) = objective_attainment([target], {"KMMLU": D("90")})
    assert (below.ratio, below.met) == (D("0.9000"), False)  # shown as 0.9000, but 0.89996 < 0.9
    assert exact.met is True
