"""Pages of the results app (namespace ``results``).

Signed-in pages: a team imports its results files; an officer maps objectives to a task and
metric and keeps the phase's reference models. Public pages (no login): the programme, its
teams, each published phase's results and attainment charts, the open data and the way to
the award-notice verification page.
"""

from __future__ import annotations

import csv
import io
import json
from functools import cached_property

from django.contrib import messages
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views import View

from consortia.models import Application
from evaluations.enums import PhaseKind
from evaluations.models import Phase
from portal.errors import DomainError
from portal.views import NotFoundPermissionMixin
from results import charts, services
from results.forms import ImportForm, MappingFormSet, ReferenceModelForm
from results.models import BenchmarkImport, ObjectiveMapping
from results.opendata import SCHEMA, export_csv_rows, export_json
from results.selectors import (
    imports_visible,
    public_phase_results,
    public_programme,
    public_programme_everything,
    public_programmes,
)

# --------------------------------------------------------------------------- team: import


class ImportView(NotFoundPermissionMixin, View):
    """A team uploads an lm-evaluation-harness results file or a model card; the page shows
    what was found, what matched which objective and what did not."""

    permission_required = "results.import_benchmarks"
    template_name = "results/import.html"

    def get_permission_object(self):
        if not hasattr(self, "application"):
            self.phase = get_object_or_404(Phase, pk=self.kwargs["pk"], kind=PhaseKind.STAGE)
            self.application = get_object_or_404(
                Application.objects.select_related("consortium"), pk=self.kwargs["application"]
            )
        return self.application

    def context(self, form=None, report=None, error=None):
        objectives = list(self.phase.objectives.select_related("mapping").order_by("id"))
        return {
            "phase": self.phase,
            "application": self.application,
            "form": form or ImportForm(),
            "objectives": objectives,
            "report": report,
            "error": error,
            "imports": imports_visible(phase=self.phase, application=self.application),
            "closed": services.phase_is_closed(self.phase),
        }

    def get(self, request, pk, application):
        return render(request, self.template_name, self.context())

    def post(self, request, pk, application):
        form = ImportForm(request.POST, request.FILES)
        if not form.is_valid():
            messages.error(request, _("Choose a results file to upload."))
            return render(request, self.template_name, self.context(form), status=400)
        upload = form.cleaned_data["file"]
        try:
            services.refuse_if_too_large(upload.size)  # before reading it
            outcome = services.benchmark_import(
                phase=self.phase,
                application=self.application,
                by=request.user,
                filename=upload.name,
                data=upload.read(),
                dry_run=form.cleaned_data["dry_run"],
            )
        except DomainError as exc:  # shown once, beside the form (``error``)
            report = exc.details if exc.details.get("found") else None
            return render(request, self.template_name, self.context(form, report, exc.message), status=exc.status_code)
        report = outcome.as_dict()
        if outcome.record is None:
            messages.info(request, _("The file was checked; nothing was stored."))
        else:
            messages.success(
                request,
                _("The file was stored as evidence and %(count)d results were saved.")
                % {"count": len(outcome.report.matched)},
            )
        return render(request, self.template_name, self.context(ImportForm(), report))


class ImportDetailView(NotFoundPermissionMixin, View):
    permission_required = "results.view_import"

    def get_permission_object(self):
        if not hasattr(self, "record"):
            self.record = get_object_or_404(
                BenchmarkImport.objects.select_related("phase", "application__consortium", "uploaded_by"),
                pk=self.kwargs["pk"],
            )
        return self.record

    def get(self, request, pk):
        record = self.get_permission_object()
        return render(request, "results/import_detail.html", {"record": record})


class ImportFileView(ImportDetailView):
    def get(self, request, pk):
        record = self.get_permission_object()
        response = FileResponse(record.file.open("rb"), as_attachment=True, filename=record.original_name)
        response["Content-Type"] = "application/octet-stream"
        response["X-Content-SHA256"] = record.sha256
        return response


# --------------------------------------------------------------------------- officer: mapping and references


