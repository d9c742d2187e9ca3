"""Pages of reports after the award (namespace ``reporting``).

Teams: their reports per period, the report's page (progress, links, the usage file, spending
with evidence, submit), their GPU use and spending over time, reclaims proposed to them.
Officers: reports due, late and returned per programme, review, utilisation against the
allocation with a chart, spending against the budget, and reclaims (propose, apply, withdraw).

Thin views: permission (404 for those who may not see), form, one service call, redirect.
"""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views import View

from consortia.models import Consortium
from gpu_allocation.models import GpuReclaim, ReclaimState
from gpu_allocation.selectors import approved_run_in_force, programmes_for_switch
from portal.confirm import Confirmation, is_confirmed, render_confirmation
from portal.errors import DomainError
from portal.models import Programme
from portal.reauth import require_recent_authentication_page
from reporting import selectors, services
from reporting.forms import (
    ReclaimProposeForm,
    ReclaimRespondForm,
    ReportForm,
    ReviewForm,
    SpendingForm,
    UsageUploadForm,
)
from reporting.models import ProgressReport, ReportState, Spending

PAGE_SIZE = 50
SHOWS = ("due", "late", "returned", "submitted", "accepted", "all")


def _refuse(request, exc: DomainError) -> None:
    messages.error(request, exc.message)


def _report_or_404(request, pk: int) -> ProgressReport:
    report = selectors.report_detail(pk, request.user)
    if report is None or not request.user.has_perm("reporting.view_progressreport", report):
        raise Http404
    return report


def _programme_or_404(request) -> Programme:
    raw = request.GET.get("programme") or request.POST.get("programme")
    if raw:
        if not str(raw).isdigit():
            raise Http404
        return get_object_or_404(Programme, pk=int(raw))
    programme = (
        Programme.objects.filter(allocation_runs__approved_at__isnull=False).order_by("-year", "-id").first()
        or Programme.objects.order_by("-year", "-id").first()
    )
    if programme is None:
        raise Http404
    return programme


def _report_to_change(request, pk: int):
    """The report ``pk`` if the user's team may change it; 404 otherwise (as for unseen reports)."""
    report = _report_or_404(request, pk)
    if not request.user.has_perm("reporting.change_progressreport", report):
        raise Http404
    return report


def _officer_only(request) -> None:
    if not request.user.has_perm("reporting.view_utilisation"):
        raise Http404


# ------------------------------------------------------------------------------------ team


class MyReportsView(LoginRequiredMixin, View):
    """A team's reports, one a period, newest first: state, due time (KST), late flag."""

    def get(self, request):
        if not request.user.is_applicant:
            if request.user.is_officer:
                return redirect("reporting:officer_reports")
            raise Http404
        teams = Consortium.objects.filter(pk__in=selectors._team_ids(request.user)).select_related("programme")
        for programme in {t.programme for t in teams}:
            services.reports_ensure(programme=programme)
        reports = selectors.reports_visible_to(request.user).order_by("consortium__name", "-period_start")
        page = Paginator(reports, PAGE_SIZE).get_page(request.GET.get("page"))
        reclaims = list(selectors.reclaims_visible_to(request.user).filter(state=ReclaimState.PROPOSED))
        return render(request, "reporting/my_reports.html", {"page": page, "reclaims": reclaims})


