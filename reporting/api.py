"""REST API of reports after the award (SPEC §8, §11), mounted under ``/api/v1/``.

* ``GET /reports/`` and ``/reports/{id}/`` — a team's own reports; all for officers;
* ``PATCH /reports/{id}/`` — progress, links and the revision edited (409 if stale);
* ``POST /reports/{id}/submit/`` — submit; ``POST /reports/{id}/usage/`` — the usage CSV
  (multipart, refused whole with line numbers); ``POST /reports/{id}/spending/`` — a spending
  line with its evidence PDF (multipart);
* ``POST /reports/{id}/review/`` — officers: accept, or return with a comment;
* ``GET /reclaims/``, ``POST /reclaims/`` (propose), ``POST /reclaims/{id}/respond/`` (the
  team), ``POST /reclaims/{id}/decide/`` (apply after the window, or withdraw).

Reviewers and other teams get 404. Proposing and deciding a reclaim take the same step-up
as other consequential writes (``X-OTP`` with a token; see portal/reauth.py).
"""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from consortia.models import Consortium
from gpu_allocation.models import GpuReclaim
from portal.api import STEP_UP_PARAMETER, RulesPermission, StrictIntegerField, StrictSerializer, refuse_body
from portal.models import Programme
from portal.reauth import require_recent_authentication_api
from reporting import selectors, services
from reporting.models import ProgressReport, ReportingPlan, Spending, SpendingCategory


class UsageLineSerializer(serializers.Serializer):
    cluster = serializers.CharField()
    gpu_model = serializers.CharField()
    granted_gpus = serializers.IntegerField()
    gpu_hours = serializers.DecimalField(max_digits=14, decimal_places=2)
    hours = serializers.IntegerField(help_text="Hours in the period")
    percent = serializers.DecimalField(
        max_digits=6, decimal_places=1, allow_null=True, help_text="GPU-hours ÷ (granted GPUs × hours) × 100"
    )
    low = serializers.BooleanField(help_text="Below the programme's low-use threshold")


class SpendingSerializer(serializers.ModelSerializer):
    class Meta:
        model = Spending
        fields = ["id", "category", "amount", "description", "evidence_name", "evidence_sha256"]
        read_only_fields = fields


class ProgressReportSerializer(serializers.ModelSerializer):
    consortium_name = serializers.CharField(source="consortium.name", read_only=True)
    late = serializers.BooleanField(source="is_late", read_only=True)
    usage = serializers.SerializerMethodField()
    spending = SpendingSerializer(many=True, read_only=True)

    class Meta:
        model = ProgressReport
        fields = [
            "id", "programme", "consortium", "consortium_name", "period_start", "period_end", "due_at", "state",
            "late", "progress", "links", "usage_sha256", "usage_jobs", "usage", "spending", "submitted_at",
            "reviewed_at", "officer_comment", "revision",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(UsageLineSerializer(many=True))
    def get_usage(self, report) -> list[dict]:
        plan = self.context.get("plans", {}).get(report.programme_id) or services.plan_for(report.programme)
        return UsageLineSerializer(selectors.usage_lines(report, plan), many=True).data


class ReportPatchSerializer(StrictSerializer):
    progress = serializers.CharField(required=False, allow_blank=True, max_length=20000)
    links = serializers.ListField(child=serializers.CharField(max_length=500), required=False, max_length=50)
    revision = StrictIntegerField(help_text="The revision you edited (409 if someone saved meanwhile)")


class UsageUploadSerializer(StrictSerializer):
    file = serializers.FileField(help_text="CSV: JobID,Cluster,Start,End,AllocGPUs (docs/reporting.md)")


class SpendingUploadSerializer(StrictSerializer):
    category = serializers.ChoiceField(choices=SpendingCategory.choices)
    amount = serializers.IntegerField(min_value=1, max_value=10**13, help_text="KRW")
    description = serializers.CharField(max_length=300)
    evidence = serializers.FileField(help_text="PDF (invoice or receipt), checked by content")


class ReviewSerializer(StrictSerializer):
    accept = serializers.BooleanField()
    comment = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")


class ProgressReportViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Reports after the award: a team's own; all for officers."""

    serializer_class = ProgressReportSerializer
    permission_classes = [RulesPermission]
    http_method_names = ["get", "post", "patch", "head", "options"]
    filterset_fields = ["programme", "consortium", "state"]
    permission_map = {
        "list": None,
        "retrieve": "reporting.view_progressreport",
        "partial_update": "reporting.change_progressreport",
        "submit": "reporting.change_progressreport",
        "usage": "reporting.change_progressreport",
        "spending": "reporting.change_progressreport",
        "review": "reporting.review_progressreport",
    }

    def get_queryset(self):
        return selectors.reports_visible_to(self.request.user).prefetch_related("usage__cluster", "spending")

    def get_serializer_context(self):
        # Every programme's plan in one query (the low-use flag of each usage line reads it).
        return {**super().get_serializer_context(), "plans": {p.programme_id: p for p in ReportingPlan.objects.all()}}

    def _fresh(self, report):
        return ProgressReportSerializer(
            self.get_queryset().get(pk=report.pk), context=self.get_serializer_context()
        ).data

    @extend_schema(request=ReportPatchSerializer, responses={200: ProgressReportSerializer})
    def partial_update(self, request, *args, **kwargs):
        """Save progress and links of a draft or returned report."""
        report = self.get_object()
        data = ReportPatchSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        services.report_save(
            report=report,
            by=request.user,
            progress=values.get("progress", report.progress),
            links=values.get("links", report.links),
            revision=values["revision"],
        )
        return Response(self._fresh(report))

    @extend_schema(request=None, responses={200: ProgressReportSerializer})
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        """Submit the report (400 naming what is missing; 409 once submitted)."""
        report = self.get_object()
        refuse_body(request)
        services.report_submit(report=report, by=request.user)
        return Response(self._fresh(report))

    @extend_schema(request={"multipart/form-data": UsageUploadSerializer}, responses={200: ProgressReportSerializer})
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser])
    def usage(self, request, pk=None):
        """Upload the usage CSV; any wrong line refuses the whole file (400, every line number in ``errors.file``)."""
        report = self.get_object()
        data = UsageUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        uploaded = data.validated_data["file"]
        if uploaded.size > services.USAGE_MAX_BYTES:
            from portal.errors import PayloadTooLarge

            raise PayloadTooLarge("The usage file is larger than 20 MB; split it by month.")
        services.report_upload_usage(report=report, by=request.user, data=uploaded.read(), name=uploaded.name[:100])
        return Response(self._fresh(report))

    @extend_schema(request={"multipart/form-data": SpendingUploadSerializer}, responses={201: SpendingSerializer})
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser])
    def spending(self, request, pk=None):
        """Add a spending line with its evidence PDF."""
        report = self.get_object()
        data = SpendingUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        line = services.report_add_spending(report=report, by=request.user, **data.validated_data)
        return Response(SpendingSerializer(line).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ReviewSerializer, responses={200: ProgressReportSerializer})
    @action(detail=True, methods=["post"])
    def review(self, request, pk=None):
        """Officers: accept a submitted report, or return it with a comment (mailed to the team)."""
        report = self.get_object()
        data = ReviewSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.report_review(
            report=report, by=request.user, accept=data.validated_data["accept"], comment=data.validated_data["comment"]
        )
        return Response(self._fresh(report))