class OfficerPhaseEvidenceMixin(NotFoundPermissionMixin):
    permission_required = "results.manage_phase_evidence"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and request.user.has_perm(self.permission_required):
            self.phase = get_object_or_404(
                Phase.objects.select_related("programme"), pk=kwargs["pk"], kind=PhaseKind.STAGE
            )
        return super().dispatch(request, *args, **kwargs)


class MappingView(OfficerPhaseEvidenceMixin, View):
    """Map each objective of the phase once to the task and metric of a results file."""

    template_name = "results/mapping.html"

    def _initial(self):
        objectives = list(self.phase.objectives.order_by("id"))
        mappings = {m.objective_id: m for m in ObjectiveMapping.objects.filter(objective__phase=self.phase)}
        initial = [
            {
                "objective": o.id,
                "task": mappings[o.id].task if o.id in mappings else "",
                "metric": mappings[o.id].metric if o.id in mappings else "",
                "harness_scale": mappings[o.id].harness_scale if o.id in mappings else 1,
                "card_scale": mappings[o.id].card_scale if o.id in mappings else 1,
            }
            for o in objectives
        ]
        return objectives, initial

    def context(self, formset=None):
        objectives, initial = self._initial()
        formset = formset or MappingFormSet(initial=initial, prefix="mapping")
        return {
            "phase": self.phase,
            "rows": list(zip(objectives, formset.forms, strict=False)),
            "formset": formset,
            "closed": services.phase_is_closed(self.phase),
            "imports": list(
                BenchmarkImport.objects.filter(phase=self.phase)
                .select_related("application__consortium", "uploaded_by")
                .order_by("-uploaded_at", "-id")[:200]
            ),
        }

    def get(self, request, pk):
        return render(request, self.template_name, self.context())

    def post(self, request, pk):
        objectives, initial = self._initial()
        formset = MappingFormSet(request.POST, initial=initial, prefix="mapping")
        if not formset.is_valid():
            messages.error(request, _("Check the rows marked below; nothing was changed."))
            return render(request, self.template_name, self.context(formset), status=400)
        try:
            services.objective_mapping_set(phase=self.phase, by=request.user, rows=[f.cleaned_data for f in formset])
        except DomainError as exc:
            messages.error(request, exc.message)
            return render(request, self.template_name, self.context(formset), status=exc.status_code)
        messages.success(request, _("The objective mapping was saved."))
        return redirect("results:mapping", pk=pk)


class ReferenceModelsView(OfficerPhaseEvidenceMixin, View):
    """The reference models of a stage phase: list, add, change, remove (until the phase closes)."""

    template_name = "results/reference_models.html"

    def context(self, form=None, editing=None):
        objectives = list(self.phase.objectives.order_by("id"))
        references = list(self.phase.reference_models.prefetch_related("scores"))
        rows = []
        for ref in references:
            scores = {s.objective_id: s.score for s in ref.scores.all()}
            rows.append({"ref": ref, "scores": [scores.get(o.id) for o in objectives]})
        return {
            "phase": self.phase,
            "objectives": objectives,
            "rows": rows,
            "form": form or ReferenceModelForm(objectives=objectives, instance=editing),
            "editing": editing,
            "closed": services.phase_is_closed(self.phase),
        }

    def _reference(self, request):
        ref_id = request.GET.get("edit") or request.POST.get("reference")
        if not ref_id:
            return None
        return get_object_or_404(self.phase.reference_models, pk=ref_id) if str(ref_id).isdigit() else None

    def get(self, request, pk):
        return render(request, self.template_name, self.context(editing=self._reference(request)))

    def post(self, request, pk):
        editing = self._reference(request)
        if request.POST.get("delete") and editing is not None:
            try:
                services.reference_model_delete(reference=editing, by=request.user)
            except DomainError as exc:
                messages.error(request, exc.message)
                return render(request, self.template_name, self.context(), status=exc.status_code)
            messages.success(request, _("The reference model was removed."))
            return redirect("results:reference_models", pk=pk)
        objectives = list(self.phase.objectives.order_by("id"))
        form = ReferenceModelForm(request.POST, objectives=objectives, instance=editing)
        if not form.is_valid():
            messages.error(request, _("Check the fields marked below; nothing was changed."))
            return render(request, self.template_name, self.context(form, editing), status=400)
        try:
            services.reference_model_save(
                phase=self.phase,
                by=request.user,
                reference=editing,
                data={
                    k: form.cleaned_data.get(k)
                    for k in ("name", "version", "released_on", "source_url", "source_title")
                },
                scores=form.scores(),
            )
        except DomainError as exc:
            messages.error(request, exc.message)
            for name, errors in (exc.details.get("errors") or {}).items():
                for error in errors:
                    form.add_error(name if name in form.fields else None, error)
            return render(request, self.template_name, self.context(form, editing), status=exc.status_code)
        messages.success(request, _("The reference model was saved."))
        return redirect("results:reference_models", pk=pk)


