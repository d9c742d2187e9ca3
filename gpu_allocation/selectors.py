"""Reads of the GPU pool and allocation runs, scoped to the user and shaped for pages and the API.

Every list is a queryset the caller paginates; each owns its ``select_related`` so a page costs a
constant number of queries whatever the number of rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import DecimalField, ExpressionWrapper, F, Prefetch, QuerySet, Sum

from gpu_allocation import policy
from gpu_allocation.models import Allocation, AllocationGrant, AllocationRun, GpuCluster
from portal.models import Programme


def programme_for_allocation(*, programme_id: int | str | None = None) -> Programme | None:
    """The programme a page is about: the one asked for, else the latest that has a GPU pool
    (an open call without one yet does not hide the allocation in force), else the latest."""
    programmes = Programme.objects.order_by("-year", "-id")
    if programme_id not in (None, ""):
        try:
            return programmes.filter(pk=int(programme_id)).first()
        except (TypeError, ValueError):
            return None
    return programmes.filter(gpu_clusters__isnull=False).distinct().first() or programmes.first()


def programmes_for_switch(limit: int = 50) -> list[Programme]:
    """The latest programmes (id and name), for the programme switch of the allocation pages."""
    return list(Programme.objects.order_by("-year", "-id").only("id", "name")[:limit])


def gpu_clusters_visible_to(user, *, programme: Programme | None = None) -> QuerySet[GpuCluster]:
    """Clusters of the pool: officers and administrators see all, others none."""
    if not (user.is_authenticated and user.is_officer):
        return GpuCluster.objects.none()
    clusters = GpuCluster.objects.select_related("programme").order_by("programme_id", "-period_start", "name", "id")
    return clusters.filter(programme=programme) if programme is not None else clusters


def gpu_pool_totals(clusters: QuerySet[GpuCluster]) -> dict:
    """Nodes, GPUs and H100-equivalents of the clusters in the pool (one query, all pages)."""
    gpus = F("nodes") * F("gpus_per_node")
    totals = clusters.filter(is_active=True).aggregate(
        total_nodes=Sum("nodes"),
        total_gpus=Sum(gpus),
        total_equivalents=Sum(
            ExpressionWrapper(gpus * F("equivalence"), output_field=DecimalField(max_digits=20, decimal_places=2))
        ),
    )
    return {key.removeprefix("total_"): value or 0 for key, value in totals.items()}


def allocation_runs_visible_to(user, *, programme: Programme | None = None) -> QuerySet[AllocationRun]:
    """Runs, newest first: officers and administrators see all, others none."""
    if not (user.is_authenticated and user.is_officer):
        return AllocationRun.objects.none()
    runs = AllocationRun.objects.select_related("programme", "created_by", "approved_by").order_by("-created_at", "-id")
    return runs.filter(programme=programme) if programme is not None else runs


def allocations_of_run(run: AllocationRun) -> list[Allocation]:
    """The run's allocations in rank order with consortium, lead and grants (three queries)."""
    return list(
        Allocation.objects.filter(run=run)
        .select_related("consortium__lead_organisation", "application")
        .prefetch_related(
            Prefetch("grants", queryset=AllocationGrant.objects.select_related("cluster").order_by("cluster_id"))
        )
        .order_by("rank", "id")
    )


def approved_run_in_force(*, programme: Programme) -> AllocationRun | None:
    return AllocationRun.objects.filter(
        programme=programme, approved_at__isnull=False, superseded_at__isnull=True
    ).first()


def allocation_run_baseline(run: AllocationRun) -> AllocationRun | None:
    """The approved allocation to compare ``run`` with: for an approved run, the one it
    superseded (the latest approved before it); otherwise the approved run in force."""
    approved = AllocationRun.objects.filter(programme_id=run.programme_id, approved_at__isnull=False).exclude(pk=run.pk)
    if run.approved_at is not None:
        return approved.filter(approved_at__lt=run.approved_at).order_by("-approved_at").first()
    return approved.filter(superseded_at__isnull=True).first()


