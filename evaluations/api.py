"""REST API of evaluations (SPEC §8): phases, assignments, conflicts, scores, ranking, appeals.

Lists come from selectors (only visible rows); objects outside them answer 404. Writes go
through the services; *not possible now* is 409 and bad input 400 (portal handler).
"""

from __future__ import annotations

from dataclasses import asdict

from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_field, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from consortia.models import Application
from evaluations import services
from evaluations.disagreement import row_disagreement
from evaluations.enums import AppealGrounds, AssignmentStatus
from evaluations.models import Appeal, Assignment, Criterion, Objective, Phase, PhaseResult
from evaluations.ranking import phase_ranking_source
from evaluations.selectors import (
    anonymised_comments,
    appeals_visible_to,
    assignments_visible_to,
    phases_visible_to,
    results_visible_to,
)
from portal.api import RulesPermission, StrictModelSerializer, StrictSerializer, refuse_body, score_value
from portal.models import Programme


class CriterionSerializer(StrictModelSerializer):
    class Meta:
        model = Criterion
        fields = [
            "id", "key", "order", "name", "name_en", "rubric", "rubric_en", "source", "max_points", "threshold",
            "is_gate",
        ]  # fmt: skip
        read_only_fields = ["id", "order"]


class ObjectiveSerializer(StrictModelSerializer):
    class Meta:
        model = Objective
        fields = ["id", "model_category", "benchmark", "reference_model", "reference_score", "target_ratio"]
        read_only_fields = ["id"]


class PhaseSerializer(StrictModelSerializer):
    programme = serializers.PrimaryKeyRelatedField(queryset=Programme.objects.all())
    criteria = CriterionSerializer(many=True, required=False)
    objectives = ObjectiveSerializer(many=True, required=False)

    class Meta:
        model = Phase
        fields = [
            "id", "programme", "order", "name", "name_en", "kind", "status", "teams_to_keep", "pass_threshold",
            "reviewers_per_application", "aggregation_method", "tie_break_criteria", "scoring_opens_at",
            "scoring_closes_at", "show_comments_to_applicants", "appeal_window_days", "appeal_scope",
            "finalised_at", "published_at", "panel_keeps", "panel_keeps_reason", "criteria", "objectives",
        ]  # fmt: skip
        read_only_fields = ["id", "status", "finalised_at", "published_at", "panel_keeps", "panel_keeps_reason"]
        extra_kwargs = {"order": {"required": False}, "kind": {"required": False}}
        validators = []  # the order defaults to the next free one; the service reports clashes

    def validate(self, attrs):
        opens, closes = attrs.get("scoring_opens_at"), attrs.get("scoring_closes_at")
        if opens and closes and closes <= opens:
            raise serializers.ValidationError({"scoring_closes_at": "The window must close after it opens."})
        return attrs


class AssignmentScoreSerializer(serializers.Serializer):
    criterion = serializers.CharField(source="criterion.key")
    value = serializers.DecimalField(max_digits=4, decimal_places=1)
    comment = serializers.CharField()


class AssignmentSerializer(serializers.ModelSerializer):
    application_title = serializers.SerializerMethodField()
    consortium = serializers.CharField(source="application.consortium.name", read_only=True)
    reviewer_name = serializers.CharField(source="reviewer.__str__", read_only=True)
    receipt_number = serializers.SerializerMethodField()
    scores = AssignmentScoreSerializer(many=True, read_only=True)

    class Meta:
        model = Assignment
        fields = [
            "id", "phase", "application", "application_title", "consortium", "receipt_number", "reviewer",
            "reviewer_name", "status", "assigned_at", "submitted_at", "comment", "scores",
        ]  # fmt: skip

    def get_application_title(self, obj) -> str:
        """Hidden until the reviewer has declared no conflict (the proposal stays closed)."""
        if obj.status == AssignmentStatus.AWAITING_DECLARATION or not obj.version_id:
            return ""
        return obj.version.frozen.title

    def get_receipt_number(self, obj) -> str:
        return obj.version.receipt_number if obj.version_id else ""


class ConflictInputSerializer(StrictSerializer):
    has_conflict = serializers.BooleanField()
    reason = serializers.CharField(required=False, allow_blank=True, default="")


def _points(value, criterion: str):
    return None if value is None else score_value(value, label=criterion)


