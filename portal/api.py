"""API plumbing shared by every app: the domain-error handler and the programme endpoints."""

from django.http import Http404
from rest_framework import permissions, serializers, viewsets
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from portal.errors import DomainError
from portal.models import Programme


def exception_handler(exc, context):
    """Domain errors become their status (409 or 400) with a message a person can act on."""
    if isinstance(exc, DomainError):
        return Response({"detail": exc.message, "code": exc.code, **exc.details}, status=exc.status_code)
    return drf_exception_handler(exc, context)


class RulesPermission(permissions.BasePermission):
    """Maps a view's action to a ``rules`` permission name; refusals on objects are 404.

    A viewset sets ``permission_map = {"list": "app.view_x", "create": "app.add_x", ...}``;
    actions without an entry fall back to ``object_permission``/``"*"``.
    """

    def _perm(self, view):
        mapping = getattr(view, "permission_map", {})
        return mapping.get(view.action, mapping.get("*"))

    def has_permission(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return False
        perm = self._perm(view)
        if perm is None or getattr(view, "detail_action_checks_object", True) and view.detail:
            return True
        return request.user.has_perm(perm)

    def has_object_permission(self, request, view, obj):
        perm = self._perm(view)
        if perm is None:
            return True
        if not request.user.has_perm(perm, obj):
            raise Http404
        return True


def _clean(value, label: str):
    """Names through the shared text check (NFC; no control or direction-override characters)."""
    from django.core.exceptions import ValidationError

    from portal.validators import clean_text

    try:
        return clean_text(value, label=label)
    except ValidationError as exc:
        raise serializers.ValidationError(exc.messages) from exc


class ProgrammeSerializer(serializers.ModelSerializer):
    class Meta:
        model = Programme
        fields = [
            "id", "name", "name_en", "year", "receipt_prefix", "opens_at", "closes_at", "max_teams",
            "gpu_cap_per_team", "gpu_node_size", "budget_min", "budget_max", "budget_envelope",
            "model_categories", "attachment_max_file_mb", "attachment_max_total_mb",
            "one_consortium_per_organisation", "require_university", "appeal_window_days",
        ]  # fmt: skip

    def validate_year(self, value):
        if not 2000 <= value <= 2100:
            raise serializers.ValidationError("Year: give a year between 2000 and 2100.")
        return value

    def validate_name(self, value):
        return _clean(value, "name")

    def validate_name_en(self, value):
        return _clean(value, "name_en")

    def validate(self, attrs):
        for name in ("opens_at", "closes_at"):
            if attrs.get(name) is not None and not 2000 <= attrs[name].year <= 2100:
                raise serializers.ValidationError({name: "Give a date and time between 2000 and 2100."})
        opens = attrs.get("opens_at", getattr(self.instance, "opens_at", None))
        closes = attrs.get("closes_at", getattr(self.instance, "closes_at", None))
        if opens and closes and closes <= opens:
            raise serializers.ValidationError({"closes_at": "The closing time must be after the opening time."})
        low = attrs.get("budget_min", getattr(self.instance, "budget_min", 3_000_000_000))
        high = attrs.get("budget_max", getattr(self.instance, "budget_max", 5_000_000_000))
        if low <= 0 or high < low:
            raise serializers.ValidationError({"budget_max": "The budget range must satisfy 0 < minimum ≤ maximum."})
        return attrs


class ProgrammeViewSet(viewsets.ModelViewSet):
    """Programmes: anyone signed in lists them; officers create and change them."""

    serializer_class = ProgrammeSerializer
    permission_classes = [RulesPermission]
    permission_map = {
        "list": "portal.view_programme",
        "retrieve": "portal.view_programme",
        "create": "portal.add_programme",
        "update": "portal.change_programme",
        "partial_update": "portal.change_programme",
        "destroy": "portal.delete_programme",
    }
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        return Programme.objects.order_by("-year", "id")

    def perform_create(self, serializer):
        from portal.services import programme_create

        serializer.instance = programme_create(by=self.request.user, data=serializer.validated_data)

    def perform_update(self, serializer):
        from portal.services import programme_update

        serializer.instance = programme_update(
            programme=serializer.instance, by=self.request.user, data=serializer.validated_data
        )


ERROR_RESPONSES = {
    "400": "Bad input: the fields and messages that need fixing.",
    "401": "Not signed in (no or an invalid token).",
    "403": "Not allowed for this role (for example a missing CSRF token on a session-authenticated write).",
    "404": "Not found, or not visible to the caller (ids cannot be probed).",
    "409": "Not possible now (deadline passed, window closed, a run already in progress): `detail` says why.",
}


def document_error_responses(result, generator, request, public):
    """drf-spectacular post-processing hook: every operation may answer the portal's errors
    (400, 401, 403, 404, 409) with a JSON object (``detail`` and, for 400, the fields)."""
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = {
        "type": "object",
        "properties": {"detail": {"type": "string"}, "code": {"type": "string"}},
        "additionalProperties": True,
    }
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for status_code, description in ERROR_RESPONSES.items():
                operation["responses"].setdefault(
                    status_code,
                    {
                        "description": description,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                    },
                )
    return result
