"""Writes of the reporting app: reports (draft → submitted → accepted / returned), the usage
file, spending lines with evidence, reminders, and reclaiming GPUs that stayed unused.

Each service is atomic and audited. *Not possible now* raises :class:`DomainError` (409);
malformed input raises :class:`InvalidInput` (400) and changes nothing.
"""

from __future__ import annotations

import calendar
import hashlib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from fractions import Fraction

from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from consortia.models import Consortium
from consortia.validators import check_pdf
from gpu_allocation.models import Allocation, AllocationGrant, GpuReclaim, ReclaimState
from gpu_allocation.selectors import approved_run_in_force
from portal.audit import audit_record
from portal.errors import DomainError, InvalidInput
from portal.formatting import kst
from portal.mail import mail_queue
from portal.models import Programme, User
from reporting import usage as usage_core
from reporting.models import GpuUsage, ProgressReport, ReportingPlan, ReportState, Spending

KST = usage_core.KST
REMINDER_DAYS = (7, 2)  # days before the due time
USAGE_MAX_BYTES = 20 * 1024 * 1024


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class Period:
    start: date
    end: date
    due_at: datetime


def plan_for(programme: Programme) -> ReportingPlan:
    """The programme's plan; monthly from the first day of the approved allocation's month by default."""
    plan = ReportingPlan.objects.filter(programme=programme).first()
    if plan is None:
        run = approved_run_in_force(programme=programme)
        start = timezone.localdate(run.approved_at) if run else timezone.localdate()
        plan, _created = ReportingPlan.objects.get_or_create(
            programme=programme, defaults={"first_period_start": start.replace(day=1)}
        )
    return plan


def periods(plan: ReportingPlan, *, until: date) -> list[Period]:
    """Every period that has started by ``until``, oldest first."""
    out = []
    start = plan.first_period_start
    while start <= until:
        nxt = _add_months(start, plan.period_months)
        end = nxt - timedelta(days=1)
        due = datetime.combine(end + timedelta(days=plan.due_days), time(18, 0), KST)
        out.append(Period(start, end, due))
        start = nxt
    return out


def active_allocations(programme: Programme) -> list[Allocation]:
    run = approved_run_in_force(programme=programme)
    if run is None:
        return []
    return list(run.allocations.select_related("consortium").prefetch_related("grants__cluster").order_by("rank"))


def reports_ensure(*, programme: Programme, today: date | None = None) -> int:
    """Create the draft report of every active team for every period begun (idempotent; a
    constant number of queries whatever the number of teams and periods)."""
    today = today or timezone.localdate()
    plan = plan_for(programme)
    run = approved_run_in_force(programme=programme)
    if run is None:
        return 0
    teams = list(run.allocations.values_list("consortium_id", flat=True))
    wanted = periods(plan, until=today)
    existing = set(ProgressReport.objects.filter(consortium_id__in=teams).values_list("consortium_id", "period_start"))
    missing = [
        ProgressReport(programme=programme, consortium_id=team, period_start=p.start, period_end=p.end, due_at=p.due_at)
        for p in wanted
        for team in teams
        if (team, p.start) not in existing
    ]
    ProgressReport.objects.bulk_create(missing, ignore_conflicts=True)
    return len(missing)


def _locked(report: ProgressReport) -> ProgressReport:
    return ProgressReport.objects.select_for_update().select_related("consortium", "programme").get(pk=report.pk)


def _refuse_unless_editable(report: ProgressReport) -> None:
    if report.state not in (ReportState.DRAFT, ReportState.RETURNED):
        raise DomainError(
            _("This report is %(state)s; it can change only while it is a draft or returned for changes.")
            % {"state": ReportState(report.state).label.lower()},
            code="report_not_editable",
        )


