"""Pages of the evaluations app: thin views around the selectors and services.

Unseen objects answer 404 (``NotFoundPermissionMixin``); *not possible now* shows the
service's message (status 409 on the re-rendered page); bad input re-renders with 400.
"""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import get_language, gettext_noop
from django.utils.translation import gettext as _
from django.views import View

from consortia.models import Application, Attachment, ConsortiumMember
from consortia.versions import read_version
from evaluations import scoring, services
from evaluations.confirmations import CONFIRMED_PHASE_ACTIONS, phase_action_confirmation, score_submit_confirmation
from evaluations.disagreement import row_disagreement
from evaluations.enums import (
    PHASE_FROZEN_STATES,
    AppealStatus,
    AssignmentStatus,
    CriterionSource,
    Decision,
    PhaseKind,
    PhaseStatus,
)
from evaluations.forms import (
    AppealDecisionForm,
    AppealForm,
    BenchmarkResultForm,
    CriterionFormSet,
    DeclarationForm,
    GateDecisionForm,
    InviteReviewersForm,
    ManualAssignForm,
    ObjectiveFormSet,
    PanelImportForm,
    PanelKeepForm,
    PhaseForm,
    TieBreakForm,
    rows_kept,
)
from evaluations.models import Appeal, Assignment, BenchmarkResult, GateDecision, Phase, PhaseResult, UserPanelScore
from evaluations.ranking import phase_ranking_rows, phase_ranking_source
from evaluations.ranking_cache import cache_read, cache_write
from evaluations.ranking_snapshot import application_categories
from evaluations.selectors import (
    anonymised_comments,
    appeals_visible_to,
    applications_of_member,
    assignments_visible_to,
    latest_versions,
    phase_applications,
    phase_reviewer_progress,
    phases_visible_to,
    results_visible_to,
    reviewer_queue,
)
from portal.confirm import is_confirmed, render_confirmation
from portal.errors import DomainError, InvalidInput
from portal.labels import localized
from portal.models import Programme, User
from portal.redirects import safe_next_url
from portal.views import NotFoundPermissionMixin

PAGE_SIZE = 50
CONTENT_FIELDS = [
    ("summary", gettext_noop("Summary")), ("technical_approach", gettext_noop("Technical approach")),
    ("data_strategy", gettext_noop("Data strategy")), ("compute_plan", gettext_noop("Compute plan")),
    ("team_plan", gettext_noop("Team and talent plan")),
    ("open_source_plan", gettext_noop("Open-source and public-access plan")),
]  # fmt: skip
DECISION_COLOURS = {
    Decision.SELECTED: "#0d6efd",
    Decision.KEPT: "#0d6efd",
    Decision.RESERVE: "#6f42c1",
    Decision.NOT_SELECTED: "#adb5bd",
    Decision.ELIMINATED: "#adb5bd",
}


def _fail(request, exc: DomainError) -> None:
    messages.error(request, exc.message)


class OfficerPhaseMixin(NotFoundPermissionMixin):
    """Officer pages about one phase (``self.phase``)."""

    permission_required = "evaluations.manage_phase"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and request.user.has_perm(self.permission_required):
            self.phase = get_object_or_404(phases_visible_to(request.user), pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)


# --------------------------------------------------------------------------- officers: phases


class PhaseListView(NotFoundPermissionMixin, View):
    permission_required = "evaluations.view_phase"

    def get(self, request):
        page = Paginator(phases_visible_to(request.user), PAGE_SIZE).get_page(request.GET.get("page"))
        programmes = Programme.objects.order_by("-year", "id")
        return render(request, "evaluations/phase_list.html", {"page": page, "programmes": programmes})


def phase_form_errors(form, criteria, objectives) -> list[dict]:
    """Every error of the set-up page in one list for the top of the page, each with a link to its field."""
    summary = []
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else ""
        anchor = form[name].id_for_label if name in form.fields else ""
        summary += [{"label": label, "message": message, "anchor": anchor} for message in errors]
    for formset, title in ((criteria, _("Criteria")), (objectives, _("Objectives (benchmark targets)"))):
        summary += [{"label": title, "message": message, "anchor": ""} for message in formset.non_form_errors()]
        for number, row in enumerate(formset.forms, 1):
            for name, errors in row.errors.items():
                field = row.fields.get(name)
                where = {"section": title, "row": number, "field": field.label if field else ""}
                label = (_("%(section)s, row %(row)d: %(field)s") if field else _("%(section)s, row %(row)d")) % where
                anchor = row[name].id_for_label if field else ""
                summary += [{"label": label, "message": message, "anchor": anchor} for message in errors]
    return summary


