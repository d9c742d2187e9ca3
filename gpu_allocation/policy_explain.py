"""The sentences of the allocation policy's explanations, in English and Korean (a pure module:
no database, no Django).

``gpu_allocation/policy.py`` decides; this module only words what it decided. Each function
takes the figures its sentence prints (plain numbers, strings and the small tuples below) and
returns ``(english, korean)``; the function is named after the binding code it words
(``docs/allocation.md`` §3 lists them). The policy calls these functions only when a team's
sentences are first read, so a solve whose explanations are never shown builds none.
Amounts are written in the portal's one KRW wording (``portal/formatting.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import NamedTuple, Protocol

from portal.formatting import digits, krw, krw_en, krw_korean

Sentences = tuple[str, str]


class TierNote(NamedTuple):
    """What a team's explanation needs about one tier it holds nodes in."""

    models: str  # the GPU models of the tier's clusters, e.g. "H100"
    nodes: int  # the team's share of the tier
    clusters: int  # clusters of the tier it uses
    largest: int  # nodes of the tier's largest cluster
    proven: bool  # the tier's layout is optimal (the search finished)


class Neighbours(NamedTuple):
    """Nodes held before and reserved after a team, split by whether the other teams rank above it
    (below it) or share its rank, so that no sentence calls a team of the same rank higher-ranked."""

    higher_nodes: int  # teams with a better rank
    same_before_nodes: int  # teams of the same rank placed before it (by team id)
    same_before_teams: int
    lower_reserved_nodes: int  # floors held by teams with a worse rank
    lower_reserved_teams: int
    same_reserved_nodes: int  # floors held by teams of the same rank placed after it
    same_reserved_teams: int


class TieRecord(Protocol):
    """How a team's order against one other application of the same score was settled
    (the policy's ``TieBreak``)."""

    other: str
    other_rank: int
    by: str  # "criterion", "officer" or "undecided"
    criterion: str
    own_mean: str
    other_mean: str
    reason: str


def _krw_ko(amount: int) -> str:
    """``4,512,000,000원(45억 1,200만 원)`` — the figure, and the reading Korean readers expect."""
    return f"{krw(amount)}({krw_korean(amount)})"


def _teams_en(n: int) -> str:
    return f"{n} team{'s' if n != 1 else ''}"


def _percent(share: Decimal) -> str:
    """``0.25`` → ``25%`` (no exponent, no trailing zeros)."""
    text = format((share * 100).normalize(), "f")
    return f"{'0' if text in ('-0', '0') else text}%"


# --------------------------------------------------------------------------------------------
# Refusal
# --------------------------------------------------------------------------------------------


def envelope_below_minimum(*, envelope: int, teams: int, budget_min: int, required: int, shortfall: int) -> Sentences:
    return (
        f"The data-budget envelope of {krw_en(envelope)} cannot give each of the {teams} active "
        f"teams the minimum of {krw_en(budget_min)}: that needs {krw_en(required)}, "
        f"{krw_en(shortfall)} more. Raise the envelope or lower the minimum, then run the allocation again.",
        f"데이터 예산 총액 {_krw_ko(envelope)}으로는 활동 중인 {teams}개 팀에 팀당 최소 "
        f"{_krw_ko(budget_min)}을 줄 수 없습니다. 필요한 금액은 {_krw_ko(required)}으로 "
        f"{_krw_ko(shortfall)}이 부족합니다. 총액을 늘리거나 최소액을 낮춘 뒤 배분을 다시 실행하십시오.",
    )


# --------------------------------------------------------------------------------------------
# Rank
# --------------------------------------------------------------------------------------------


def rank_tie(*, rank: int, score: str, ties: Sequence[TieRecord]) -> Sentences:
    """How the team's place among equal phase scores was settled, one part per tied application."""
    en_parts, ko_parts = [], []
    for tie in ties:
        if tie.other_rank > rank:
            side_en, side_ko = "it ranks above", "앞 순위입니다"
        elif tie.other_rank < rank:
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
    n = len(ties)
    return (
        f"Rank {rank}: its phase score of {score} equals that of {n} other application{'s' if n != 1 else ''}; "
        + "; ".join(en_parts)
        + ".",
        f"{rank}위: 단계 평가 점수 {score}점이 다른 {n}개 신청과 같습니다. " + "; ".join(ko_parts) + ".",
    )


# --------------------------------------------------------------------------------------------
# GPUs
# --------------------------------------------------------------------------------------------


def supplier(*, members: str) -> Sentences:
    who_en = (
        f"a member organisation of this team's consortium ({members})"
        if members
        else ("a member organisation of this team's consortium")
    )
    who_ko = f"이 팀 컨소시엄의 참여 기관({members})" if members else "이 팀 컨소시엄의 참여 기관"
    return (
        f"It receives no GPUs: {who_en} is flagged as a GPU supplier to the programme, and under the "
        "programme's rule a team receives no GPUs while any of its member organisations supplies GPUs.",
        f"GPU를 배정하지 않습니다. {who_ko}이 사업의 GPU 공급 기관으로 지정되어 있으며, 사업 규칙에 따라 "
        "참여 기관 중 하나라도 GPU를 공급하는 동안에는 그 팀에 GPU를 배정하지 않습니다.",
    )