def _granted(report: ProgressReport) -> dict[str, AllocationGrant]:
    """The team's grants in the approved allocation in force, by cluster name."""
    run = approved_run_in_force(programme=report.programme)
    if run is None:
        return {}
    grants = AllocationGrant.objects.filter(
        allocation__run=run, allocation__consortium_id=report.consortium_id
    ).select_related("cluster")
    return {g.cluster.name: g for g in grants}


def _usage_messages() -> dict:
    return {
        "encoding": _("The file is not UTF-8 text. Export it from the scheduler as UTF-8 CSV."),
        "header": _("The first line must be the header %(columns)s (the scheduler's accounting export)."),
        "too_many": _("The file has more than %(max)d lines; split it by month."),
        "columns": _("%(count)d columns where %(expected)d are expected."),
        "job": _("JobID is empty."),
        "duplicate": _("JobID %(job)s appears twice."),
        "cluster": _("“%(cluster)s” is not a cluster this team holds GPUs on."),
        "time": _("Start and End must be ISO 8601 times, such as 2026-01-03T09:00:00."),
        "order": _("End is before Start."),
        "gpus": _("AllocGPUs must be a whole number of at least 1 (not “%(value)s”)."),
        "outside": _("The job ran entirely outside the report's period."),
        "empty": _("The file holds no job."),
        "csv": _("The file is not readable as CSV (an unclosed quote or an overlong field); export it again."),
    }


@transaction.atomic
def report_save(*, report: ProgressReport, by: User, progress: str, links: list[str], revision: int) -> ProgressReport:
    report = _locked(report)
    _refuse_unless_editable(report)
    if revision != report.revision:
        raise DomainError(
            _("The report was changed by someone else meanwhile; reload it and make your change again."),
            code="stale_revision",
        )
    clean_links = [link.strip() for link in links if link.strip()]
    for link in clean_links:
        if not link.startswith(("https://", "http://")):
            message = _("Links start with https:// or http:// (“%(link)s”).") % {"link": link[:80]}
            raise InvalidInput(message, details={"errors": {"links": [message]}})
    report.progress = progress.strip()
    report.links = clean_links
    report.revision += 1
    report.save(update_fields=["progress", "links", "revision"])
    audit_record(action="report.save", obj=report, actor=by, after={"revision": report.revision})
    return report


@transaction.atomic
def report_upload_usage(*, report: ProgressReport, by: User, data: bytes, name: str = "usage.csv") -> list[GpuUsage]:
    """Replace the report's GPU use with the uploaded accounting file, or refuse it whole."""
    report = _locked(report)
    _refuse_unless_editable(report)
    if len(data) > USAGE_MAX_BYTES:
        from portal.errors import PayloadTooLarge

        message = _("The usage file is larger than %(mb)d MB; split it by month.") % {"mb": USAGE_MAX_BYTES >> 20}
        raise PayloadTooLarge(message, details={"errors": {"file": [message]}})
    grants = _granted(report)
    try:
        parsed = usage_core.parse_usage(
            data, clusters=set(grants), period=(report.period_start, report.period_end), messages=_usage_messages()
        )
    except usage_core.UsageFileError as exc:
        lines = [_("line %(line)d: %(message)s") % {"line": e.line, "message": e.message} for e in exc.errors]
        raise InvalidInput(
            _("The usage file was not stored: %(count)d lines need fixing. %(lines)s")
            % {"count": len(lines), "lines": " ".join(lines[:20])},
            details={"errors": {"file": lines}},
        ) from exc
    report.usage.all().delete()
    # One row per cluster the team holds GPUs on, 0 GPU-hours where no job ran: an idle
    # cluster is 0 % used, not missing from the period.
    rows = GpuUsage.objects.bulk_create(
        [
            GpuUsage(
                report=report,
                cluster=grant.cluster,
                gpu_hours=_two_places(parsed.gpu_hours.get(name_, Fraction(0))),
                granted_gpus=grant.gpus,
            )
            for name_, grant in sorted(grants.items())
        ]
    )
    report.usage_sha256 = hashlib.sha256(data).hexdigest()
    report.usage_jobs = parsed.jobs
    report.usage_file.save(name, ContentFile(data), save=False)
    report.save(update_fields=["usage_file", "usage_sha256", "usage_jobs"])
    audit_record(
        action="report.usage_upload",
        obj=report,
        actor=by,
        after={"sha256": report.usage_sha256, "jobs": parsed.jobs, "clusters": len(rows)},
    )
    return rows