class PhaseEditView(NotFoundPermissionMixin, View):
    """Create a phase (``?programme=<id>``) or change one still being set up."""

    permission_required = "evaluations.manage_phase"
    template_name = "evaluations/phase_form.html"

    def _phase(self, pk):
        return get_object_or_404(phases_visible_to(self.request.user), pk=pk) if pk else None

    def _forms(self, phase, data=None):
        if phase is not None:
            criteria = [
                {k: getattr(c, k) for k in services.CRITERION_FIELDS if k != "order"} for c in phase.criteria.all()
            ]
            objectives = [{k: getattr(o, k) for k in services.OBJECTIVE_FIELDS} for o in phase.objectives.all()]
        else:
            criteria = [
                {"key": "technology", "name": "기술성", "name_en": "Technology", "source": CriterionSource.EXPERT, "max_points": 40},
                {"key": "capability", "name": "수행 역량", "name_en": "Capability", "source": CriterionSource.EXPERT, "max_points": 30},
                {"key": "impact", "name": "파급 효과", "name_en": "Impact", "source": CriterionSource.EXPERT, "max_points": 30},
            ]  # fmt: skip
            objectives = []
        initial = {}
        if phase is None:
            programme_id = self.request.GET.get("programme")
            has_selection = Phase.objects.filter(programme_id=programme_id, kind=PhaseKind.SELECTION).exists()
            initial = {"kind": PhaseKind.STAGE if has_selection else PhaseKind.SELECTION}
        return (
            PhaseForm(data, instance=phase, initial=initial),
            CriterionFormSet(data, initial=None if data else criteria, prefix="criteria"),
            ObjectiveFormSet(data, initial=None if data else objectives, prefix="objectives"),
        )

    def get(self, request, pk=None):
        phase = self._phase(pk)
        if phase is not None and phase.status != PhaseStatus.SETUP:
            messages.info(request, _("The phase settings are fixed once scoring has opened."))
            return redirect("evaluations:phase_detail", pk=phase.pk)
        form, criteria, objectives = self._forms(phase)
        return render(
            request, self.template_name, {"phase": phase, "form": form, "criteria": criteria, "objectives": objectives}
        )

    def post(self, request, pk=None):
        phase = self._phase(pk)
        data = request.POST
        # "Add a row" buttons (no JavaScript needed): the same page again with one more empty row.
        adding = next((prefix for prefix in ("criteria", "objectives") if f"add_{prefix}" in data), None)
        if adding is not None:
            data = data.copy()
            total = data.get(f"{adding}-TOTAL_FORMS", "0")
            data[f"{adding}-TOTAL_FORMS"] = str(min(int(total) if total.isdigit() else 0, 98) + 1)
        form, criteria, objectives = self._forms(phase, data)
        context = {"phase": phase, "form": form, "criteria": criteria, "objectives": objectives}
        if adding is not None:
            form.helper.form_show_errors = False
            return render(request, self.template_name, {**context, "show_errors": False, "focus_row": adding})
        if not (form.is_valid() and criteria.is_valid() and objectives.is_valid()):
            context["error_summary"] = phase_form_errors(form, criteria, objectives)
            return render(request, self.template_name, {**context, "show_errors": True}, status=400)
        data = {k: form.cleaned_data[k] for k in PhaseForm.Meta.fields}
        data["tie_break_criteria"] = form.cleaned_data["tie_break_criteria"]
        criteria_rows = rows_kept(criteria)
        objective_rows = rows_kept(objectives)
        try:
            if phase is None:
                programme = get_object_or_404(
                    Programme, pk=request.GET.get("programme") or request.POST.get("programme")
                )
                phase = services.phase_create(
                    programme=programme, by=request.user, data=data, criteria=criteria_rows, objectives=objective_rows
                )
            else:
                services.phase_update(phase=phase, by=request.user, data=data)
                services.phase_set_criteria(phase=phase, by=request.user, criteria=criteria_rows)
                services.phase_set_objectives(phase=phase, by=request.user, objectives=objective_rows)
        except DomainError as exc:
            _fail(request, exc)
            context["error_summary"] = [{"label": "", "message": exc.message, "anchor": ""}]
            return render(request, self.template_name, {**context, "show_errors": True}, status=exc.status_code)
        messages.success(request, _("The phase was saved."))
        return redirect("evaluations:phase_detail", pk=phase.pk)


class PhaseDetailView(OfficerPhaseMixin, View):
    def get(self, request, pk):
        phase = self.phase
        progress = phase_reviewer_progress(phase=phase)
        chart = {
            "type": "bar",
            "data": {
                "labels": [p.name for p in progress],
                "datasets": [
                    {"label": _("Submitted"), "data": [p.submitted for p in progress], "backgroundColor": "#198754"},
                    {
                        "label": _("Not yet submitted"),
                        "data": [p.assigned - p.submitted for p in progress],
                        "backgroundColor": "#ffc107",
                    },
                    {
                        "label": _("Conflict declared"),
                        "data": [p.conflicted for p in progress],
                        "backgroundColor": "#dc3545",
                    },
                ],
            },
            "options": {
                "scales": {
                    "x": {"stacked": True},
                    "y": {"stacked": True, "beginAtZero": True, "ticks": {"precision": 0}},
                }
            },
        }
        totals = {
            "assigned": sum(p.assigned for p in progress),
            "submitted": sum(p.submitted for p in progress),
            "conflicted": sum(p.conflicted for p in progress),
        }
        context = {
            "phase": phase,
            "criteria": list(phase.criteria.all()),
            "objectives": list(phase.objectives.all()),
            "progress": progress,
            "totals": totals,
            "progress_chart": json.dumps(chart, ensure_ascii=False),
            "application_count": phase_applications(phase=phase).count(),
            "open_appeals": phase.appeals.filter(status=AppealStatus.OPEN).count(),
            "appeal_closes_at": services.appeal_window_closes_at(phase),
            "now": timezone.now(),
        }
        return render(request, "evaluations/phase_detail.html", context)


