"""Pages of the allocation part: the GPU pool, allocation runs with live progress, approval.

Thin views: permission (404 for those who may not see), form, one service call, redirect or render.
"""

from __future__ import annotations

import json

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views import View

from evaluations.confirmations import open_appeal_windows
from gpu_allocation import selectors, services
from gpu_allocation.confirmations import run_approve_confirmation
from gpu_allocation.enums import RUN_ACTIVE_STATES, RunStatus
from gpu_allocation.forms import GpuClusterForm, RunApproveForm
from gpu_allocation.models import AllocationRun
from portal.confirm import is_confirmed, render_confirmation
from portal.errors import DomainError
from portal.korean import particles
from portal.reauth import require_recent_authentication_page
from portal.views import NotFoundPermissionMixin

PAGE_SIZE = 50


def _programme_or_404(request):
    programme = selectors.programme_for_allocation(programme_id=request.GET.get("programme"))
    if programme is None and request.GET.get("programme"):
        raise Http404
    return programme


class PoolView(NotFoundPermissionMixin, View):
    """The GPU pool of a programme: clusters, capacity and H100-equivalents."""

    permission_required = "gpu_allocation.view_gpucluster"

    def get(self, request):
        programme = _programme_or_404(request)
        clusters = selectors.gpu_clusters_visible_to(request.user, programme=programme) if programme else None
        page = Paginator(clusters, PAGE_SIZE).get_page(request.GET.get("page")) if clusters is not None else None
        rows = list(page) if page else []
        totals = selectors.gpu_pool_totals(clusters) if clusters is not None else {}
        return render(
            request,
            "gpu_allocation/pool.html",
            {
                "programme": programme,
                "programmes": selectors.programmes_for_switch(),
                "page": page,
                "clusters": rows,
                "totals": totals,
            },
        )


class ClusterEditView(NotFoundPermissionMixin, View):
    """Add a cluster (no pk; programme from ``?programme=``) or change one."""

    permission_required = "gpu_allocation.change_gpucluster"

    def setup(self, request, *args, **kwargs):
        super().setup(request, *args, **kwargs)
        self.cluster = None
        self.programme = None

    def _load(self, request, pk):
        if pk is not None:
            self.cluster = get_object_or_404(selectors.gpu_clusters_visible_to(request.user), pk=pk)
            self.programme = self.cluster.programme
        else:
            self.programme = _programme_or_404(request)
            if self.programme is None:
                raise Http404

    def _render(self, request, form, status=200):
        context = {"form": form, "cluster": self.cluster, "programme": self.programme}
        return render(request, "gpu_allocation/cluster_form.html", context, status=status)

    def get(self, request, pk=None):
        self._load(request, pk)
        return self._render(request, GpuClusterForm(instance=self.cluster, programme=self.programme))

    def post(self, request, pk=None):
        self._load(request, pk)
        form = GpuClusterForm(request.POST, instance=self.cluster, programme=self.programme)
        if not form.is_valid():
            return self._render(request, form, status=400)
        data = {name: form.cleaned_data[name] for name in services.CLUSTER_FIELDS}
        try:
            if self.cluster is None:
                services.gpu_cluster_create(programme=self.programme, by=request.user, data=data)
            else:
                # NOTE: the form changed the instance in memory; the service reloads it under a lock.
                services.gpu_cluster_update(cluster=self.cluster, by=request.user, data=data)
        except ValidationError as exc:
            form.add_error(None, exc)
            return self._render(request, form, status=400)
        except DomainError as exc:
            form.add_error(None, exc.message)
            return self._render(request, form, status=409)
        messages.success(request, _("The GPU pool was saved."))
        return redirect(f"{reverse('gpu_allocation:pool')}?programme={self.programme.pk}")


class RunListView(NotFoundPermissionMixin, View):
    """Runs of a programme, newest first, with the button that starts one."""

    permission_required = "gpu_allocation.view_allocationrun"

    def get(self, request):
        return _render_run_list(request, _programme_or_404(request))


def _render_run_list(request, programme, *, refusal: DomainError | None = None, status: int = 200):
    """The run list; ``refusal`` (a start the rules refused) is shown above it, with its link if it has one."""
    page = None
    in_force = None
    if programme is not None:
        runs = selectors.allocation_runs_visible_to(request.user, programme=programme)
        page = Paginator(runs, PAGE_SIZE).get_page(request.GET.get("page"))
        in_force = selectors.approved_run_in_force(programme=programme)
    return render(
        request,
        "gpu_allocation/run_list.html",
        {
            "programme": programme,
            "programmes": selectors.programmes_for_switch(),
            "page": page,
            "in_force": in_force,
            "refusal": refusal,
        },
        status=status,
    )