def _two_places(value) -> Decimal:
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(Decimal("0.01"))


@transaction.atomic
def report_add_spending(
    *, report: ProgressReport, by: User, category: str, amount: int, description: str, evidence
) -> Spending:
    report = _locked(report)
    _refuse_unless_editable(report)
    from reporting.models import SpendingCategory

    if category not in SpendingCategory.values:
        message = _("Choose a spending category from the list.")
        raise InvalidInput(message, details={"errors": {"category": [message]}})
    if not isinstance(amount, int) or amount <= 0:
        message = _("The amount is a whole number of won above 0.")
        raise InvalidInput(message, details={"errors": {"amount": [message]}})
    if not (description or "").strip():
        message = _("Describe what the money was spent on.")
        raise InvalidInput(message, details={"errors": {"description": [message]}})
    from django.core.exceptions import ValidationError

    try:
        checked = check_pdf(evidence, max_bytes=report.programme.attachment_max_file_mb * 1024 * 1024)
    except ValidationError as exc:
        raise InvalidInput(" ".join(exc.messages), details={"errors": {"evidence": exc.messages}}) from exc
    line = Spending(
        report=report,
        category=category,
        amount=amount,
        description=description.strip(),
        evidence_name=getattr(evidence, "name", "evidence.pdf")[:255],
        evidence_sha256=checked.sha256,
    )
    evidence.seek(0)
    line.evidence.save("evidence.pdf", evidence, save=False)
    line.save()
    audit_record(action="report.spending_add", obj=report, actor=by, after={"category": category, "amount": amount})
    return line


@transaction.atomic
def report_submit(*, report: ProgressReport, by: User) -> ProgressReport:
    report = _locked(report)
    _refuse_unless_editable(report)
    missing = []
    if not report.progress:
        missing.append(_("progress against the milestones"))
    if _granted(report) and not report.usage.exists():
        missing.append(_("the GPU usage file"))
    if missing:
        raise InvalidInput(
            _("The report cannot be submitted yet: add %(what)s.") % {"what": ", ".join(missing)},
            code="incomplete",
        )
    before = report.state
    report.state = ReportState.SUBMITTED
    report.submitted_at = timezone.now()
    report.submitted_by = by
    report.save(update_fields=["state", "submitted_at", "submitted_by"])
    audit_record(action="report.submit", obj=report, actor=by, before={"state": before}, after={"state": report.state})
    return report


@transaction.atomic
def report_review(*, report: ProgressReport, by: User, accept: bool, comment: str) -> ProgressReport:
    report = _locked(report)
    if report.state != ReportState.SUBMITTED:
        raise DomainError(_("Only a submitted report can be accepted or returned."), code="report_not_submitted")
    comment = (comment or "").strip()
    if not accept and not comment:
        message = _("Say what the team should change when returning a report.")
        raise InvalidInput(message, details={"errors": {"comment": [message]}})
    report.state = ReportState.ACCEPTED if accept else ReportState.RETURNED
    report.reviewed_at, report.reviewed_by, report.officer_comment = timezone.now(), by, comment
    report.save(update_fields=["state", "reviewed_at", "reviewed_by", "officer_comment"])
    audit_record(
        action="report.accept" if accept else "report.return",
        obj=report,
        actor=by,
        before={"state": ReportState.SUBMITTED},
        after={"state": report.state},
        reason=comment,
    )
    if not accept:
        period = f"{report.period_start:%Y-%m}"
        _mail_team(
            report.consortium,
            key=f"report-returned:{report.pk}:{report.reviewed_at.isoformat()}",
            write=lambda: (
                _("[IAFM] Your report for %(period)s was returned") % {"period": period},
                _("The officer returned your report for %(period)s with this comment:\n\n%(comment)s\n")
                % {"period": period, "comment": comment},
            ),
        )
    return report