class PhaseActionView(OfficerPhaseMixin, View):
    """POST-only state changes: open scoring, finalise, publish, make final."""

    ACTIONS = {
        "open-scoring": (services.phase_open_scoring, gettext_noop("Scoring is open.")),
        "finalise": (services.phase_finalise, gettext_noop("The phase is finalised: scores and ranking are frozen.")),
        "publish": (services.phase_publish, gettext_noop("The results are published; the appeal window has started.")),
        "make-final": (services.phase_make_final, gettext_noop("The results are final.")),
    }

    def post(self, request, pk, action):
        if action not in self.ACTIONS:
            raise Http404
        service, message = self.ACTIONS[action]
        if action in CONFIRMED_PHASE_ACTIONS and not is_confirmed(request):
            # Finalising and publishing cannot be undone: a page names what happens first.
            return render_confirmation(request, phase_action_confirmation(self.phase, action, action_url=request.path))
        try:
            service(phase=self.phase, by=request.user)
        except DomainError as exc:
            _fail(request, exc)
        else:
            messages.success(request, _(message))
        fallback = reverse("evaluations:phase_detail", args=[pk])
        return redirect(safe_next_url(request, request.POST.get("next"), fallback))


# --------------------------------------------------------------------------- officers: assignments


class PhaseAssignmentsView(OfficerPhaseMixin, View):
    template_name = "evaluations/phase_assignments.html"

    def context(self, invite=None, manual=None):
        phase = self.phase
        applications = list(phase_applications(phase=phase))
        assignments = assignments_visible_to(self.request.user, phase=phase)
        page = Paginator(assignments, PAGE_SIZE).get_page(self.request.GET.get("page"))
        conflicted = list(assignments.filter(status=AssignmentStatus.CONFLICTED).select_related("declaration")[:50])
        pool = User.objects.filter(phase_pools__phase=phase).order_by("full_name", "username")
        return {
            "phase": phase,
            "page": page,
            "conflicted": conflicted,
            "pool": pool,
            "invite_form": invite or InviteReviewersForm(phase=phase),
            "manual_form": manual or ManualAssignForm(applications=applications, phase=phase),
            "application_count": len(applications),
            "frozen": phase.status in PHASE_FROZEN_STATES,
        }

    def get(self, request, pk):
        return render(request, self.template_name, self.context())

    def post(self, request, pk):
        phase = self.phase
        what = request.POST.get("what")
        try:
            if what == "invite":
                form = InviteReviewersForm(request.POST, phase=phase)
                if not form.is_valid():
                    return render(request, self.template_name, self.context(invite=form), status=400)
                added = services.phase_invite_reviewers(
                    phase=phase, by=request.user, reviewers=list(form.cleaned_data["reviewers"])
                )
                messages.success(request, _("%(count)d reviewers joined the pool.") % {"count": len(added)})
            elif what == "auto":
                summary = services.phase_auto_assign(phase=phase, by=request.user)
                messages.success(
                    request,
                    _("%(created)d assignments created; loads differ by at most %(spread)d.")
                    % {"created": summary.created, "spread": summary.spread},
                )
                if summary.shortfalls:
                    messages.warning(
                        request,
                        _("%(count)d applications lack eligible reviewers: invite more reviewers to the pool.")
                        % {"count": len(summary.shortfalls)},
                    )
            elif what == "manual":
                form = ManualAssignForm(request.POST, applications=list(phase_applications(phase=phase)), phase=phase)
                if not form.is_valid():
                    return render(request, self.template_name, self.context(manual=form), status=400)
                application = get_object_or_404(phase_applications(phase=phase), pk=form.cleaned_data["application"])
                services.assignment_create(
                    phase=phase, application=application, reviewer=form.cleaned_data["reviewer"], by=request.user
                )
                messages.success(request, _("The reviewer was assigned."))
            elif what == "replace":
                assignment = get_object_or_404(Assignment, pk=request.POST.get("assignment"), phase=phase)
                reviewer_id = request.POST.get("reviewer")
                reviewer = get_object_or_404(User, pk=reviewer_id) if reviewer_id else None
                new = services.assignment_replace(assignment=assignment, by=request.user, reviewer=reviewer)
                if new is None:
                    messages.warning(request, _("No eligible reviewer is left in the pool: invite another reviewer."))
                else:
                    messages.success(
                        request, _("%(reviewer)s now reviews this application.") % {"reviewer": new.reviewer}
                    )
            else:
                raise Http404
        except DomainError as exc:
            _fail(request, exc)
            return render(request, self.template_name, self.context(), status=exc.status_code)
        return redirect("evaluations:phase_assignments", pk=pk)


