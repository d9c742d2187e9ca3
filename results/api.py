"""REST API of the results app, under /api/v1/:

* ``POST /benchmark-imports/`` (multipart: ``phase``, ``application``, ``file``, optional
  ``dry_run``): a team imports a results file; 201 with what was found and matched (200 for a
  check that stores nothing); 400/409/413 with the message and nothing stored.
  ``GET /benchmark-imports/?phase=&application=``: the imports a user may see.
* ``GET/PUT /phases/{id}/objective-mapping/`` (officer): each objective's task, metric and
  the scales of harness and model-card values.
* ``/reference-models/`` (officer): the reference models of stage phases, with their scores.
"""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from consortia.models import Application
from consortia.selectors import team_contacts_q
from evaluations.enums import PhaseKind
from evaluations.models import Phase
from portal.api import RulesPermission, StrictSerializer
from results import services
from results.models import BenchmarkImport, ObjectiveMapping, ReferenceModel


class ImportInputSerializer(serializers.Serializer):
    phase = serializers.IntegerField()
    application = serializers.IntegerField()
    file = serializers.FileField(allow_empty_file=True)
    dry_run = serializers.BooleanField(required=False, default=False)


class ImportReportSerializer(serializers.Serializer):
    id = serializers.IntegerField(allow_null=True)
    stored = serializers.BooleanField()
    format = serializers.CharField()
    format_label = serializers.CharField()
    file_name = serializers.CharField()
    size = serializers.IntegerField()
    sha256 = serializers.CharField()
    model_name = serializers.CharField(allow_blank=True)
    found = serializers.ListField(child=serializers.DictField())
    skipped = serializers.ListField(child=serializers.CharField())
    matched = serializers.ListField(child=serializers.DictField())
    missed = serializers.ListField(child=serializers.DictField())


class BenchmarkImportSerializer(serializers.ModelSerializer):
    class Meta:
        model = BenchmarkImport
        fields = [
            "id", "phase", "application", "format", "original_name", "size", "sha256", "model_name", "found",
            "matched", "missed", "uploaded_at",
        ]  # fmt: skip


class BenchmarkImportViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = BenchmarkImportSerializer
    permission_classes = [RulesPermission]
    permission_map = {"retrieve": "results.view_import"}
    parser_classes = [MultiPartParser, FormParser]

    def get_queryset(self):
        user = self.request.user
        qs = BenchmarkImport.objects.select_related("application__consortium").order_by("-uploaded_at", "-id")
        if getattr(self, "swagger_fake_view", False) or not user.is_authenticated:
            return qs.none()
        if not user.is_officer:
            qs = qs.filter(team_contacts_q(user, "application__consortium__")).distinct()
        for name in ("phase", "application"):
            value = self.request.query_params.get(name)
            if value:
                if not value.isdigit():
                    raise serializers.ValidationError({name: "Give an id."})
                qs = qs.filter(**{f"{name}_id": int(value)})
        return qs

    @extend_schema(
        request={"multipart/form-data": ImportInputSerializer},
        responses={201: ImportReportSerializer, 200: ImportReportSerializer},
    )
    def create(self, request):
        form = ImportInputSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        phase = Phase.objects.filter(pk=data["phase"], kind=PhaseKind.STAGE).first()
        application = Application.objects.select_related("consortium").filter(pk=data["application"]).first()
        if phase is None or application is None or not request.user.has_perm("results.import_benchmarks", application):
            raise Http404
        upload = data["file"]
        services.refuse_if_too_large(upload.size)
        outcome = services.benchmark_import(
            phase=phase,
            application=application,
            by=request.user,
            filename=upload.name,
            data=upload.read(),
            dry_run=data["dry_run"],
        )
        code = status.HTTP_200_OK if outcome.record is None else status.HTTP_201_CREATED
        return Response(outcome.as_dict(), status=code)


class MappingRowSerializer(StrictSerializer):
    objective = serializers.IntegerField()
    task = serializers.CharField(allow_blank=True, max_length=200)
    metric = serializers.CharField(allow_blank=True, max_length=100)
    harness_scale = serializers.DecimalField(max_digits=8, decimal_places=4, required=False, default="1")
    card_scale = serializers.DecimalField(max_digits=8, decimal_places=4, required=False, default="1")


class MappingInputSerializer(StrictSerializer):
    mappings = MappingRowSerializer(many=True)