@dataclass
class TeamChange:
    consortium_id: int
    name: str
    gpus_before: int | None
    gpus_after: int | None
    budget_before: int | None
    budget_after: int | None

    @property
    def gpus_delta(self) -> int:
        return (self.gpus_after or 0) - (self.gpus_before or 0)

    @property
    def budget_delta(self) -> int:
        return (self.budget_after or 0) - (self.budget_before or 0)

    @property
    def changed(self) -> bool:
        return self.gpus_delta != 0 or self.budget_delta != 0 or (self.gpus_before is None) != (self.gpus_after is None)


@dataclass
class RunDiff:
    baseline: AllocationRun
    rows: list[TeamChange] = field(default_factory=list)

    @property
    def any_change(self) -> bool:
        return any(row.changed for row in self.rows)


def allocation_run_diff(run: AllocationRun, allocations: list[Allocation]) -> RunDiff | None:
    """Per team, GPUs and budget before (baseline) → after (this run); teams that left or joined
    have ``None`` on the missing side. ``None`` if there is no approved allocation to compare with."""
    baseline = allocation_run_baseline(run)
    if baseline is None:
        return None
    before = {
        a.consortium_id: a
        for a in Allocation.objects.filter(run=baseline).select_related("consortium").order_by("rank")
    }
    after = {a.consortium_id: a for a in allocations}
    rows = []
    for consortium_id in list(after) + [c for c in before if c not in after]:
        b, a = before.get(consortium_id), after.get(consortium_id)
        rows.append(
            TeamChange(
                consortium_id=consortium_id,
                name=(a or b).consortium.name,
                gpus_before=b.total_gpus if b else None,
                gpus_after=a.total_gpus if a else None,
                budget_before=b.budget if b else None,
                budget_after=a.budget if a else None,
            )
        )
    return RunDiff(baseline=baseline, rows=rows)


def run_chart_config(allocations: list[Allocation], clusters: list[GpuCluster]) -> dict:
    """Chart.js config: a stacked bar per team, one dataset (colour) per cluster."""
    palette = ["#1f4e9c", "#e07b00", "#2a9d8f", "#8e44ad", "#c0392b", "#7f8c8d"]
    labels = [a.consortium.name for a in allocations]
    datasets = []
    for i, cluster in enumerate(clusters):
        data = []
        for allocation in allocations:
            data.append(sum(g.gpus for g in allocation.grants.all() if g.cluster_id == cluster.pk))
        datasets.append(
            {
                "label": f"{cluster.name} ({cluster.gpu_model})",
                "data": data,
                "backgroundColor": palette[i % len(palette)],
            }
        )
    return {
        "type": "bar",
        "data": {"labels": labels, "datasets": datasets},
        "options": {
            "scales": {"x": {"stacked": True}, "y": {"stacked": True, "beginAtZero": True}},
            "plugins": {"legend": {"position": "bottom"}},
        },
    }


def clusters_of_run(run: AllocationRun) -> list[GpuCluster]:
    """The clusters named in the run's frozen inputs, in id order."""
    ids = [c["id"] for c in (run.inputs or {}).get("clusters", [])]
    return list(GpuCluster.objects.filter(pk__in=ids).order_by("pk"))


# --------------------------------------------------------------------------------------------
# The phase's ranking around the active teams (read from the frozen results)
# --------------------------------------------------------------------------------------------