def _team_addresses(consortium: Consortium) -> list[str]:
    people = {consortium.lead_contact.email} if consortium.lead_contact_id else set()
    people |= {m.contact.email for m in consortium.members.select_related("contact") if m.contact_id}
    return sorted(a for a in people if a)


def _mail_team(consortium: Consortium, *, key: str, write) -> None:
    """Queue one e-mail to the team's contacts, written (``write() -> (subject, body)``) in the
    language of the consortium's lead contact (their account's language, else the portal's)."""
    from django.conf import settings
    from django.utils import translation

    to = _team_addresses(consortium)
    if not to:
        return
    lead = consortium.lead_contact if consortium.lead_contact_id else None
    with translation.override(getattr(lead, "language", "") or settings.LANGUAGE_CODE):
        subject, body = write()
    mail_queue(key=key, to=to, subject=subject, body=body)


def report_reminders_send(*, now: datetime | None = None) -> int:
    """Remind teams 7 and 2 days before a report is due (drafts and returned reports only)."""
    now = now or timezone.now()
    sent = 0
    with_reports = Q(reporting_plan__isnull=False) | Q(
        allocation_runs__approved_at__isnull=False, allocation_runs__superseded_at__isnull=True
    )
    for programme in Programme.objects.filter(with_reports).distinct():
        reports_ensure(programme=programme, today=timezone.localdate(now))
    open_reports = ProgressReport.objects.filter(
        state__in=(ReportState.DRAFT, ReportState.RETURNED), due_at__gt=now, due_at__lte=now + timedelta(days=7)
    ).select_related("consortium__lead_contact")
    for report in open_reports:
        days = next((d for d in sorted(REMINDER_DAYS) if report.due_at - now <= timedelta(days=d)), None)
        if days is None or days in report.reminded_days:
            continue
        with transaction.atomic():
            locked = _locked(report)
            if days in locked.reminded_days:
                continue
            locked.reminded_days = [*locked.reminded_days, days]
            locked.save(update_fields=["reminded_days"])
            values = {"period": f"{locked.period_start:%Y-%m}", "due": kst(locked.due_at, seconds=False)}
            _mail_team(
                locked.consortium,
                key=f"report-reminder:{locked.pk}:{days}",
                write=lambda values=values: (
                    _("[IAFM] Report for %(period)s due %(due)s") % values,
                    _(
                        "Your progress report for %(period)s is due %(due)s: progress against the milestones, "
                        "the GPU usage file and the data-budget spending with evidence.\n"
                    )
                    % values,
                ),
            )
            sent += 1
    return sent


# --------------------------------------------------------------------------- utilisation


@dataclass(frozen=True)
class UtilisationRow:
    consortium_id: int
    consortium: str
    cluster_id: int
    cluster: str
    period_start: date
    granted_gpus: int
    gpu_hours: Decimal
    percent: Decimal | None
    low: bool


def utilisation_rows(*, programme: Programme) -> list[UtilisationRow]:
    """Utilisation per team, cluster and period, from the accepted and submitted reports."""
    plan = plan_for(programme)
    usage = (
        GpuUsage.objects.filter(
            report__programme=programme, report__state__in=(ReportState.SUBMITTED, ReportState.ACCEPTED)
        )
        .select_related("report__consortium", "cluster")
        .order_by("report__period_start", "report__consortium_id", "cluster_id")
    )
    rows = []
    for u in usage:
        hours = usage_core.period_hours(u.report.period_start, u.report.period_end)
        exact = usage_core.utilisation(u.gpu_hours, u.granted_gpus, hours)
        rows.append(
            UtilisationRow(
                consortium_id=u.report.consortium_id,
                consortium=u.report.consortium.name,
                cluster_id=u.cluster_id,
                cluster=u.cluster.name,
                period_start=u.report.period_start,
                granted_gpus=u.granted_gpus,
                gpu_hours=u.gpu_hours,
                percent=usage_core.one_place(exact),
                low=exact is not None and exact < plan.utilisation_threshold,
            )
        )
    return rows