class ReportView(LoginRequiredMixin, View):
    """One report: the team edits a draft or returned report; officers read and review it."""

    def get(self, request, pk: int):
        report = _report_or_404(request, pk)
        return self._render(request, report)

    def _render(self, request, report, *, forms=None, status=200):
        user = request.user
        can_edit = user.has_perm("reporting.change_progressreport", report) and report.state in (
            ReportState.DRAFT,
            ReportState.RETURNED,
        )
        plan = services.plan_for(report.programme)
        forms = forms or {}
        context = {
            "report": report,
            "plan": plan,
            "usage": selectors.usage_lines(report, plan),
            "hours": services.usage_core.period_hours(report.period_start, report.period_end),
            "spending": list(report.spending.all()),
            "spent": sum(s.amount for s in report.spending.all()),
            "can_edit": can_edit,
            "can_review": user.has_perm("reporting.review_progressreport", report)
            and report.state == ReportState.SUBMITTED,
            "form": forms.get("form")
            or ReportForm(
                initial={"progress": report.progress, "links": "\n".join(report.links), "revision": report.revision}
            ),
            "usage_form": forms.get("usage_form") or UsageUploadForm(),
            "spending_form": forms.get("spending_form") or SpendingForm(),
            "review_form": forms.get("review_form") or ReviewForm(),
            "usage_errors": forms.get("usage_errors", []),
        }
        return render(request, "reporting/report.html", context, status=status)

    def post(self, request, pk: int):
        report = _report_to_change(request, pk)
        form = ReportForm(request.POST)
        if not form.is_valid():
            return self._render(request, report, forms={"form": form}, status=400)
        try:
            services.report_save(
                report=report,
                by=request.user,
                progress=form.cleaned_data["progress"],
                links=form.cleaned_data["links"].splitlines(),
                revision=form.cleaned_data["revision"],
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
            return self._render(request, report, forms={"form": form}, status=exc.status_code)
        messages.success(request, _("The report was saved."))
        return redirect("reporting:report", pk=report.pk)


class ReportPartView(ReportView):
    """Forms posted from the report page; a GET goes back to that page."""

    def get(self, request, pk: int):
        return redirect("reporting:report", pk=pk)


class UsageUploadView(ReportPartView):
    def post(self, request, pk: int):
        report = _report_to_change(request, pk)
        form = UsageUploadForm(request.POST, request.FILES)
        if not form.is_valid():
            return self._render(request, report, forms={"usage_form": form}, status=400)
        uploaded = form.cleaned_data["file"]
        if uploaded.size > services.USAGE_MAX_BYTES:
            form.add_error("file", _("The usage file is larger than %(mb)d MB; split it by month.") % {"mb": 20})
            return self._render(request, report, forms={"usage_form": form}, status=413)
        try:
            rows = services.report_upload_usage(
                report=report, by=request.user, data=uploaded.read(), name=uploaded.name[:100]
            )
        except DomainError as exc:
            lines = exc.details.get("errors", {}).get("file", [])
            form.add_error(
                None,
                _("The usage file was not stored: %(count)d lines need fixing.") % {"count": len(lines)}
                if len(lines) > 0 and exc.status_code == 400
                else exc.message,
            )
            return self._render(
                request, report, forms={"usage_form": form, "usage_errors": lines}, status=exc.status_code
            )
        messages.success(
            request,
            _("The usage file was read: %(jobs)d jobs on %(clusters)d clusters.")
            % {"jobs": report.__class__.objects.get(pk=report.pk).usage_jobs, "clusters": len(rows)},
        )
        return redirect(reverse("reporting:report", kwargs={"pk": report.pk}) + "#usage")


class SpendingAddView(ReportPartView):
    def post(self, request, pk: int):
        report = _report_to_change(request, pk)
        form = SpendingForm(request.POST, request.FILES)
        if not form.is_valid():
            return self._render(request, report, forms={"spending_form": form}, status=400)
        try:
            services.report_add_spending(
                report=report,
                by=request.user,
                category=form.cleaned_data["category"],
                amount=form.cleaned_data["amount"],
                description=form.cleaned_data["description"],
                evidence=form.cleaned_data["evidence"],
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
            return self._render(request, report, forms={"spending_form": form}, status=exc.status_code)
        messages.success(request, _("The spending line was added."))
        return redirect(reverse("reporting:report", kwargs={"pk": report.pk}) + "#spending")


class EvidenceView(LoginRequiredMixin, View):
    def get(self, request, pk: int, line_id: int):
        report = _report_or_404(request, pk)
        line = get_object_or_404(Spending, pk=line_id, report=report)
        return FileResponse(
            line.evidence.open("rb"),
            as_attachment=True,
            filename=f"evidence-{line.pk}.pdf",
            content_type="application/pdf",
        )


class ReportSubmitView(LoginRequiredMixin, View):
    def post(self, request, pk: int):
        report = _report_to_change(request, pk)
        if not is_confirmed(request):
            url = reverse("reporting:report", kwargs={"pk": report.pk})
            confirmation = Confirmation(
                title=_("Submit the report for %(period)s?") % {"period": f"{report.period_start:%Y-%m}"},
                happens=[
                    _("The officers receive the report with its GPU use and spending."),
                    _("You can change it again only if an officer returns it."),
                ],
                irreversible=_("A submitted report cannot be edited or withdrawn."),
                action_url=request.path,
                cancel_url=url,
                confirm_label=_("Submit the report"),
            )
            return render_confirmation(request, confirmation)
        try:
            services.report_submit(report=report, by=request.user)
        except DomainError as exc:
            _refuse(request, exc)
        else:
            messages.success(request, _("The report was submitted."))
        return redirect("reporting:report", pk=report.pk)


class ReportReviewView(LoginRequiredMixin, View):
    def post(self, request, pk: int):
        report = _report_or_404(request, pk)
        if not request.user.has_perm("reporting.review_progressreport", report):
            raise Http404
        form = ReviewForm(request.POST)
        if not form.is_valid():
            return ReportView()._render(request, report, forms={"review_form": form}, status=400)
        try:
            services.report_review(
                report=report,
                by=request.user,
                accept=form.cleaned_data["decision"] == "accept",
                comment=form.cleaned_data["comment"],
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
            return ReportView()._render(request, report, forms={"review_form": form}, status=exc.status_code)
        messages.success(request, _("The review was recorded."))
        return redirect(reverse("reporting:officer_reports") + f"?programme={report.programme_id}")


class MyUsageView(LoginRequiredMixin, View):
    """A team's GPU use per cluster and its spending, period by period."""

    def get(self, request):
        if not request.user.is_applicant:
            raise Http404
        reports = selectors.team_history(selectors._team_ids(request.user))
        programmes = {r.programme_id for r in reports}
        plans = {p.programme_id: p for p in services.ReportingPlan.objects.filter(programme_id__in=programmes)}
        rows = [(r, selectors.usage_lines(r, plans.get(r.programme_id))) for r in reports]
        return render(request, "reporting/my_usage.html", {"rows": rows})


# ------------------------------------------------------------------------------------ officers


def _filters(counts: dict) -> list[tuple[str, str, int]]:
    labels = {
        "due": _("Due"),
        "late": _("Late"),
        "returned": _("Returned"),
        "submitted": _("Awaiting review"),
        "accepted": _("Accepted"),
        "all": _("All"),
    }
    return [(key, labels[key], counts.get(key, 0)) for key in SHOWS]


class OfficerReportsView(LoginRequiredMixin, View):
    """Officers: a programme's reports, by what needs attention (due, late, returned, awaiting review)."""

    def get(self, request):
        _officer_only(request)
        programme = _programme_or_404(request)
        services.reports_ensure(programme=programme)
        show = request.GET.get("show", "all")
        if show not in SHOWS:
            show = "all"
        page = Paginator(selectors.officer_reports(programme, show), PAGE_SIZE).get_page(request.GET.get("page"))
        return render(
            request,
            "reporting/officer_reports.html",
            {
                "programme": programme,
                "programmes": programmes_for_switch(),
                "page": page,
                "show": show,
                "filters": _filters(selectors.state_counts(programme)),
            },
        )


class UtilisationView(LoginRequiredMixin, View):
    """Officers: utilisation per team and cluster over the periods against the allocation, a
    chart, spending against the budget, and the reclaim rule."""

    def get(self, request):
        _officer_only(request)
        programme = _programme_or_404(request)
        plan = services.plan_for(programme)
        overview = selectors.utilisation_overview(programme, plan)
        chart = selectors.utilisation_chart(
            overview, threshold_label=_("Low-use threshold %(t)s%%") % {"t": plan.utilisation_threshold}
        )
        reclaims = list(
            selectors.reclaims_visible_to(request.user).filter(programme=programme).order_by("-proposed_at")[:50]
        )
        return render(
            request,
            "reporting/utilisation.html",
            {
                "programme": programme,
                "programmes": programmes_for_switch(),
                "overview": overview,
                "plan": plan,
                "chart": json.dumps(chart, ensure_ascii=False),
                "reclaims": reclaims,
                "run": approved_run_in_force(programme=programme),
                "now": services.timezone.now(),
            },
        )


class ReclaimProposeView(LoginRequiredMixin, View):
    def post(self, request):
        if not request.user.has_perm("reporting.propose_gpureclaim"):
            raise Http404
        programme = _programme_or_404(request)
        back = reverse("reporting:utilisation") + f"?programme={programme.pk}"
        form = ReclaimProposeForm(request.POST)
        if not form.is_valid():
            for errors in form.errors.values():
                messages.error(request, " ".join(errors))
            return redirect(back)
        consortium = get_object_or_404(Consortium, pk=form.cleaned_data["consortium"], programme=programme)
        require_recent_authentication_page(request)
        try:
            services.reclaim_propose(
                programme=programme,
                consortium=consortium,
                cluster_id=form.cleaned_data["cluster"],
                nodes=form.cleaned_data["nodes"],
                by=request.user,
                reason=form.cleaned_data["reason"],
            )
        except DomainError as exc:
            _refuse(request, exc)
        else:
            messages.success(request, _("The reclaim was proposed; the team was notified and may respond."))
        return redirect(back)


class ReclaimListView(LoginRequiredMixin, View):
    """Reclaims: a team's own (with its response); officers', a programme's."""

    def get(self, request):
        user = request.user
        if user.is_officer:
            programme = _programme_or_404(request)
            reclaims = selectors.reclaims_visible_to(user).filter(programme=programme)
        elif user.is_applicant:
            programme = None
            reclaims = selectors.reclaims_visible_to(user)
        else:
            raise Http404
        page = Paginator(reclaims.order_by("-proposed_at", "-id"), PAGE_SIZE).get_page(request.GET.get("page"))
        return render(
            request,
            "reporting/reclaims.html",
            {
                "page": page,
                "programme": programme,
                "respond_form": ReclaimRespondForm(),
                "now": services.timezone.now(),
            },
        )


def _reclaim_or_404(request, pk: int, perm: str) -> GpuReclaim:
    reclaim = get_object_or_404(selectors.reclaims_visible_to(request.user), pk=pk)
    if not request.user.has_perm(perm, reclaim):
        raise Http404
    return reclaim


class ReclaimRespondView(LoginRequiredMixin, View):
    def post(self, request, pk: int):
        reclaim = _reclaim_or_404(request, pk, "reporting.respond_gpureclaim")
        form = ReclaimRespondForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("Write the team's response."))
        else:
            try:
                services.reclaim_respond(reclaim=reclaim, by=request.user, response=form.cleaned_data["response"])
            except DomainError as exc:
                _refuse(request, exc)
            else:
                messages.success(request, _("Your response was recorded; the officers read it before deciding."))
        return redirect("reporting:reclaims")


class ReclaimDecideView(LoginRequiredMixin, View):
    def post(self, request, pk: int):
        reclaim = _reclaim_or_404(request, pk, "reporting.decide_gpureclaim")
        apply = request.POST.get("decision") == "apply"
        back = reverse("reporting:reclaims") + f"?programme={reclaim.programme_id}"
        require_recent_authentication_page(request)
        if apply and not is_confirmed(request):
            confirmation = Confirmation(
                title=_("Return %(gpus)d GPUs of %(team)s to the pool?")
                % {"gpus": reclaim.gpus, "team": reclaim.consortium.name},
                happens=[
                    _("%(nodes)d nodes of %(cluster)s go back to the pool.")
                    % {"nodes": reclaim.nodes, "cluster": reclaim.cluster.name},
                    _("The next allocation run gives the team that many GPUs fewer; the team is told by e-mail."),
                ],
                irreversible=_("An applied reclaim cannot be withdrawn."),
                action_url=request.path,
                cancel_url=back,
                confirm_label=_("Apply the reclaim"),
            )
            return render_confirmation(request, confirmation)
        try:
            services.reclaim_decide(reclaim=reclaim, by=request.user, apply=apply)
        except DomainError as exc:
            _refuse(request, exc)
        else:
            messages.success(request, _("The reclaim was applied.") if apply else _("The reclaim was withdrawn."))
        return redirect(back)