def phase_tie_breaks(*, phase_id: int) -> dict[int, tuple[policy.TieBreak, ...]]:
    """For each application of the phase that shares its phase score with others: how its order
    against each of them was settled — the first tie-break criterion whose unrounded means differ
    (named, with both means), else the officer's recorded decision ordering both (with its reason).
    Read from the frozen ``PhaseResult`` rows and the recorded decisions, never from live scores."""
    from evaluations.models import Phase, PhaseResult, TieBreakDecision

    phase = Phase.objects.get(pk=phase_id)
    results = list(
        PhaseResult.objects.filter(phase=phase).select_related("application__consortium").order_by("rank", "id")
    )
    keys = list(phase.tie_break_criteria or [])
    names: dict[str, str] = {}
    for result in results:
        for criterion in (result.details or {}).get("criteria", []):
            names.setdefault(criterion.get("key"), criterion.get("name") or criterion.get("key"))
    decisions = [
        (set(d.ordered_application_ids), d.reason)
        for d in TieBreakDecision.objects.filter(phase=phase).order_by("-decided_at", "-id")
    ]
    by_score: dict[Decimal, list] = {}
    for result in results:
        by_score.setdefault(result.score, []).append(result)
    ties: dict[int, tuple[policy.TieBreak, ...]] = {}
    for result in results:
        entries = []
        mine = (result.details or {}).get("criterion_means", {})
        for other in by_score[result.score]:
            if other.pk == result.pk:
                continue
            theirs = (other.details or {}).get("criterion_means", {})
            entry = None
            for key in keys:
                if key in mine and key in theirs and Decimal(mine[key]) != Decimal(theirs[key]):
                    entry = policy.TieBreak(
                        other=other.application.consortium.name,
                        other_rank=other.rank,
                        by="criterion",
                        criterion=names.get(key, key),
                        own_mean=mine[key],
                        other_mean=theirs[key],
                    )
                    break
            if entry is None:
                pair = {result.application_id, other.application_id}
                reason = next((reason for ids, reason in decisions if pair <= ids), None)
                entry = policy.TieBreak(
                    other=other.application.consortium.name,
                    other_rank=other.rank,
                    by="officer" if reason is not None else "undecided",
                    reason=reason or "",
                )
            entries.append(entry)
        if entries:
            ties[result.application_id] = tuple(entries)
    return ties


def phase_passing_not_selected(*, phase_id: int) -> list[dict[str, Any]]:
    """Applications that passed the phase but were not selected or kept, each with its own sentence
    (English and Korean): they take no part in an allocation run."""
    from evaluations.enums import ACTIVE_DECISIONS
    from evaluations.models import Phase, PhaseResult

    phase = Phase.objects.get(pk=phase_id)
    results = PhaseResult.objects.filter(phase=phase).select_related("application__consortium").order_by("rank", "id")
    rows = list(results)
    kept = sum(1 for r in rows if r.decision in ACTIVE_DECISIONS)
    out = []
    for result in rows:
        if not result.passed or result.decision in ACTIVE_DECISIONS:
            continue
        score = format(result.score.normalize(), "f")
        if phase.panel_keeps is not None:
            en_places = (
                f"the phase keeps at most {phase.teams_to_keep}, and the panel decided to keep "
                f"{phase.panel_keeps}: {phase.panel_keeps_reason}"
            )
            ko_places = (
                f"이 단계는 최대 {phase.teams_to_keep}개 팀을 선정하며, 평가위원회가 {phase.panel_keeps}개 팀만 "
                f"유지하기로 결정했습니다: {phase.panel_keeps_reason}"
            )
        else:
            en_places = f"the phase keeps at most {phase.teams_to_keep}"
            ko_places = f"이 단계는 최대 {phase.teams_to_keep}개 팀을 선정합니다"
        en = (
            f"It passed the phase with a score of {score} (rank {result.rank}) but is not among the {kept} teams "
            f"selected or kept ({en_places})."
        )
        ko = f"단계 평가를 {score}점({result.rank}위)으로 통과했으나 선정·유지된 {kept}개 팀에 들지 않았습니다({ko_places})."
        if result.reserve_rank:
            en += (
                f" It is number {result.reserve_rank} on the reserve list and moves up only if a selected team "
                "withdraws."
            )
            ko += f" 예비 순위 {result.reserve_rank}번으로, 선정 팀이 포기할 때에만 승계합니다."
        en += " Only selected or kept teams take part in an allocation run, so it receives no GPUs and no data budget."
        ko += " 배분은 선정·유지된 팀만 대상으로 하므로 GPU와 데이터 예산을 받지 않습니다."
        out.append(
            {
                "application_id": result.application_id,
                "consortium": result.application.consortium.name,
                "rank": result.rank,
                "score": score,
                "decision": result.decision,
                "reserve_rank": result.reserve_rank,
                "en": en,
                "ko": ko,
            }
        )
    return out