def _mapping_rows(phase: Phase) -> list[dict]:
    mappings = {m.objective_id: m for m in ObjectiveMapping.objects.filter(objective__phase=phase)}
    return [
        {
            "objective": o.id,
            "model_category": o.model_category,
            "benchmark": o.benchmark,
            "task": mappings[o.id].task if o.id in mappings else "",
            "metric": mappings[o.id].metric if o.id in mappings else "",
            "harness_scale": str(mappings[o.id].harness_scale) if o.id in mappings else "1.0000",
            "card_scale": str(mappings[o.id].card_scale) if o.id in mappings else "1.0000",
        }
        for o in phase.objectives.order_by("id")
    ]


class ObjectiveMappingView(APIView):
    """The officer's mapping of each objective to a task and metric of a results file."""

    permission_classes = [IsAuthenticated]  # and officers only: others get 404 (``_phase``)

    def _phase(self, pk) -> Phase:
        if not self.request.user.has_perm("results.manage_phase_evidence"):
            raise Http404
        return get_object_or_404(Phase, pk=pk, kind=PhaseKind.STAGE)

    @extend_schema(
        responses=inline_serializer(
            "ObjectiveMappingList", {"mappings": serializers.ListField(child=serializers.DictField())}
        )
    )
    def get(self, request, pk):
        return Response({"mappings": _mapping_rows(self._phase(pk))})

    @extend_schema(
        request=MappingInputSerializer,
        responses=inline_serializer(
            "ObjectiveMappingResult", {"mappings": serializers.ListField(child=serializers.DictField())}
        ),
    )
    def put(self, request, pk):
        phase = self._phase(pk)
        form = MappingInputSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        services.objective_mapping_set(phase=phase, by=request.user, rows=form.validated_data["mappings"])
        return Response({"mappings": _mapping_rows(phase)})


class ReferenceScoreSerializer(StrictSerializer):
    objective = serializers.IntegerField()
    score = serializers.DecimalField(max_digits=10, decimal_places=4)


class ReferenceModelSerializer(serializers.ModelSerializer):
    phase = serializers.PrimaryKeyRelatedField(queryset=Phase.objects.filter(kind=PhaseKind.STAGE))
    scores = ReferenceScoreSerializer(many=True, write_only=True)

    class Meta:
        model = ReferenceModel
        fields = ["id", "phase", "name", "version", "released_on", "source_url", "source_title", "scores"]
        read_only_fields = ["id"]
        validators = []  # the service checks (and names) clashes

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["scores"] = [{"objective": s.objective_id, "score": str(s.score)} for s in instance.scores.all()]
        return data

    def validate(self, attrs):
        if self.instance is not None and "phase" in attrs and attrs["phase"].pk != self.instance.phase_id:
            raise serializers.ValidationError({"phase": "A reference model stays with its phase."})
        return attrs


class ReferenceModelViewSet(viewsets.ModelViewSet):
    serializer_class = ReferenceModelSerializer
    permission_classes = [RulesPermission]
    permission_map = {"*": "results.manage_phase_evidence"}
    http_method_names = ["get", "post", "put", "patch", "delete"]

    def get_queryset(self):
        if not self.request.user.has_perm("results.manage_phase_evidence"):
            return ReferenceModel.objects.none()
        qs = ReferenceModel.objects.select_related("phase").prefetch_related("scores")
        phase = self.request.query_params.get("phase")
        if phase:
            if not phase.isdigit():
                raise serializers.ValidationError({"phase": "Give an id."})
            qs = qs.filter(phase_id=int(phase))
        return qs.order_by("phase_id", "name", "id")

    @extend_schema(parameters=[OpenApiParameter("phase", int, description="Only this phase's reference models.")])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def _save(self, serializer, instance=None):
        data = dict(serializer.validated_data)
        scores = data.pop("scores", None)
        phase = data.pop("phase", None) or instance.phase
        if instance is not None:
            merged = {k: getattr(instance, k) for k in ("name", "version", "released_on", "source_url", "source_title")}
            merged.update(data)
            data = merged
            if scores is None:
                scores = [{"objective": s.objective_id, "score": s.score} for s in instance.scores.all()]
        score_map = {s["objective"]: s["score"] for s in scores or []}
        serializer.instance = services.reference_model_save(
            phase=phase, by=self.request.user, data=data, scores=score_map, reference=instance
        )

    def perform_create(self, serializer):
        self._save(serializer)

    def perform_update(self, serializer):
        self._save(serializer, serializer.instance)

    def perform_destroy(self, instance):
        services.reference_model_delete(reference=instance, by=self.request.user)