class ScoresInputSerializer(StrictSerializer):
    """``scores``: criterion key → points (or a list of ``{criterion, value, comment}``); points
    are JSON numbers with at most one decimal place (``8``, ``8.5``; ``null`` clears one)."""

    scores = serializers.JSONField()
    comment = serializers.CharField(required=False, allow_blank=True, allow_null=True, default=None)
    submit = serializers.BooleanField(required=False, default=False)

    def validate_scores(self, value):
        if isinstance(value, dict):
            return {"values": {str(k): _points(v, str(k)) for k, v in value.items()}, "comments": {}}
        if isinstance(value, list):
            values, comments = {}, {}
            for item in value:
                if not isinstance(item, dict) or "criterion" not in item:
                    raise serializers.ValidationError("Each item needs a criterion key and a value.")
                values[str(item["criterion"])] = _points(item.get("value"), str(item["criterion"]))
                if "comment" in item:
                    comments[str(item["criterion"])] = item["comment"] or ""
            return {"values": values, "comments": comments}
        raise serializers.ValidationError("Give an object of criterion key → points, or a list of items.")


class DisagreementSerializer(serializers.Serializer):
    """Spread of the submitted reviewer totals (``evaluations.scoring.reviewer_disagreement``)."""

    reviewers = serializers.IntegerField()
    spread = serializers.DecimalField(max_digits=6, decimal_places=2, allow_null=True)
    stdev = serializers.DecimalField(max_digits=6, decimal_places=2, allow_null=True)
    threshold = serializers.DecimalField(max_digits=6, decimal_places=2, allow_null=True)
    flagged = serializers.BooleanField()


class RankingRowSerializer(serializers.Serializer):
    application_id = serializers.IntegerField()
    consortium = serializers.CharField()
    title = serializers.CharField()
    receipt_number = serializers.CharField()
    rank = serializers.IntegerField(allow_null=True)
    score = serializers.DecimalField(max_digits=5, decimal_places=2, allow_null=True)
    expert_score = serializers.DecimalField(max_digits=5, decimal_places=2, allow_null=True)
    criterion_means = serializers.DictField()
    passed = serializers.BooleanField()
    gate_failed = serializers.BooleanField()
    decision = serializers.CharField()
    reserve_rank = serializers.IntegerField(allow_null=True)
    tie_break = serializers.CharField(allow_null=True)
    reasons = serializers.ListField()
    reviewer_totals = serializers.ListField()
    dropped_totals = serializers.ListField()
    attainment = serializers.ListField()
    disagreement = DisagreementSerializer()


class PanelKeepInputSerializer(StrictSerializer):
    count = serializers.IntegerField(
        min_value=0, allow_null=True, help_text="Teams the panel keeps (fewer than `teams_to_keep`); null withdraws."
    )
    reason = serializers.CharField(max_length=2000, help_text="The panel's reasons, recorded in the audit trail.")


class TieBreakInputSerializer(StrictSerializer):
    ordered_application_ids = serializers.ListField(child=serializers.IntegerField(), min_length=2)
    reason = serializers.CharField()


class AppealSerializer(StrictModelSerializer):
    phase = serializers.PrimaryKeyRelatedField(queryset=Phase.objects.all())
    application = serializers.PrimaryKeyRelatedField(queryset=Application.objects.all())
    grounds = serializers.ChoiceField(choices=AppealGrounds.choices)

    class Meta:
        model = Appeal
        fields = [
            "id", "phase", "application", "grounds", "text", "filed_at", "status", "decision_reasons",
            "decided_at", "rescore_until",
        ]  # fmt: skip
        read_only_fields = ["id", "filed_at", "status", "decision_reasons", "decided_at", "rescore_until"]
        # "One appeal per application per phase" is the service's 409, not a 400 from here.
        validators = []


class AppealDecisionSerializer(StrictSerializer):
    upheld = serializers.BooleanField()
    reasons = serializers.CharField()


class PhaseViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Phases for officers, with the actions that run them; a reviewer reaches only
    ``assignments`` (their own)."""

    serializer_class = PhaseSerializer
    permission_classes = [RulesPermission]
    permission_map = {
        "list": "evaluations.view_phase",
        "retrieve": "evaluations.view_phase",
        "create": "evaluations.add_phase",
        "assignments": "evaluations.list_assignments",
        "*": "evaluations.manage_phase",
    }

    def get_queryset(self):
        return phases_visible_to(self.request.user).prefetch_related("criteria", "objectives")

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        criteria = data.pop("criteria", [])
        objectives = data.pop("objectives", [])
        programme = data.pop("programme")
        serializer.instance = services.phase_create(
            programme=programme, by=self.request.user, data=data, criteria=criteria, objectives=objectives
        )

    @extend_schema(responses=AssignmentSerializer(many=True))
    @action(detail=True, methods=["get"])
    def assignments(self, request, pk=None):
        """A reviewer's own assignments in the phase; all of them for an officer."""
        if not str(pk).isdigit():  # "/phases/abc/assignments/" is not a phase (404, not a 500)
            raise Http404
        phase = get_object_or_404(Phase, pk=pk)
        qs = assignments_visible_to(request.user, phase=phase).prefetch_related("scores__criterion")
        if not request.user.is_officer and not qs.exists():
            raise Http404
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(AssignmentSerializer(page, many=True).data)

    @extend_schema(responses=RankingRowSerializer(many=True))
    @action(detail=True, methods=["get"])
    def ranking(self, request, pk=None):
        """Scores, ranks and decisions: the frozen snapshot once finalised, else the live ranking."""
        phase = self.get_object()
        rows, _snapshot = phase_ranking_source(phase=phase)
        page = self.paginate_queryset(rows)
        data = [{**r.as_fields(), "disagreement": row_disagreement(r, rows.criteria).as_dict()} for r in page]
        return self.get_paginated_response(RankingRowSerializer(data, many=True).data)

    @extend_schema(request=None, responses=PhaseSerializer)
    @action(detail=True, methods=["post"])
    def finalise(self, request, pk=None):
        phase = self.get_object()
        refuse_body(request)
        services.phase_finalise(phase=phase, by=request.user)
        phase.refresh_from_db()
        return Response(PhaseSerializer(phase).data)

    @extend_schema(request=None, responses=PhaseSerializer)
    @action(detail=True, methods=["post"])
    def publish(self, request, pk=None):
        phase = self.get_object()
        refuse_body(request)
        phase = services.phase_publish(phase=phase, by=request.user)
        return Response(PhaseSerializer(phase).data)

    @extend_schema(request=None, responses=PhaseSerializer)
    @action(detail=True, methods=["post"], url_path="open-scoring")
    def open_scoring(self, request, pk=None):
        phase = self.get_object()
        refuse_body(request)
        phase = services.phase_open_scoring(phase=phase, by=request.user)
        return Response(PhaseSerializer(phase).data)

    @extend_schema(
        request=None,
        responses=inline_serializer(
            "AutoAssignResult",
            {
                "created": serializers.IntegerField(),
                "released": serializers.IntegerField(),
                "spread": serializers.IntegerField(),
                "shortfalls": serializers.ListField(),
            },
        ),
    )
    @action(detail=True, methods=["post"], url_path="auto-assign")
    def auto_assign(self, request, pk=None):
        phase = self.get_object()
        refuse_body(request)
        summary = services.phase_auto_assign(phase=phase, by=request.user)
        return Response(
            {
                "created": summary.created,
                "released": summary.released,
                "spread": summary.spread,
                "shortfalls": [asdict(s) for s in summary.shortfalls],
            }
        )

    @extend_schema(request=PanelKeepInputSerializer, responses=PhaseSerializer)
    @action(detail=True, methods=["post"], url_path="panel-keeps")
    def panel_keeps(self, request, pk=None):
        """The panel keeps fewer teams than the places (SPEC §5), with reasons, before finalising."""
        phase = self.get_object()
        data = PanelKeepInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        phase = services.phase_panel_keep(phase=phase, by=request.user, **data.validated_data)
        return Response(PhaseSerializer(phase).data)

    @extend_schema(request=TieBreakInputSerializer, responses={204: None})
    @action(detail=True, methods=["post"], url_path="tie-break")
    def tie_break(self, request, pk=None):
        phase = self.get_object()
        data = TieBreakInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.tie_break_decide(phase=phase, by=request.user, **data.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AssignmentViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """One assignment: its reviewer declares a conflict (or none) and saves or submits scores."""

    serializer_class = AssignmentSerializer
    permission_classes = [RulesPermission]
    permission_map = {
        "retrieve": "evaluations.view_assignment",
        "conflict": "evaluations.declare_conflict",
        "scores": "evaluations.score_assignment",
    }

    def get_queryset(self):
        return assignments_visible_to(self.request.user).prefetch_related("scores__criterion")

    @extend_schema(request=ConflictInputSerializer, responses=AssignmentSerializer)
    @action(detail=True, methods=["post"])
    def conflict(self, request, pk=None):
        assignment = self.get_object()
        data = ConflictInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        assignment = services.assignment_declare(assignment=assignment, by=request.user, **data.validated_data)
        if assignment.status == "conflicted":
            return Response({"id": assignment.id, "status": assignment.status})
        return Response(AssignmentSerializer(self.get_queryset().get(pk=assignment.pk)).data)

    @extend_schema(request=ScoresInputSerializer, responses=AssignmentSerializer)
    @action(detail=True, methods=["put"])
    def scores(self, request, pk=None):
        assignment = self.get_object()
        data = ScoresInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        scores = data.validated_data["scores"]
        services.assignment_save_scores(
            assignment=assignment,
            by=request.user,
            scores=scores["values"],
            comments=scores["comments"],
            comment=data.validated_data["comment"],
            submit=data.validated_data["submit"],
        )
        return Response(AssignmentSerializer(self.get_queryset().get(pk=assignment.pk)).data)


class ResultCommentSerializer(serializers.Serializer):
    reviewer = serializers.CharField(help_text="A letter (A, B, …): reviewers are never named.")
    comment = serializers.CharField()
    criteria = serializers.ListField(child=serializers.ListField(child=serializers.CharField()))


class ResultSerializer(serializers.ModelSerializer):
    """A published result of one of the caller's applications, as the result page shows it."""

    phase_name = serializers.CharField(source="phase.name", read_only=True)
    consortium = serializers.CharField(source="application.consortium.name", read_only=True)
    criterion_means = serializers.SerializerMethodField()
    reasons = serializers.SerializerMethodField()
    attainment = serializers.SerializerMethodField()
    comments = serializers.SerializerMethodField()

    class Meta:
        model = PhaseResult
        fields = [
            "id", "phase", "phase_name", "application", "consortium", "score", "rank", "passed", "decision",
            "reserve_rank", "criterion_means", "reasons", "attainment", "comments",
        ]  # fmt: skip
        read_only_fields = fields

    def get_criterion_means(self, result) -> dict:
        return (result.details or {}).get("criterion_means", {})

    def get_reasons(self, result) -> list:
        return (result.details or {}).get("failed_reasons", [])

    def get_attainment(self, result) -> list:
        return (result.details or {}).get("attainment", [])

    @extend_schema_field(ResultCommentSerializer(many=True, allow_null=True))
    def get_comments(self, result):
        """Anonymised comments when the phase shows them to applicants, else null."""
        if not result.phase.show_comments_to_applicants:
            return None
        return anonymised_comments(phase=result.phase, application_id=result.application_id)


class ResultViewSet(viewsets.ReadOnlyModelViewSet):
    """Published results of the caller's own applications, with anonymised comments."""

    serializer_class = ResultSerializer
    permission_classes = [RulesPermission]
    permission_map = {"list": "evaluations.view_own_results", "retrieve": "evaluations.view_own_results"}

    def get_queryset(self):
        return results_visible_to(self.request.user)


class AppealViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Appeals: applicants file for their own applications; officers decide."""

    serializer_class = AppealSerializer
    permission_classes = [RulesPermission]
    permission_map = {
        "list": "evaluations.list_appeals",
        "retrieve": "evaluations.list_appeals",
        "create": "evaluations.view_own_results",
        "decide": "evaluations.decide_appeal",
    }

    def get_queryset(self):
        return appeals_visible_to(self.request.user)

    def perform_create(self, serializer):
        data = serializer.validated_data
        application = data["application"]
        if not self.request.user.has_perm("evaluations.file_appeal", application):
            raise Http404
        serializer.instance = services.appeal_file(
            phase=data["phase"],
            application=application,
            by=self.request.user,
            grounds=data["grounds"],
            text=data["text"],
        )

    @extend_schema(request=AppealDecisionSerializer, responses=AppealSerializer)
    @action(detail=True, methods=["post"])
    def decide(self, request, pk=None):
        appeal = self.get_object()
        data = AppealDecisionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        appeal = services.appeal_decide(appeal=appeal, by=request.user, **data.validated_data)
        return Response(AppealSerializer(appeal).data)
