"""Demo data of reports after the award (idempotent): a monthly reporting plan whose first
period began two months ago, and for every active team of the allocation in force the reports
of the two finished periods with a usage file, a spending line with its evidence PDF and the
progress text. The first period's reports are accepted; the second's wait for review, except
the lowest-ranked team's, accepted too: it used about 30 % of its GPUs twice in a row, so the
utilisation page offers a reclaim. All names and figures are fictional."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from gpu_allocation.selectors import approved_run_in_force
from reporting.models import ProgressReport, ReportingPlan, ReportState

# Share of the granted GPU-hours each team uses, by rank (the last rank stays low).
USE_BY_RANK = {1: 0.86, 2: 0.72, 3: 0.64, 4: 0.58}
LOW_USE = 0.31


def _months_back(day: date, months: int) -> date:
    month = day.month - 1 - months
    return date(day.year + month // 12, month % 12 + 1, 1)


def _usage_file(report: ProgressReport, grants, share: float) -> bytes:
    hours = ((report.period_end - report.period_start).days + 1) * 24
    lines = ["JobID,Cluster,Start,End,AllocGPUs"]
    start = datetime.combine(report.period_start, time(0))
    for i, grant in enumerate(grants, start=1):
        # Two jobs per cluster: the whole grant for most of the share, half of it for the rest.
        main = int(hours * share * 0.8)
        rest = int(hours * share * 0.4)
        lines.append(
            f"{report.pk}{i}1,{grant.cluster.name},{start.isoformat()},{(start + timedelta(hours=main)).isoformat()},{grant.gpus}"
        )
        second = start + timedelta(hours=main)
        lines.append(
            f"{report.pk}{i}2,{grant.cluster.name},{second.isoformat()},{(second + timedelta(hours=rest)).isoformat()},{max(grant.gpus // 2, 1)}"
        )
    return ("\n".join(lines) + "\n").encode()


def _evidence(report: ProgressReport, amount: int, description: str) -> SimpleUploadedFile:
    from portal.pdf import render_pdf

    pdf = render_pdf(
        template_name="pdf/demo_invoice.html",
        context={"description": description, "consortium": report.consortium.name, "amount": amount,
                 "period": f"{report.period_start:%Y-%m}"},
    )  # fmt: skip
    return SimpleUploadedFile("invoice.pdf", pdf, content_type="application/pdf")


def seed(context: dict) -> None:
    from reporting import services

    programme = context["programme"]
    officer = context["users"]["officer"]
    run = approved_run_in_force(programme=programme)
    if run is None:
        return
    today = timezone.localdate()
    ReportingPlan.objects.get_or_create(programme=programme, defaults={"first_period_start": _months_back(today, 2)})
    services.reports_ensure(programme=programme)
    allocations = list(run.allocations.select_related("consortium__lead_contact").prefetch_related("grants__cluster"))
    last_rank = max((a.rank for a in allocations), default=0)
    for allocation in allocations:
        team = allocation.consortium
        reports = list(ProgressReport.objects.filter(consortium=team, period_end__lt=today).order_by("period_start"))[
            -2:
        ]
        low = allocation.rank == last_rank and len(allocations) > 1
        for index, report in enumerate(reports):
            if report.state != ReportState.DRAFT or report.usage_jobs:
                continue
            by = team.lead_contact
            share = LOW_USE if low else USE_BY_RANK.get(allocation.rank, 0.6)
            services.report_save(
                report=report, by=by, revision=report.revision,
                progress=(f"{report.period_start:%Y년 %m월}: 사전학습 데이터 정제와 중간 체크포인트 평가를 진행했습니다. "
                          "한국어 벤치마크 점수가 지난 기간보다 올랐습니다. (데모용 가상 보고)"),
                links=["https://example.kr/demo/model-card", "https://example.kr/demo/benchmark"],
            )  # fmt: skip
            services.report_upload_usage(report=report, by=by, data=_usage_file(report, allocation.grants.all(), share))
            amount = 180_000_000 + 40_000_000 * allocation.rank + 25_000_000 * index
            services.report_add_spending(
                report=report, by=by, category="purchase", amount=amount, description="한국어 말뭉치 구매 (데모)",
                evidence=_evidence(report, amount, "한국어 말뭉치 구매 (데모)"),
            )  # fmt: skip
            services.report_submit(report=report, by=by)
            # Filed on time: three days before the due time (or now, if that is earlier).
            on_time = min(timezone.now(), report.due_at - timedelta(days=3))
            ProgressReport.objects.filter(pk=report.pk).update(submitted_at=on_time)
            if index == 0 or low:
                services.report_review(report=report, by=officer, accept=True, comment="")