class RunStartView(NotFoundPermissionMixin, View):
    permission_required = "gpu_allocation.add_allocationrun"

    def post(self, request, programme_id: int):
        programme = selectors.programme_for_allocation(programme_id=programme_id)
        if programme is None:
            raise Http404
        require_recent_authentication_page(request)
        try:
            run = services.allocation_run_start(programme=programme, by=request.user)
        except DomainError as exc:
            # Nothing was created: the list answers 409 with the reason (and, for undecided ranks, the ties
            # and the link to the ranking page where they are settled).
            return _render_run_list(request, programme, refusal=exc, status=exc.status_code)
        if run.reused_from_id:
            messages.info(
                request,
                _("The inputs have not changed since run #%(id)s: its result is reused.") % {"id": run.reused_from_id},
            )
        else:
            messages.success(request, _("The allocation run was started."))
        return redirect("gpu_allocation:run_detail", pk=run.pk)


class RunObjectMixin(NotFoundPermissionMixin):
    permission_required = "gpu_allocation.view_allocationrun"

    def get_run(self) -> AllocationRun:
        return get_object_or_404(selectors.allocation_runs_visible_to(self.request.user), pk=self.kwargs["pk"])


class RunDetailView(RunObjectMixin, View):
    """A run: live progress while it executes; then table, chart, budgets, explanations,
    the change against the previous approved allocation, and the approve button."""

    def get(self, request, pk: int):
        run = self.get_run()
        context = {"run": run, "active": run.status in RUN_ACTIVE_STATES, "approve_form": RunApproveForm()}
        if run.status == RunStatus.SUCCEEDED:
            allocations = selectors.allocations_of_run(run)
            clusters = selectors.clusters_of_run(run)
            teams = {t["id"]: t for t in run.inputs.get("teams", [])}
            for allocation in allocations:
                by_cluster = {g.cluster_id: g for g in allocation.grants.all()}
                allocation.cells = [by_cluster.get(c.pk) for c in clusters]
                allocation.score = teams.get(allocation.application_id, {}).get("score")
            result = run.result or {}
            usage = {u["cluster_id"]: u for u in result.get("clusters", [])}
            for cluster in clusters:
                cluster.usage = usage.get(cluster.pk, {})
            context.update(
                allocations=allocations,
                clusters=clusters,
                chart=json.dumps(selectors.run_chart_config(allocations, clusters), ensure_ascii=False),
                diff=selectors.allocation_run_diff(run, allocations),
                total_gpus=sum(a.total_gpus for a in allocations),
                pool_gpus=sum(c["nodes"] * c["gpus_per_node"] for c in run.inputs.get("clusters", [])),
                result=result,
                can_approve=run.approved_at is None
                and request.user.has_perm("gpu_allocation.approve_allocationrun", run),
            )
            if context["can_approve"]:
                # Said before the button too: an appeal window still open may change the ranking.
                context["approve_warnings"] = open_appeal_windows(run.programme)
        return render(request, "gpu_allocation/run_detail.html", context)


class RunProgressView(RunObjectMixin, View):
    """The progress fragment polled by htmx every second; asks the page to reload once final."""

    def get(self, request, pk: int):
        run = self.get_run()
        response = render(
            request, "gpu_allocation/_run_progress.html", {"run": run, "active": run.status in RUN_ACTIVE_STATES}
        )
        if run.status not in RUN_ACTIVE_STATES and request.headers.get("HX-Request"):
            response["HX-Refresh"] = "true"
        return response


class RunApproveView(RunObjectMixin, View):
    permission_required = "gpu_allocation.approve_allocationrun"

    def post(self, request, pk: int):
        run = self.get_run()
        require_recent_authentication_page(request)
        form = RunApproveForm(request.POST)
        if not form.is_valid():
            messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
            return redirect("gpu_allocation:run_detail", pk=run.pk)
        if run.status == RunStatus.SUCCEEDED and run.approved_at is None and not is_confirmed(request):
            # Approval cannot be undone: a page names what happens, and warns of an open appeal window.
            return render_confirmation(request, run_approve_confirmation(run, action_url=request.path))
        try:
            services.allocation_run_approve(run=run, by=request.user, reason=form.cleaned_data["reason"])
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, particles(_("Run #%(id)s is now the approved allocation.") % {"id": run.pk}))
        return redirect("gpu_allocation:run_detail", pk=run.pk)
