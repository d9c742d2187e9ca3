"""REST API of allocation runs (SPEC §8).

* ``GET/POST /api/v1/programmes/{id}/allocation-runs/`` — list a programme's runs / start a run
  (202 with the run's id; 409 if one is already queued or running);
* ``GET /api/v1/allocation-runs/`` and ``/{id}/`` — status, progress and result;
* ``POST /api/v1/allocation-runs/{id}/approve/`` — approve a succeeded run.

Runs are visible to officers and administrators only; anyone else gets 404.
"""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import generics, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from gpu_allocation import selectors, services
from gpu_allocation.models import Allocation, AllocationGrant, AllocationRun
from portal.api import STEP_UP_PARAMETER, RulesPermission, StrictSerializer, refuse_body
from portal.models import Programme
from portal.reauth import require_recent_authentication_api


class GrantSerializer(serializers.ModelSerializer):
    cluster_name = serializers.CharField(source="cluster.name", read_only=True)
    gpu_model = serializers.CharField(source="cluster.gpu_model", read_only=True)

    class Meta:
        model = AllocationGrant
        fields = ["cluster", "cluster_name", "gpu_model", "nodes", "gpus_per_node", "gpus"]


class AllocationSerializer(serializers.ModelSerializer):
    consortium_name = serializers.CharField(source="consortium.name", read_only=True)
    grants = GrantSerializer(many=True, read_only=True)

    class Meta:
        model = Allocation
        fields = [
            "id", "consortium", "consortium_name", "application", "rank", "requested_gpus", "gpu_cap", "total_gpus",
            "equivalents", "budget", "budget_min", "budget_max", "grants", "explanation_en", "explanation_ko",
        ]  # fmt: skip


class AllocationRunSerializer(serializers.ModelSerializer):
    """A run's state. The list omits inputs, result and allocations; the detail has them."""

    class Meta:
        model = AllocationRun
        fields = [
            "id", "programme", "phase_id_snapshot", "status", "progress", "progress_message", "attempts",
            "inputs_sha256", "reused_from", "error", "created_by", "created_at", "started_at", "finished_at",
            "approved_at", "approved_by", "superseded_at",
        ]  # fmt: skip
        read_only_fields = fields


class AllocationRunDetailSerializer(AllocationRunSerializer):
    allocations = serializers.SerializerMethodField()

    class Meta(AllocationRunSerializer.Meta):
        fields = [*AllocationRunSerializer.Meta.fields, "inputs", "result", "allocations"]
        read_only_fields = fields

    @extend_schema_field(AllocationSerializer(many=True))
    def get_allocations(self, run) -> list[dict]:
        return AllocationSerializer(selectors.allocations_of_run(run), many=True).data


class AllocationRunStartedSerializer(AllocationRunSerializer):
    """The run just queued, with the address to follow it at."""

    url = serializers.SerializerMethodField()

    class Meta(AllocationRunSerializer.Meta):
        fields = [*AllocationRunSerializer.Meta.fields, "url"]
        read_only_fields = fields

    def get_url(self, run) -> str:
        return self.context["request"].build_absolute_uri(f"/api/v1/allocation-runs/{run.pk}/")


class ApproveSerializer(StrictSerializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=1000, default="")


class AllocationRunViewSet(viewsets.ReadOnlyModelViewSet):
    """Allocation runs: read status, progress and result; approve."""

    permission_classes = [RulesPermission]
    permission_map = {
        # NOTE: no entry for "list": it is scoped by the selector (empty for non-officers).
        "retrieve": "gpu_allocation.view_allocationrun",
        "approve": "gpu_allocation.approve_allocationrun",
    }
    filterset_fields = ["programme", "status"]

    def get_queryset(self):
        return selectors.allocation_runs_visible_to(self.request.user)

    def get_serializer_class(self):
        return AllocationRunSerializer if self.action == "list" else AllocationRunDetailSerializer

    @extend_schema(request=ApproveSerializer, responses=AllocationRunDetailSerializer, parameters=[STEP_UP_PARAMETER])
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        run = self.get_object()
        require_recent_authentication_api(request)  # before the input is read: a wrong code is 403, not 400
        data = ApproveSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        run = services.allocation_run_approve(run=run, by=request.user, reason=data.validated_data["reason"])
        return Response(AllocationRunDetailSerializer(run).data)


class ProgrammeAllocationRunsView(generics.ListAPIView):
    """A programme's runs (GET) and starting a run (POST → 202 with its id)."""

    permission_classes = [IsAuthenticated]
    serializer_class = AllocationRunSerializer

    def get_programme(self) -> Programme:
        # NOTE: runs are unseen by anyone but officers, so their programme's run list is 404 too.
        if not self.request.user.has_perm("gpu_allocation.view_allocationrun"):
            raise Http404
        return get_object_or_404(Programme, pk=self.kwargs["programme_id"])

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no request user
            return AllocationRun.objects.none()
        return selectors.allocation_runs_visible_to(self.request.user, programme=self.get_programme())

    @extend_schema(request=None, responses={202: AllocationRunStartedSerializer}, parameters=[STEP_UP_PARAMETER])
    def post(self, request, programme_id: int):
        programme = self.get_programme()
        if not request.user.has_perm("gpu_allocation.add_allocationrun", programme):
            raise Http404
        require_recent_authentication_api(request)
        refuse_body(request)
        run = services.allocation_run_start(programme=programme, by=request.user)
        body = AllocationRunStartedSerializer(run, context={"request": request}).data
        return Response(body, status=status.HTTP_202_ACCEPTED)