def no_request() -> Sentences:
    return ("The team requested no GPUs.", "이 팀은 GPU를 요청하지 않았습니다.")


def below_one_node(*, node_size: int, limited_by: str, cap: int, limit: int) -> Sentences:
    what_en = (
        f"the per-team cap of {digits(cap)} GPUs"
        if limited_by == "team_cap"
        else f"its request of {digits(limit)} GPUs"
    )
    what_ko = f"팀당 상한 {digits(cap)}개" if limited_by == "team_cap" else f"요청한 {digits(limit)}개"
    return (
        f"GPUs are granted in whole nodes of {node_size}, and {what_en} is less than one node, so it receives none.",
        f"GPU는 {node_size}개짜리 노드 단위로만 배정하는데 {what_ko}가 노드 1개보다 적어 배정하지 않습니다.",
    )


def team_cap(*, cap: int, requested: int) -> Sentences:
    return (
        f"Limited by the per-team cap of {digits(cap)} GPUs (it requested {digits(requested)}).",
        f"팀당 상한인 {digits(cap)}개까지 배정했습니다(요청 {digits(requested)}개).",
    )


def request(*, requested: int) -> Sentences:
    return (
        f"Limited by its own request of {digits(requested)} GPUs.",
        f"자체 요청량인 GPU {digits(requested)}개까지 배정했습니다.",
    )


def node_rounding(*, node_size: int, limit: int, rounded: int) -> Sentences:
    return (
        f"GPUs are granted in whole nodes of {node_size}, so its limit of {digits(limit)} GPUs is rounded down to {digits(rounded)}.",
        f"GPU는 {node_size}개짜리 노드 단위로만 배정하므로 한도 {digits(limit)}개를 {digits(rounded)}개로 내림했습니다.",
    )


def floor(*, floor_gpus: int, floor_size_gpus: int, floor_share: Decimal) -> Sentences:
    return (
        f"It holds its guaranteed floor of {digits(floor_gpus)} GPUs: every eligible team is first given up to "
        f"{digits(floor_size_gpus)} GPUs ({_percent(floor_share)} of an equal share of the pool).",
        f"최소 보장 물량 {digits(floor_gpus)}개를 받았습니다. 모든 대상 팀에는 먼저 최대 {digits(floor_size_gpus)}개"
        f"(풀 균등 배분량의 {_percent(floor_share)})를 보장합니다.",
    )


def no_floor(*, floor_gpus: int) -> Sentences:
    return (
        f"The pool is too small to give every eligible team its floor of {digits(floor_gpus)} GPUs; floors go to "
        "teams in rank order (teams sharing a rank by team number), and a floor is never taken from a team "
        "before it in that order.",
        f"GPU 풀이 모든 대상 팀에 최소 보장 물량({digits(floor_gpus)}개)을 주기에 부족합니다. 최소 보장은 순위 순서(같은 "
        "순위는 팀 번호 순)로 배정하며, 앞선 팀의 몫을 줄여 뒤의 팀에 주지 않습니다.",
    )


def pool_exhausted(*, granted: int, rounded: int, around: Neighbours, node_size: int) -> Sentences:
    g = node_size
    en = f"The pool ran out: it received {digits(granted)} of the {digits(rounded)} GPUs it could take."
    ko = f"GPU 풀이 소진되어 받을 수 있는 {digits(rounded)}개 중 {digits(granted)}개를 받았습니다."
    if around.higher_nodes:
        en += f" Higher-ranked teams come first and hold {digits(around.higher_nodes * g)} GPUs."
        ko += f" 상위 순위 팀이 먼저 {digits(around.higher_nodes * g)}개를 받았습니다."
    if around.same_before_nodes:
        en += (
            f" {_teams_en(around.same_before_teams)} sharing its rank "
            f"{'come' if around.same_before_teams != 1 else 'comes'} before it by team number and "
            f"{'hold' if around.same_before_teams != 1 else 'holds'} {digits(around.same_before_nodes * g)} GPUs."
        )
        ko += (
            f" 같은 순위의 {around.same_before_teams}개 팀이 팀 번호 순으로 먼저 "
            f"{digits(around.same_before_nodes * g)}개를 받았습니다."
        )
    if around.lower_reserved_nodes:
        en += (
            f" {digits(around.lower_reserved_nodes * g)} GPUs are held as the floors of "
            f"{around.lower_reserved_teams} lower-ranked team{'s' if around.lower_reserved_teams != 1 else ''}."
        )
        ko += (
            f" 하위 순위 {around.lower_reserved_teams}개 팀의 최소 보장 물량으로 "
            f"{digits(around.lower_reserved_nodes * g)}개를 남겨 두었습니다."
        )
    if around.same_reserved_nodes:
        en += (
            f" {digits(around.same_reserved_nodes * g)} GPUs are held as the floors of "
            f"{_teams_en(around.same_reserved_teams)} sharing its rank."
        )
        ko += (
            f" 같은 순위 {around.same_reserved_teams}개 팀의 최소 보장 물량으로 "
            f"{digits(around.same_reserved_nodes * g)}개를 남겨 두었습니다."
        )
    return en, ko