# --------------------------------------------------------------------------- public


def _lang_en() -> bool:
    return (get_language() or "ko").startswith("en")


class PublicIndexView(View):
    def get(self, request):
        programmes = list(public_programmes()[:50])
        return render(request, "results/public_index.html", {"programmes": programmes, "en": _lang_en()})


def _public(pk, *, everything: bool = False):
    programme = get_object_or_404(public_programmes(), pk=pk)
    return public_programme_everything(programme) if everything else public_programme(programme)


class PublicProgrammeView(View):
    def get(self, request, pk):
        data = _public(pk)
        return render(request, "results/public_programme.html", {"p": data, "en": _lang_en()})


class PhaseCharts:
    """The attainment charts of a phase, drawn only when the page's cached fragment is not
    there (the template iterates over them)."""

    def __init__(self, phase, *, en: bool):
        self.phase, self.en = phase, en

    @cached_property
    def items(self) -> list[dict]:
        items = []
        if not self.phase.is_stage:
            return items
        for r in self.phase.results:
            if not r.named or not r.attainment:
                continue
            team = r.team_en if self.en else r.team_ko
            items.append(
                {
                    "result": r,
                    "team": team,
                    "svg": charts.attainment_svg(
                        r.attainment,
                        chart_id=f"chart-{r.application_id}",
                        title=_("%(team)s: benchmark attainment against the reference models") % {"team": team},
                    ),
                }
            )
        return items

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


class PublicPhaseView(View):
    def get(self, request, pk, phase):
        data = _public(pk)
        shown = next((ph for ph in data.phases if ph.id == phase), None)
        if shown is None:
            raise Http404
        en = _lang_en()
        charts_ = PhaseCharts(shown, en=en)
        page = public_phase_results(shown, stamp=data.stamp, number=request.GET.get("page"))
        return render(
            request,
            "results/public_phase.html",
            {"p": data, "phase": shown, "page": page, "charts": charts_, "en": en},
        )


class PublicExportView(View):
    """The open data of a programme: ``results.csv``, ``attainment.csv``, ``results.json``."""

    def get(self, request, pk, name):
        data = _public(pk, everything=True)
        if name == "results.json":
            response = JsonResponse(export_json(data, request), json_dumps_params={"ensure_ascii": False, "indent": 2})
        elif name in ("results.csv", "attainment.csv"):
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            for row in export_csv_rows(data, kind=name.split(".")[0]):
                writer.writerow(row)
            response = HttpResponse("\ufeff" + buffer.getvalue(), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = f'attachment; filename="programme-{data.id}-{name}"'
        else:
            raise Http404
        response["Access-Control-Allow-Origin"] = "*"
        response["Cache-Control"] = "public, max-age=300"
        return response


class PublicSchemaView(View):
    def get(self, request):
        response = HttpResponse(
            json.dumps(SCHEMA, ensure_ascii=False, indent=2), content_type="application/schema+json"
        )
        response["Access-Control-Allow-Origin"] = "*"
        return response


class PublicVerifyView(View):
    """The way from the public pages to an award notice's verification page (by its code)."""

    def get(self, request):
        code = (request.GET.get("code") or "").strip()
        if code and len(code) <= 64 and code.replace("-", "").isalnum():
            return redirect(reverse("verify:notice", args=[code]))
        return render(
            request, "results/public_verify.html", {"code": code, "invalid": bool(code)}, status=400 if code else 200
        )