# --------------------------------------------------------------------------- officers: ranking, exports, inputs


#: Ties to decide shown at once on the ranking page.
TIES_SHOWN = 10


def _ranking_figures(phase: Phase, rows, scored_criteria) -> dict:
    """The cut line and both charts: read from the whole ranking (for a finalised phase, a
    few aggregate queries over every result), so kept in the cache under the ranking's
    version and the page's language, like the rendered table."""
    key = f"evaluations:ranking-figures:{rows.version}:{get_language()}"
    figures = cache_read(key) if rows.version else None
    if figures is not None:
        return figures
    top = rows.scored_top(50)
    ranking_chart = {
        "type": "bar",
        "data": {
            "labels": [f"{r.rank}. {r.consortium}" for r in top],
            "datasets": [
                {
                    "type": "line",
                    "label": _("Pass threshold"),
                    "data": [float(phase.pass_threshold)] * len(top),
                    "borderColor": "#dc3545",
                    "borderDash": [6, 4],
                    "pointRadius": 0,
                },
                {
                    "label": _("Score"),
                    "data": [float(r.score) for r in top],
                    "backgroundColor": [DECISION_COLOURS.get(r.decision, "#ffc107") for r in top],
                },
            ],
        },
        "options": {"scales": {"y": {"min": 0, "max": 100}}, "plugins": {"legend": {"display": True}}},
    }
    distribution = rows.score_bands(phase=phase, criteria=scored_criteria)
    bands = ["0–20%", "20–40%", "40–60%", "60–80%", "80–100%"]
    colours = ["#dc3545", "#fd7e14", "#ffc107", "#20c997", "#198754"]
    distribution_chart = {
        "type": "bar",
        "data": {
            "labels": [localized(c) for c in scored_criteria],
            "datasets": [
                {"label": band, "data": [distribution[c.id][i] for c in scored_criteria], "backgroundColor": colours[i]}
                for i, band in enumerate(bands)
            ],
        },
        "options": {"scales": {"x": {"stacked": True}, "y": {"stacked": True, "beginAtZero": True}}},
    }
    figures = {
        "cut_after": rows.last_active_id(),
        "ranking_chart": json.dumps(ranking_chart, ensure_ascii=False),
        "distribution_chart": json.dumps(distribution_chart, ensure_ascii=False),
    }
    if rows.version:
        cache_write(key, figures)
    return figures


def _ranking_context(phase: Phase, rows, snapshot):
    """Charts and summaries of the ranking. ``rows`` is lazy once frozen (a few
    aggregate/limited queries, never every row); live, it is the computed list."""
    criteria = rows.criteria
    scored_criteria = [c for c in criteria if not c.is_gate]
    figures = _ranking_figures(phase, rows, scored_criteria)
    ties = []
    ties_more = 0
    if snapshot is not None:
        # The first TIES_SHOWN ties, in rank order; the next appear as these are decided
        # (a page's size must not grow with the number of applications).
        groups = snapshot.result.needs_officer_decision[:TIES_SHOWN]
        ties_more = len(snapshot.result.needs_officer_decision) - len(groups)
        names = rows.rows_by_id(i for group in groups for i in group.application_ids)
        for group in groups:
            ties.append(
                {
                    "group": group,
                    "rows": [names[i] for i in group.application_ids],
                    "ids": ",".join(str(i) for i in group.application_ids),
                }
            )
    return {
        **figures,
        "phase": phase,
        "criteria": scored_criteria,
        "ties": ties,
        "ties_more": ties_more,
        "tie_form": TieBreakForm(),
        "frozen": snapshot is None,
        "ready": snapshot.result.ready_to_finalise if snapshot is not None else True,
        "criterion_names": {c.key: localized(c) for c in criteria},
    }


class PhaseRankingView(OfficerPhaseMixin, View):
    """The ranking dashboard: charts, the ranked table with the cut line, ties to decide."""

    def get(self, request, pk):
        rows, snapshot = phase_ranking_source(phase=self.phase)
        context = _ranking_context(self.phase, rows, snapshot)
        context["page"] = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
        context["total"] = context["page"].paginator.count
        context["rows_version"] = rows.version
        return render(request, "evaluations/phase_ranking.html", context)

    def post(self, request, pk):
        if request.POST.get("action") == "panel_keeps":
            return self._panel_keeps(request, pk)
        form = TieBreakForm(request.POST)
        if form.is_valid():
            try:
                services.tie_break_decide(
                    phase=self.phase,
                    by=request.user,
                    ordered_application_ids=form.cleaned_data["order"],
                    reason=form.cleaned_data["reason"],
                )
                messages.success(request, _("The tie decision was recorded."))
            except DomainError as exc:
                _fail(request, exc)
        else:
            messages.error(request, _("Give the order and the reason."))
        return redirect("evaluations:phase_ranking", pk=pk)

    def _panel_keeps(self, request, pk):
        form = PanelKeepForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("Give the number of teams the panel keeps and the panel's reasons."))
            return redirect("evaluations:phase_ranking", pk=pk)
        try:
            services.phase_panel_keep(
                phase=self.phase, by=request.user, count=form.cleaned_data["count"], reason=form.cleaned_data["reason"]
            )
        except DomainError as exc:
            _fail(request, exc)
        else:
            if form.cleaned_data["count"] is None:
                messages.success(request, _("The panel's decision was withdrawn; the phase keeps its full places."))
            else:
                messages.success(request, _("The panel's decision was recorded; the ranking's decisions follow it."))
        return redirect("evaluations:phase_ranking", pk=pk)


