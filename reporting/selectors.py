"""Reads of the reporting app: what each person may see, and the officers' figures (a constant
number of queries whatever the number of teams, periods and clusters)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from fractions import Fraction

from django.db.models import Count, Prefetch, Q, QuerySet, Sum
from django.utils import timezone

from consortia.models import Consortium
from consortia.selectors import team_contacts_q
from gpu_allocation.models import Allocation, GpuReclaim, ReclaimState
from gpu_allocation.selectors import approved_run_in_force
from portal.models import Programme
from reporting import usage as usage_core
from reporting.models import GpuUsage, ProgressReport, ReportingPlan, ReportState, Spending


def reports_visible_to(user) -> QuerySet[ProgressReport]:
    """Officers and administrators: all; a team's contacts: their own team's; others: none."""
    base = ProgressReport.objects.select_related("consortium", "programme")
    if not (user and user.is_authenticated):
        return base.none()
    if user.is_officer:
        return base
    if user.is_applicant:
        return base.filter(consortium_id__in=_team_ids(user))
    return base.none()


def reclaims_visible_to(user) -> QuerySet[GpuReclaim]:
    base = GpuReclaim.objects.select_related("consortium", "cluster", "programme", "proposed_by", "decided_by")
    if not (user and user.is_authenticated):
        return base.none()
    if user.is_officer:
        return base
    if user.is_applicant:
        return base.filter(consortium_id__in=_team_ids(user))
    return base.none()


def _team_ids(user):
    return Consortium.objects.filter(team_contacts_q(user)).values("id")


def report_detail(report_id: int, user) -> ProgressReport | None:
    return (
        reports_visible_to(user)
        .select_related("submitted_by", "reviewed_by")
        .prefetch_related(
            Prefetch("usage", queryset=GpuUsage.objects.select_related("cluster").order_by("cluster__name")),
            Prefetch("spending", queryset=Spending.objects.order_by("id")),
        )
        .filter(pk=report_id)
        .first()
    )


@dataclass
class UsageLine:
    cluster: str
    gpu_model: str
    granted_gpus: int
    gpu_hours: object
    hours: int
    percent: object
    low: bool


def usage_lines(report: ProgressReport, plan: ReportingPlan | None) -> list[UsageLine]:
    hours = usage_core.period_hours(report.period_start, report.period_end)
    lines = []
    for u in report.usage.all():
        exact = usage_core.utilisation(u.gpu_hours, u.granted_gpus, hours)
        threshold = plan.utilisation_threshold if plan else 0
        lines.append(
            UsageLine(
                cluster=u.cluster.name, gpu_model=u.cluster.gpu_model, granted_gpus=u.granted_gpus,
                gpu_hours=u.gpu_hours, hours=hours, percent=usage_core.one_place(exact),
                low=exact is not None and exact < threshold,
            )
        )  # fmt: skip
    return lines


def state_counts(programme: Programme) -> dict[str, int]:
    now = timezone.now()
    open_states = (ReportState.DRAFT, ReportState.RETURNED)
    return ProgressReport.objects.filter(programme=programme).aggregate(
        due=Count("id", filter=Q(state__in=open_states, due_at__gte=now, period_end__lt=timezone.localdate())),
        late=Count("id", filter=Q(state__in=open_states, due_at__lt=now)),
        returned=Count("id", filter=Q(state=ReportState.RETURNED)),
        submitted=Count("id", filter=Q(state=ReportState.SUBMITTED)),
        accepted=Count("id", filter=Q(state=ReportState.ACCEPTED)),
        all=Count("id"),
    )


def officer_reports(programme: Programme, show: str) -> QuerySet[ProgressReport]:
    """The programme's reports for the officers' list: ``due`` (period over, not yet submitted,
    still in time), ``late``, ``returned``, ``submitted`` (awaiting review), ``accepted``, ``all``."""
    now = timezone.now()
    reports = ProgressReport.objects.filter(programme=programme).select_related("consortium")
    open_states = (ReportState.DRAFT, ReportState.RETURNED)
    filters = {
        "due": Q(state__in=open_states, due_at__gte=now, period_end__lt=timezone.localdate()),
        "late": Q(state__in=open_states, due_at__lt=now),
        "returned": Q(state=ReportState.RETURNED),
        "submitted": Q(state=ReportState.SUBMITTED),
        "accepted": Q(state=ReportState.ACCEPTED),
    }
    if show in filters:
        reports = reports.filter(filters[show])
    return reports.annotate(spent=Sum("spending__amount")).order_by("-period_start", "consortium__name", "id")


# ------------------------------------------------------------------------------ utilisation


@dataclass
class Series:
    consortium_id: int
    consortium: str
    cluster_id: int
    cluster: str
    granted: dict = field(default_factory=dict)  # period start -> granted GPUs
    percent: dict = field(default_factory=dict)  # period start -> percent (one place) or None
    gpu_hours: dict = field(default_factory=dict)
    accepted_low: dict = field(default_factory=dict)  # period start -> (accepted, low)
    streak: int = 0
    cells: list = field(default_factory=list)  # one per period of the overview, in order
    held_nodes: int = 0
    gpus_per_node: int = 8
    pending_nodes: int = 0

    @property
    def can_reclaim(self) -> bool:
        return self.held_nodes - self.pending_nodes > 0

    @property
    def reclaimable_nodes(self) -> int:
        return max(self.held_nodes - self.pending_nodes, 0)


@dataclass
class Utilisation:
    plan: ReportingPlan
    periods: list
    series: list[Series]
    spending: list[dict]


def utilisation_overview(programme: Programme, plan: ReportingPlan) -> Utilisation:
    """Utilisation per team and cluster for every period with a submitted or accepted report,
    each team's low-use streak (accepted periods in a row below the threshold, ending with the
    latest accepted one), what it holds in the allocation in force, and spending against the budget."""
    usage = list(
        GpuUsage.objects.filter(
            report__programme=programme, report__state__in=(ReportState.SUBMITTED, ReportState.ACCEPTED)
        )
        .select_related("report__consortium", "cluster")
        .order_by("report__period_start", "report__consortium__name", "cluster__name")
    )
    by_key: dict[tuple, Series] = {}
    periods = sorted({u.report.period_start for u in usage})
    period_end = {u.report.period_start: u.report.period_end for u in usage}
    for u in usage:
        key = (u.report.consortium_id, u.cluster_id)
        s = by_key.get(key)
        if s is None:
            s = by_key[key] = Series(u.report.consortium_id, u.report.consortium.name, u.cluster_id, u.cluster.name)
        hours = usage_core.period_hours(u.report.period_start, u.report.period_end)
        exact = usage_core.utilisation(u.gpu_hours, u.granted_gpus, hours)
        start = u.report.period_start
        s.granted[start], s.gpu_hours[start] = u.granted_gpus, u.gpu_hours
        s.percent[start] = usage_core.one_place(exact)
        s.accepted_low[start] = (
            u.report.state == ReportState.ACCEPTED,
            exact is not None and exact < plan.utilisation_threshold,
        )
    for s in by_key.values():
        following = None
        for start in sorted(s.accepted_low, reverse=True):
            accepted, low = s.accepted_low[start]
            if not accepted:
                continue
            if following is not None and period_end[start] + timedelta(days=1) != following:
                break
            if not low:
                break
            s.streak += 1
            following = start
    run = approved_run_in_force(programme=programme)
    allocations = (
        list(Allocation.objects.filter(run=run).select_related("consortium").prefetch_related("grants")) if run else []
    )
    pending = defaultdict(int)
    if run:
        for row in (
            GpuReclaim.objects.filter(allocation__run=run, state__in=(ReclaimState.PROPOSED, ReclaimState.APPLIED))
            .values("consortium_id", "cluster_id")
            .annotate(n=Sum("nodes"))
        ):
            pending[(row["consortium_id"], row["cluster_id"])] = row["n"]
    for a in allocations:
        for g in a.grants.all():
            s = by_key.get((a.consortium_id, g.cluster_id))
            if s is not None:
                s.held_nodes, s.gpus_per_node = g.nodes, g.gpus_per_node
                s.pending_nodes = pending[(a.consortium_id, g.cluster_id)]
    spent = dict(
        Spending.objects.filter(
            report__programme=programme, report__state__in=(ReportState.SUBMITTED, ReportState.ACCEPTED)
        )
        .values_list("report__consortium_id")
        .annotate(total=Sum("amount"))
        .values_list("report__consortium_id", "total")
    )
    spending = [
        {
            "consortium": a.consortium.name,
            "budget": a.budget,
            "spent": spent.get(a.consortium_id, 0),
            "percent": usage_core.one_place(Fraction(spent.get(a.consortium_id, 0), a.budget) * 100)
            if a.budget
            else None,
        }
        for a in sorted(allocations, key=lambda a: a.rank)
    ]
    for s in by_key.values():
        s.cells = [
            {
                "percent": s.percent.get(p),
                "gpu_hours": s.gpu_hours.get(p),
                "granted": s.granted.get(p),
                "low": s.accepted_low.get(p, (False, False))[1],
            }
            for p in periods
        ]
    series = sorted(by_key.values(), key=lambda s: (s.consortium, s.cluster))
    return Utilisation(plan=plan, periods=periods, series=series, spending=spending)


PALETTE = ["#1f4e9c", "#e07b00", "#2a9d8f", "#8e44ad", "#c0392b", "#7f8c8d", "#16a085", "#d35400"]


def utilisation_chart(overview: Utilisation, *, threshold_label: str) -> dict:
    """Chart.js config: one line per team and cluster, percent of the granted GPU-hours per
    period, and the low-use threshold as a dashed line."""
    labels = [f"{p:%Y-%m}" for p in overview.periods]
    datasets = []
    for i, s in enumerate(overview.series):
        colour = PALETTE[i % len(PALETTE)]
        datasets.append(
            {
                "label": f"{s.consortium} · {s.cluster}",
                "data": [float(s.percent[p]) if s.percent.get(p) is not None else None for p in overview.periods],
                "borderColor": colour,
                "backgroundColor": colour,
                "spanGaps": False,
                "tension": 0,
            }
        )
    datasets.append(
        {
            "label": threshold_label,
            "data": [float(overview.plan.utilisation_threshold)] * len(labels),
            "borderColor": "#b00020",
            "borderDash": [6, 4],
            "pointRadius": 0,
            "borderWidth": 1.5,
        }
    )
    return {
        "type": "line",
        "data": {"labels": labels, "datasets": datasets},
        "options": {
            "scales": {"y": {"beginAtZero": True, "suggestedMax": 100, "title": {"display": True, "text": "%"}}},
            "plugins": {"legend": {"position": "bottom"}},
        },
    }


def team_history(consortium_ids) -> list[ProgressReport]:
    """A team's reports with their GPU use and spending, oldest first (its usage over time)."""
    return list(
        ProgressReport.objects.filter(consortium_id__in=consortium_ids)
        .select_related("consortium")
        .prefetch_related(
            Prefetch("usage", queryset=GpuUsage.objects.select_related("cluster").order_by("cluster__name")),
        )
        .annotate(spent=Sum("spending__amount"))
        .order_by("consortium_id", "period_start")
    )