def low_use_streak(*, programme: Programme, consortium_id: int, cluster_id: int) -> int:
    """How many of the latest accepted periods in a row the team stayed below the threshold on the cluster."""
    plan = plan_for(programme)
    streak = 0
    rows = (
        GpuUsage.objects.filter(
            report__programme=programme,
            report__consortium_id=consortium_id,
            report__state=ReportState.ACCEPTED,
            cluster_id=cluster_id,
        )
        .select_related("report")
        .order_by("-report__period_start")
    )
    following = None  # the start of the period after the one looked at: periods must touch
    for u in rows:
        if following is not None and u.report.period_end + timedelta(days=1) != following:
            break
        following = u.report.period_start
        exact = usage_core.utilisation(
            u.gpu_hours, u.granted_gpus, usage_core.period_hours(u.report.period_start, u.report.period_end)
        )
        if exact is None or exact >= plan.utilisation_threshold:
            break
        streak += 1
    return streak


# --------------------------------------------------------------------------- reclaim


@transaction.atomic
def reclaim_propose(*, programme: Programme, consortium: Consortium, cluster_id: int, nodes: int, by: User,
                    reason: str) -> GpuReclaim:  # fmt: skip
    plan = plan_for(programme)
    Programme.objects.select_for_update().get(pk=programme.pk)  # one proposal at a time per programme
    reason = (reason or "").strip()
    if not reason:
        message = _("Give the reason for the reclaim; the team reads it.")
        raise InvalidInput(message, details={"errors": {"reason": [message]}})
    run = approved_run_in_force(programme=programme)
    grant = (
        AllocationGrant.objects.filter(allocation__run=run, allocation__consortium=consortium, cluster_id=cluster_id)
        .select_related("allocation", "cluster")
        .first()
        if run
        else None
    )
    if grant is None:
        raise InvalidInput(_("The team holds no GPUs on this cluster in the allocation in force."))
    pending = (
        GpuReclaim.objects.filter(
            allocation=grant.allocation, cluster_id=cluster_id, state__in=(ReclaimState.PROPOSED, ReclaimState.APPLIED)
        ).aggregate(n=Sum("nodes"))["n"]
        or 0
    )
    if not isinstance(nodes, int) or nodes < 1 or nodes > grant.nodes - pending:
        message = _(
            "The team holds %(held)d nodes on this cluster (%(pending)d already reclaimed or proposed): "
            "give a number from 1 to %(most)d."
        ) % {"held": grant.nodes, "pending": pending, "most": max(grant.nodes - pending, 0)}
        raise InvalidInput(message, details={"errors": {"nodes": [message]}})
    streak = low_use_streak(programme=programme, consortium_id=consortium.pk, cluster_id=cluster_id)
    if streak < plan.low_periods:
        raise DomainError(
            _(
                "A reclaim needs %(periods)d accepted periods in a row below %(threshold)s%% on this cluster; "
                "the team has %(streak)d."
            )
            % {"periods": plan.low_periods, "threshold": plan.utilisation_threshold, "streak": streak},
            code="not_low_use",
        )
    respond_by = timezone.now() + timedelta(days=plan.response_window_days)
    reclaim = GpuReclaim.objects.create(
        programme=programme, consortium=consortium, allocation=grant.allocation, cluster=grant.cluster,
        nodes=nodes, gpus=nodes * grant.gpus_per_node, reason=reason, proposed_by=by, respond_by=respond_by,
    )  # fmt: skip
    audit_record(
        action="reclaim.propose",
        obj=reclaim,
        actor=by,
        after={"nodes": nodes, "gpus": reclaim.gpus, "cluster": grant.cluster.name, "respond_by": respond_by},
        reason=reason,
    )
    values = {"gpus": reclaim.gpus, "nodes": nodes, "cluster": grant.cluster.name,
              "threshold": plan.utilisation_threshold, "reason": reason, "until": kst(respond_by, seconds=False)}  # fmt: skip
    _mail_team(
        consortium,
        key=f"reclaim-proposed:{reclaim.pk}",
        write=lambda: (
            _("[IAFM] Proposal to return %(gpus)d GPUs to the pool") % values,
            _(
                "The programme proposes to return %(gpus)d GPUs (%(nodes)d nodes) of %(cluster)s to the pool, "
                "because they stayed below %(threshold)s%% use.\n\nReason: %(reason)s\n\n"
                "You may respond in the portal until %(until)s.\n"
            )
            % values,
        ),
    )
    return reclaim


