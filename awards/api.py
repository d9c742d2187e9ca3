"""API for award notices: ``/api/v1/award-notices/`` (scoped list, detail, ``{id}/pdf/``) and
``/api/v1/notice-exports/`` (administrators: start a run's ZIP export, follow it, download it)."""

from __future__ import annotations

from django.http import FileResponse, Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from awards import selectors, services
from gpu_allocation.enums import ExportStatus
from gpu_allocation.models import AllocationRun, AwardNotice, NoticeExport
from portal.api import STEP_UP_PARAMETER, RulesPermission, StrictModelSerializer
from portal.reauth import require_recent_authentication_api


class AwardNoticeSerializer(serializers.ModelSerializer):
    consortium = serializers.CharField(source="allocation.consortium.name")
    consortium_en = serializers.CharField(source="allocation.consortium.name_en")
    run = serializers.IntegerField(source="allocation.run_id")
    current = serializers.SerializerMethodField()
    verification_url = serializers.SerializerMethodField()
    superseded_by = serializers.CharField(source="superseded_by.number", default=None, allow_null=True)

    class Meta:
        model = AwardNotice
        fields = [
            "id", "number", "consortium", "consortium_en", "run", "issued_at", "sha256", "size",
            "verification_code", "verification_url", "current", "superseded_at", "superseded_by",
        ]  # fmt: skip

    def get_current(self, notice) -> bool:
        return selectors.notice_is_current(notice)

    def get_verification_url(self, notice) -> str:
        return services.verification_url(notice.verification_code)


class AwardNoticeViewSet(viewsets.ReadOnlyModelViewSet):
    """Notices visible to the caller (officers: all; teams: their own). Others' ids answer 404."""

    serializer_class = AwardNoticeSerializer
    permission_classes = [RulesPermission]
    permission_map = {"retrieve": "gpu_allocation.view_awardnotice", "pdf": "gpu_allocation.view_awardnotice"}

    def get_queryset(self):
        return selectors.award_notices_visible_to(self.request.user)

    @extend_schema(responses={(200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="The PDF")})
    @action(detail=True, methods=["get"])
    def pdf(self, request, pk=None):
        """The issued PDF, byte for byte (its SHA-256 is the notice's ``sha256``)."""
        notice = self.get_object()
        handle = notice.pdf.open("rb")
        return FileResponse(handle, as_attachment=True, filename=f"{notice.number}.pdf", content_type="application/pdf")


class NoticeExportSerializer(StrictModelSerializer):
    run = serializers.PrimaryKeyRelatedField(queryset=AllocationRun.objects.all())
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = NoticeExport
        fields = [
            "id",
            "run",
            "status",
            "progress",
            "sha256",
            "error",
            "attempts",
            "created_at",
            "finished_at",
            "download_url",
        ]
        read_only_fields = ["status", "progress", "sha256", "error", "attempts", "created_at", "finished_at"]

    def get_download_url(self, export) -> str | None:
        if export.status != ExportStatus.SUCCEEDED:
            return None
        return self.context["request"].build_absolute_uri(f"/api/v1/notice-exports/{export.pk}/zip/")


class NoticeExportViewSet(viewsets.GenericViewSet):
    """Administrators: ``POST {run}`` starts (or rejoins) a run's ZIP export (202); ``GET {id}``
    reports status and progress; ``GET {id}/zip/`` downloads the finished ZIP."""

    serializer_class = NoticeExportSerializer
    permission_classes = [RulesPermission]
    # Scoping does the work: the selector returns no export to anyone but administrators, so
    # every id answers 404 to them; starting an export checks the rule explicitly (404 too).
    permission_map: dict = {}

    def get_queryset(self):
        return selectors.notice_exports_visible_to(self.request.user).order_by("-created_at")

    def list(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request, pk=None):
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(responses={202: NoticeExportSerializer}, parameters=[STEP_UP_PARAMETER])
    def create(self, request):
        if not request.user.has_perm("gpu_allocation.export_awardnotice"):
            raise Http404
        require_recent_authentication_api(request)  # before the input is read: a wrong code is 403, not 400
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        export = services.notice_export_start(run=serializer.validated_data["run"], by=request.user)
        export.refresh_from_db()
        return Response(self.get_serializer(export).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses={(200, "application/zip"): OpenApiResponse(OpenApiTypes.BINARY, description="The ZIP")})
    @action(detail=True, methods=["get"])
    def zip(self, request, pk=None):
        export = self.get_object()
        if export.status != ExportStatus.SUCCEEDED or not export.file:
            raise Http404
        handle = export.file.open("rb")
        return FileResponse(
            handle,
            as_attachment=True,
            filename=f"award-notices-run-{export.run_id}.zip",
            content_type="application/zip",
        )