def neutralise(value):
    """Spreadsheet-safe cell: text starting with = + - @ gets a leading quote (no formula injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _export_table(phase: Phase):
    rows, _snapshot = phase_ranking_rows(phase=phase)
    criteria = [c for c in phase.criteria.all() if not c.is_gate]
    header = ["rank", "receipt_number", "consortium", "title", "score", "expert_score"]
    header += [c.key for c in criteria] + ["passed", "decision", "reserve_rank", "objectives_met"]
    header += ["reviewer_spread", "reviewer_stdev", "reviewers_disagree"]
    # The criterion columns are contributions: the expert ones add up to expert_score (the
    # mean over the kept sheets); reviewer_totals lists every sheet's total, dropped_totals
    # those the trimmed mean left out. Figures are rounded to two places for display only.
    header += ["reviewer_totals", "dropped_totals"]
    table = []
    for r in rows:
        line = [r.rank, r.receipt_number, r.consortium, r.title, r.score, r.expert_score]
        line += [Decimal(r.criterion_means[c.key]) if r.criterion_means.get(c.key) else None for c in criteria]
        line += [
            "yes" if r.passed else "no",
            r.decision,
            r.reserve_rank,
            f"{r.objectives_met}/{len(r.attainment)}" if r.attainment else "",
        ]
        spread = row_disagreement(r, criteria)
        line += [spread.spread, spread.stdev, "yes" if spread.flagged else "no"]
        line += ["; ".join(r.reviewer_totals), "; ".join(r.dropped_totals)]
        table.append([neutralise(v) for v in line])
    return header, table


class PhaseExportView(OfficerPhaseMixin, View):
    def get(self, request, pk, fmt):
        header, table = _export_table(self.phase)
        filename = f"ranking-phase-{self.phase.pk}"
        if fmt == "csv":
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            writer.writerow(header)
            writer.writerows(["" if v is None else v for v in line] for line in table)
            response = HttpResponse("\ufeff" + buffer.getvalue(), content_type="text/csv; charset=utf-8")
        elif fmt == "xlsx":
            from openpyxl import Workbook

            book = Workbook()
            sheet = book.active
            sheet.title = "ranking"
            sheet.append(header)
            for line in table:
                sheet.append(line)
            out = io.BytesIO()
            book.save(out)
            response = HttpResponse(
                out.getvalue(), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            )
        else:
            raise Http404
        response["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
        return response


class PhaseGatesView(OfficerPhaseMixin, View):
    def get(self, request, pk):
        gates = list(self.phase.criteria.filter(is_gate=True))
        applications = list(phase_applications(phase=self.phase))
        decisions = {
            (d.criterion_id, d.application_id): d for d in GateDecision.objects.filter(criterion__phase=self.phase)
        }
        rows = [
            {"application": a, "gate": g, "decision": decisions.get((g.id, a.id))} for a in applications for g in gates
        ]
        return render(
            request, "evaluations/phase_gates.html", {"phase": self.phase, "rows": rows, "form": GateDecisionForm()}
        )

    def post(self, request, pk):
        form = GateDecisionForm(request.POST)
        criterion = get_object_or_404(self.phase.criteria.filter(is_gate=True), pk=request.POST.get("criterion"))
        application = get_object_or_404(phase_applications(phase=self.phase), pk=request.POST.get("application"))
        if not form.is_valid():
            messages.error(request, _("Choose pass or fail and give the reasons."))
            return redirect("evaluations:phase_gates", pk=pk)
        try:
            services.gate_decide(criterion=criterion, application=application, by=request.user, **form.cleaned_data)
            messages.success(request, _("The gate decision was recorded."))
        except DomainError as exc:
            _fail(request, exc)
        return redirect("evaluations:phase_gates", pk=pk)


class PanelImportView(OfficerPhaseMixin, View):
    template_name = "evaluations/panel_import.html"

    def context(self, form=None, errors=None):
        scores = UserPanelScore.objects.filter(criterion__phase=self.phase).select_related(
            "criterion", "application__consortium"
        )
        return {"phase": self.phase, "form": form or PanelImportForm(), "scores": scores[:200], "errors": errors or []}

    def get(self, request, pk):
        return render(request, self.template_name, self.context())

    def post(self, request, pk):
        form = PanelImportForm(request.POST, request.FILES)
        if not form.is_valid():
            return render(request, self.template_name, self.context(form), status=400)
        try:
            count = services.panel_scores_import(phase=self.phase, by=request.user, csv_text=form.cleaned_data["file"])
        except DomainError as exc:
            _fail(request, exc)
            return render(
                request, self.template_name, self.context(form, exc.details.get("errors")), status=exc.status_code
            )
        messages.success(request, _("%(count)d user-panel scores imported.") % {"count": count})
        return redirect("evaluations:panel_import", pk=pk)


# --------------------------------------------------------------------------- reviewers


class ReviewerQueueView(NotFoundPermissionMixin, View):
    permission_required = "evaluations.list_assignments"

    def get(self, request):
        qs = reviewer_queue(request.user)
        if request.user.is_officer:
            qs = qs.none()  # officers use the phase pages; this queue is the reviewer's own
        page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
        context = {"page": page, "rows": _queue_rows(page.object_list), "now": timezone.now()}
        return render(request, "evaluations/reviewer_queue.html", context)


def _queue_rows(assignments) -> list[dict]:
    """What each row of the queue shows, with what belongs to the phase (its name in the
    page's language, the close of scoring as the page writes it) worked out once a phase
    rather than once a row: a queue's 50 rows share one phase or a few."""
    phases = {}
    sentinel = "2147483647"  # one reverse a page, the row's key put in its place
    score_url = reverse("evaluations:assignment_score", args=[sentinel])
    declare_url = reverse("evaluations:assignment_declare", args=[sentinel])
    rows = []
    for a in assignments:
        shown = phases.get(a.phase_id)
        if shown is None:
            closes = a.phase.scoring_closes_at
            local = timezone.localtime(closes) if closes else None
            shown = phases[a.phase_id] = {
                "phase": localized(a.phase),
                "closes": formats.date_format(local, "Y-m-d H:i") if local else "",
                "closes_iso": local.isoformat() if local else "",
                "scoring": a.phase.status == PhaseStatus.SCORING,
            }
        url = declare_url if a.status == AssignmentStatus.AWAITING_DECLARATION else score_url
        rows.append({
            **shown, "status": a.status, "status_label": a.get_status_display(),
            "consortium": a.application.consortium.name, "receipt": a.version.receipt_number if a.version_id else "",
            "url": url.replace(sentinel, str(a.pk), 1),
        })  # fmt: skip
    return rows


class AssignmentMixin(NotFoundPermissionMixin):
    def get_permission_object(self):
        if not hasattr(self, "assignment"):
            self.assignment = get_object_or_404(
                Assignment.objects.select_related("phase", "application__consortium", "version", "reviewer"),
                pk=self.kwargs["pk"],
            )
        return self.assignment


class DeclarationView(AssignmentMixin, View):
    permission_required = "evaluations.declare_conflict"

    def context(self, form):
        a = self.assignment
        members = ConsortiumMember.objects.filter(consortium_id=a.application.consortium_id).select_related(
            "organisation"
        )
        return {"assignment": a, "members": members, "form": form}

    def get(self, request, pk):
        if self.assignment.status != AssignmentStatus.AWAITING_DECLARATION:
            return redirect("evaluations:assignment_score", pk=pk)
        return render(request, "evaluations/declaration.html", self.context(DeclarationForm()))

    def post(self, request, pk):
        form = DeclarationForm(request.POST)
        if not form.is_valid():
            return render(request, "evaluations/declaration.html", self.context(form), status=400)
        try:
            assignment = services.assignment_declare(assignment=self.assignment, by=request.user, **form.cleaned_data)
        except DomainError as exc:
            _fail(request, exc)
            return render(request, "evaluations/declaration.html", self.context(form), status=exc.status_code)
        if assignment.status == AssignmentStatus.CONFLICTED:
            messages.info(request, _("Your conflict was recorded; the officer will assign another reviewer."))
            return redirect("evaluations:reviewer_queue")
        return redirect("evaluations:assignment_score", pk=pk)


class ScoringView(AssignmentMixin, View):
    """The application (the version under review) and the scoring form with each rubric beside it."""

    permission_required = "evaluations.score_assignment"
    template_name = "evaluations/scoring.html"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and request.user.is_reviewer:
            assignment = self.get_permission_object()
            if assignment.reviewer_id == request.user.id and assignment.status == AssignmentStatus.AWAITING_DECLARATION:
                return redirect("evaluations:assignment_declare", pk=assignment.pk)
            if not request.user.has_perm("evaluations.review_application", assignment):
                raise Http404
        return super().dispatch(request, *args, **kwargs)

    def context(self, errors=None, posted=None):
        a = self.assignment
        criteria = list(a.phase.criteria.filter(source=CriterionSource.EXPERT, is_gate=False))
        mine = {s.criterion_id: s for s in a.scores.all()}
        rows = []
        for c in criteria:
            row = {
                "criterion": c,
                "value": mine[c.id].value if c.id in mine else "",
                "comment": mine[c.id].comment if c.id in mine else "",
            }
            if posted is not None:
                row["value"] = posted.get(f"score_{c.key}", "")
                row["comment"] = posted.get(f"comment_{c.key}", "")
            rows.append(row)
        frozen = read_version(a.version if a.version_id else None)
        labels = dict(CONTENT_FIELDS)
        fields = [(labels[name], value, missing) for name, value, missing in frozen.text_fields]
        proposal = {
            "version": frozen,
            "title": frozen.title,
            "title_missing": "title" in frozen.missing,
            "categories": frozen.categories,
            "categories_missing": "model_categories" in frozen.missing,
            "gpus": frozen.requested_gpus,
            "budget": frozen.requested_budget,
            "milestones": frozen.milestones,
            "attachments": frozen.attachments,
        }
        refusal = (
            None
            if a.status != AssignmentStatus.ACTIVE
            else services.scoring_refusal(phase=a.phase, application_id=a.application_id)
        )
        other = [c for c in a.phase.criteria.all() if c.source != CriterionSource.EXPERT or c.is_gate]
        return {
            "assignment": a,
            "rows": rows,
            "other_criteria": other,
            "fields": fields,
            "proposal": proposal,
            "refusal": refusal,
            "editable": a.status == AssignmentStatus.ACTIVE and refusal is None,
            "errors": errors or [],
            "total": sum((Decimal(str(r["value"])) for r in rows if r["value"] not in ("", None)), Decimal(0)),
            "total_max": sum((c.max_points for c in criteria), Decimal(0)),
        }

    def get(self, request, pk):
        return render(request, self.template_name, self.context())

    def post(self, request, pk):
        a = self.assignment
        keys = list(a.phase.criteria.filter(source=CriterionSource.EXPERT, is_gate=False).values_list("key", flat=True))
        scores = {k: request.POST.get(f"score_{k}", "").strip() for k in keys}
        comments = {k: request.POST.get(f"comment_{k}", "") for k in keys if f"comment_{k}" in request.POST}
        submit = "submit" in request.POST
        # Submitting cannot be undone: the scores are saved as a draft and a page asks to confirm.
        confirming = submit and not is_confirmed(request)
        try:
            services.assignment_save_scores(
                assignment=a,
                by=request.user,
                scores=scores,
                comments=comments,
                comment=request.POST.get("comment", ""),
                submit=submit and not confirming,
            )
        except InvalidInput as exc:
            return render(request, self.template_name, self.context([exc.message], request.POST), status=400)
        except DomainError as exc:
            _fail(request, exc)
            a.refresh_from_db()
            return render(request, self.template_name, self.context(), status=exc.status_code)
        if confirming:
            return render_confirmation(request, score_submit_confirmation(a, action_url=request.path))
        messages.success(request, _("Your review was submitted.") if submit else _("Draft saved."))
        return redirect(
            "evaluations:reviewer_queue" if submit else "evaluations:assignment_score", **({} if submit else {"pk": pk})
        )


class ReviewAttachmentView(AssignmentMixin, View):
    """An attachment of the version under review, for its cleared reviewer only.

    Only files listed in the frozen version (by id, with a matching SHA-256) are served,
    so a file added to the draft later is never shown as part of the scored version.
    """

    permission_required = "evaluations.review_application"

    def get(self, request, pk, attachment):
        a = self.assignment
        listed = read_version(a.version if a.version_id else None).attachment(attachment)
        file = get_object_or_404(Attachment, pk=attachment, application_id=a.application_id)
        if listed is None or listed.sha256 != file.sha256:
            raise Http404
        return FileResponse(
            file.file.open("rb"), as_attachment=True, filename=file.original_name, content_type="application/pdf"
        )


# --------------------------------------------------------------------------- appeals


class AppealListView(NotFoundPermissionMixin, View):
    permission_required = "evaluations.decide_appeal"

    def get(self, request):
        page = Paginator(appeals_visible_to(request.user).order_by("status", "-filed_at"), PAGE_SIZE).get_page(
            request.GET.get("page")
        )
        return render(request, "evaluations/appeal_list.html", {"page": page})


class AppealDecideView(NotFoundPermissionMixin, View):
    permission_required = "evaluations.decide_appeal"

    def context(self, form):
        appeal = self.appeal
        result = PhaseResult.objects.filter(phase=appeal.phase, application=appeal.application).first()
        return {
            "appeal": appeal,
            "result": result,
            "form": form,
            "was_reviewer": services.officer_was_reviewer(phase=appeal.phase, user=self.request.user),
        }

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and request.user.is_officer:
            self.appeal = get_object_or_404(appeals_visible_to(request.user), pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)

    def get(self, request, pk):
        return render(request, "evaluations/appeal_decide.html", self.context(AppealDecisionForm()))

    def post(self, request, pk):
        form = AppealDecisionForm(request.POST)
        if not form.is_valid():
            return render(request, "evaluations/appeal_decide.html", self.context(form), status=400)
        try:
            services.appeal_decide(appeal=self.appeal, by=request.user, **form.cleaned_data)
        except DomainError as exc:
            _fail(request, exc)
            return render(request, "evaluations/appeal_decide.html", self.context(form), status=exc.status_code)
        messages.success(request, _("The decision was recorded."))
        return redirect("evaluations:appeal_list")


# --------------------------------------------------------------------------- applicants


class MyResultsView(NotFoundPermissionMixin, View):
    permission_required = "evaluations.view_own_results"

    def get(self, request):
        results = list(results_visible_to(request.user)[:PAGE_SIZE])
        own = applications_of_member(request.user)
        open_stage = [
            (phase, application)
            for phase in Phase.objects.filter(status=PhaseStatus.SCORING, kind=PhaseKind.STAGE).select_related(
                "programme"
            )
            for application in phase_applications(phase=phase).filter(id__in=own.values("id"))
        ]
        return render(request, "evaluations/my_results.html", {"results": results, "open_stage": open_stage})


class ResultDetailView(NotFoundPermissionMixin, View):
    """An applicant's result in one phase: score, decision, anonymised comments, appeal."""

    permission_required = "evaluations.view_own_results"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            self.result = get_object_or_404(
                results_visible_to(request.user), phase_id=kwargs["phase"], application_id=kwargs["application"]
            )
        return super().dispatch(request, *args, **kwargs)

    def context(self, form=None):
        result = self.result
        phase = result.phase
        appeal = Appeal.objects.filter(phase=phase, application=result.application).first()
        closes = services.appeal_window_closes_at(phase)
        can_appeal = appeal is None and phase.status == PhaseStatus.PUBLISHED and closes and timezone.now() <= closes
        return {
            "result": result,
            "phase": phase,
            "details": result.details,
            "criterion_names": {c["key"]: localized(c) for c in (result.details or {}).get("criteria", [])},
            "comments": anonymised_comments(phase=phase, application_id=result.application_id)
            if phase.show_comments_to_applicants
            else None,
            "appeal": appeal,
            "appeal_closes_at": closes,
            "can_appeal": can_appeal,
            "form": form or AppealForm(),
        }

    def get(self, request, phase, application):
        return render(request, "evaluations/result_detail.html", self.context())

    def post(self, request, phase, application):
        form = AppealForm(request.POST)
        if not request.user.has_perm("evaluations.file_appeal", self.result.application):
            raise Http404
        if not form.is_valid():
            return render(request, "evaluations/result_detail.html", self.context(form), status=400)
        try:
            services.appeal_file(
                phase=self.result.phase, application=self.result.application, by=request.user, **form.cleaned_data
            )
        except DomainError as exc:
            _fail(request, exc)
            return render(request, "evaluations/result_detail.html", self.context(form), status=exc.status_code)
        messages.success(request, _("Your appeal was filed."))
        return redirect("evaluations:result_detail", phase=phase, application=application)


def team_objectives(phase: Phase, application: Application) -> list:
    """The phase's objectives for the model categories the team's evaluated version targets
    (all of them if none matches, as the scoring does)."""
    version = latest_versions(application_ids=[application.pk]).get(application.pk)
    categories = set(application_categories(application, version))
    objectives = list(phase.objectives.all())
    return [o for o in objectives if o.model_category in categories] or objectives


class BenchmarkSubmitView(NotFoundPermissionMixin, View):
    """A team enters its results against the phase's objectives, with evidence."""

    permission_required = "evaluations.submit_benchmark"

    def get_permission_object(self):
        if not hasattr(self, "application"):
            self.phase = get_object_or_404(Phase, pk=self.kwargs["pk"], kind=PhaseKind.STAGE)
            self.application = get_object_or_404(
                Application.objects.select_related("consortium"), pk=self.kwargs["application"]
            )
        return self.application

    def context(self):
        results = {
            r.objective_id: r
            for r in BenchmarkResult.objects.filter(objective__phase=self.phase, application=self.application)
        }
        rows = []
        for objective in team_objectives(self.phase, self.application):
            result = results.get(objective.id)
            attained = None
            if result is not None:
                (attained,) = scoring.objective_attainment(
                    [
                        scoring.BenchmarkObjective(
                            benchmark=objective.benchmark,
                            reference_model=objective.reference_model,
                            reference_score=objective.reference_score,
                            target_ratio=objective.target_ratio,
                        )
                    ],
                    {objective.benchmark: result.score},
                )
            rows.append(
                {
                    "objective": objective,
                    "result": result,
                    "ratio": attained.ratio if attained else None,
                    "met": attained is not None and attained.met,
                }
            )
        return {"phase": self.phase, "application": self.application, "rows": rows, "form": BenchmarkResultForm()}

    def get(self, request, pk, application):
        return render(request, "evaluations/benchmarks.html", self.context())

    def post(self, request, pk, application):
        objective = get_object_or_404(self.phase.objectives, pk=request.POST.get("objective"))
        if objective not in team_objectives(self.phase, self.application):
            messages.error(
                request,
                _("This objective is for a model category your application does not target; nothing was saved."),
            )
            return render(request, "evaluations/benchmarks.html", self.context(), status=400)
        form = BenchmarkResultForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("Give the score as a number of at least 0 and describe the evidence."))
            return render(request, "evaluations/benchmarks.html", self.context(), status=400)
        try:
            services.benchmark_result_submit(
                objective=objective, application=self.application, by=request.user, **form.cleaned_data
            )
        except DomainError as exc:
            _fail(request, exc)
            return render(request, "evaluations/benchmarks.html", self.context(), status=exc.status_code)
        messages.success(request, _("The result was saved."))
        return redirect("evaluations:benchmarks", pk=pk, application=application)