@transaction.atomic
def reclaim_respond(*, reclaim: GpuReclaim, by: User, response: str) -> GpuReclaim:
    reclaim = GpuReclaim.objects.select_for_update().get(pk=reclaim.pk)
    if reclaim.state != ReclaimState.PROPOSED or timezone.now() > reclaim.respond_by:
        raise DomainError(
            _("The response window closed %(until)s.") % {"until": kst(reclaim.respond_by, seconds=False)},
            code="window_closed",
        )
    response = (response or "").strip()
    if not response:
        message = _("Write the team's response.")
        raise InvalidInput(message, details={"errors": {"response": [message]}})
    reclaim.response, reclaim.responded_at = response, timezone.now()
    reclaim.save(update_fields=["response", "responded_at"])
    audit_record(action="reclaim.respond", obj=reclaim, actor=by, after={"responded": True})
    return reclaim


@transaction.atomic
def reclaim_decide(*, reclaim: GpuReclaim, by: User, apply: bool) -> GpuReclaim:
    """Apply (after the response window) or withdraw a proposal. Applied GPUs go back to the
    pool: the next allocation run gives the team that many fewer."""
    reclaim = GpuReclaim.objects.select_for_update().get(pk=reclaim.pk)
    if reclaim.state != ReclaimState.PROPOSED:
        raise DomainError(_("This reclaim was already decided."), code="decided")
    if apply and timezone.now() <= reclaim.respond_by:
        raise DomainError(
            _("The team may respond until %(until)s; the reclaim can be applied after that.")
            % {"until": kst(reclaim.respond_by, seconds=False)},
            code="window_open",
        )
    reclaim.state = ReclaimState.APPLIED if apply else ReclaimState.WITHDRAWN
    reclaim.decided_by, reclaim.decided_at = by, timezone.now()
    reclaim.save(update_fields=["state", "decided_by", "decided_at"])
    audit_record(
        action="reclaim.apply" if apply else "reclaim.withdraw",
        obj=reclaim,
        actor=by,
        before={"state": ReclaimState.PROPOSED},
        after={"state": reclaim.state, "gpus": reclaim.gpus},
    )
    consortium = Consortium.objects.select_related("lead_contact").get(pk=reclaim.consortium_id)
    values = {"gpus": reclaim.gpus, "nodes": reclaim.nodes}

    def write():
        if apply:
            return (
                _("[IAFM] %(gpus)d GPUs returned to the pool") % values,
                _(
                    "The programme returned %(gpus)d GPUs (%(nodes)d nodes) of your allocation to the pool. "
                    "The next allocation run gives your team that many fewer.\n"
                )
                % values,
            )
        return (
            _("[IAFM] The proposal to return %(gpus)d GPUs was withdrawn") % values,
            _("The programme withdrew its proposal to return %(gpus)d GPUs to the pool; your allocation stays.\n")
            % values,
        )

    _mail_team(consortium, key=f"reclaim-{reclaim.state}:{reclaim.pk}", write=write)
    return reclaim