class GpuReclaimSerializer(serializers.ModelSerializer):
    consortium_name = serializers.CharField(source="consortium.name", read_only=True)
    cluster_name = serializers.CharField(source="cluster.name", read_only=True)

    class Meta:
        model = GpuReclaim
        fields = [
            "id", "programme", "consortium", "consortium_name", "allocation", "cluster", "cluster_name", "nodes",
            "gpus", "reason", "state", "proposed_at", "respond_by", "response", "responded_at", "decided_at",
        ]  # fmt: skip
        read_only_fields = fields


class ReclaimProposeSerializer(StrictSerializer):
    programme = StrictIntegerField()
    consortium = StrictIntegerField()
    cluster = StrictIntegerField()
    nodes = StrictIntegerField(help_text="Whole nodes, at most what the team holds on the cluster")
    reason = serializers.CharField(max_length=2000)


class ReclaimRespondSerializer(StrictSerializer):
    response = serializers.CharField(max_length=5000)


class ReclaimDecideSerializer(StrictSerializer):
    apply = serializers.BooleanField(help_text="true: apply (after the response window); false: withdraw")


class GpuReclaimViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Reclaims of idle GPUs: a team's own; all for officers."""

    serializer_class = GpuReclaimSerializer
    permission_classes = [RulesPermission]
    filterset_fields = ["programme", "consortium", "state"]
    permission_map = {
        "list": None,
        "retrieve": "reporting.view_gpureclaim",
        "respond": "reporting.respond_gpureclaim",
        "decide": "reporting.decide_gpureclaim",
    }

    def get_queryset(self):
        return selectors.reclaims_visible_to(self.request.user).order_by("-proposed_at", "-id")

    @extend_schema(
        request=ReclaimProposeSerializer, responses={201: GpuReclaimSerializer}, parameters=[STEP_UP_PARAMETER]
    )
    def create(self, request):
        """Officers: propose returning nodes of a team's cluster (only after the low-use streak)."""
        if not request.user.has_perm("reporting.propose_gpureclaim"):
            raise Http404
        require_recent_authentication_api(request)
        data = ReclaimProposeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        programme = get_object_or_404(Programme, pk=values["programme"])
        consortium = get_object_or_404(Consortium, pk=values["consortium"], programme=programme)
        reclaim = services.reclaim_propose(
            programme=programme, consortium=consortium, cluster_id=values["cluster"], nodes=values["nodes"],
            by=request.user, reason=values["reason"],
        )  # fmt: skip
        return Response(
            GpuReclaimSerializer(self.get_queryset().get(pk=reclaim.pk)).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(request=ReclaimRespondSerializer, responses={200: GpuReclaimSerializer})
    @action(detail=True, methods=["post"])
    def respond(self, request, pk=None):
        """The team: respond within the window."""
        reclaim = self.get_object()
        data = ReclaimRespondSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.reclaim_respond(reclaim=reclaim, by=request.user, response=data.validated_data["response"])
        return Response(GpuReclaimSerializer(self.get_queryset().get(pk=reclaim.pk)).data)

    @extend_schema(
        request=ReclaimDecideSerializer, responses={200: GpuReclaimSerializer}, parameters=[STEP_UP_PARAMETER]
    )
    @action(detail=True, methods=["post"])
    def decide(self, request, pk=None):
        """Officers: apply after the response window (409 before), or withdraw."""
        reclaim = self.get_object()
        require_recent_authentication_api(request)
        data = ReclaimDecideSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.reclaim_decide(reclaim=reclaim, by=request.user, apply=data.validated_data["apply"])
        return Response(GpuReclaimSerializer(self.get_queryset().get(pk=reclaim.pk)).data)