def split(
    *, grants: Mapping[int, int], names: Mapping[int, str], notes: Sequence[TierNote], node_size: int
) -> Sentences:
    """Why a team's GPUs sit in several clusters (``grants``: nodes by cluster id; ``names``:
    cluster names by id): each sentence part is one fact that holds for the result."""
    g = node_size
    listed = ", ".join(names[c] for c in sorted(grants))
    en = [f"Its GPUs are spread over {len(grants)} clusters ({listed})."]
    ko = [f"배정 물량이 {len(grants)}개 클러스터({listed})에 나뉘어 있습니다."]
    if len(notes) > 1:
        parts = " and ".join(f"{digits(n.nodes * g)} {n.models}" for n in notes)
        parts_ko = ", ".join(f"{n.models} {digits(n.nodes * g)}개" for n in notes)
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
                f"Its {digits(n.nodes * g)} {n.models} GPUs are more than the largest {n.models} cluster holds "
                f"({digits(n.largest * g)})."
            )
            ko.append(
                f"받은 {n.models} {digits(n.nodes * g)}개가 가장 큰 {n.models} 클러스터({digits(n.largest * g)}개)보다 많습니다."
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
    return " ".join(en), " ".join(ko)


def baseline() -> Sentences:
    return (
        "Baseline for comparison: teams in rank order each take what they ask for until the pool and envelope run out.",
        "비교용 기준 배분: 순위대로 각 팀이 요청한 만큼 가져가며, GPU 풀과 예산이 소진되면 멈춥니다.",
    )


# --------------------------------------------------------------------------------------------
# Data budget
# --------------------------------------------------------------------------------------------


def budget_below_min(*, requested: int, budget_min: int) -> Sentences:
    return (
        f"Data budget: its request of {krw_en(requested)} is below the per-team minimum, so it receives the "
        f"minimum of {krw_en(budget_min)}.",
        f"데이터 예산: 요청액 {_krw_ko(requested)}이 팀당 최소액보다 적어 최소액 {_krw_ko(budget_min)}을 받습니다.",
    )


def budget_max(*, requested: int, budget_max: int) -> Sentences:
    return (
        f"Data budget: limited by the per-team maximum of {krw_en(budget_max)} (it requested {krw_en(requested)}).",
        f"데이터 예산: 팀당 최대액인 {_krw_ko(budget_max)}까지 배정했습니다(요청액 {_krw_ko(requested)}).",
    )


def budget_request(*, requested: int) -> Sentences:
    return (
        f"Data budget: received its request of {krw_en(requested)}.",
        f"데이터 예산: 요청액 {_krw_ko(requested)}을 받았습니다.",
    )


def budget_rounding(*, unit: int, ceiling: int, budget: int) -> Sentences:
    return (
        f"Budgets above the minimum move in whole units of {krw_en(unit)}, so {krw_en(ceiling)} "
        f"is rounded down to {krw_en(budget)}.",
        f"최소액을 넘는 예산은 {_krw_ko(unit)} 단위로 배정하므로 {_krw_ko(ceiling)}을 {_krw_ko(budget)}으로 내림했습니다.",
    )


def zero_score(*, budget_min: int) -> Sentences:
    return (
        f"Data budget: with a phase score of 0 it receives the minimum of {krw_en(budget_min)} only.",
        f"데이터 예산: 단계 평가 점수가 0점이어서 최소액 {_krw_ko(budget_min)}만 받습니다.",
    )


def envelope(*, envelope: int, budget_min: int, score: str, unit: int, budget: int, ceiling: int) -> Sentences:
    return (
        f"Data budget: the envelope of {krw_en(envelope)} is shared out. Every team first gets the minimum "
        f"of {krw_en(budget_min)}; the rest goes in proportion to phase scores (this team: "
        f"{score}), capped at each team's request, in whole units of {krw_en(unit)}. "
        f"It receives {krw_en(budget)} of the {krw_en(ceiling)} it could take.",
        f"데이터 예산: 총액 {_krw_ko(envelope)}을 나눕니다. 모든 팀이 먼저 최소액 {_krw_ko(budget_min)}을 "
        f"받고, 나머지는 요청액을 넘지 않는 범위에서 단계 평가 점수(이 팀: {score}점)에 비례하여 "
        f"{_krw_ko(unit)} 단위로 나눕니다. 받을 수 있는 {_krw_ko(ceiling)} 중 {_krw_ko(budget)}을 받습니다.",
    )
