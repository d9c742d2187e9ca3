"""API plumbing shared by every app: the contract's building blocks (strict input
serializers, one datetime form, one error shape, one schema), the permission base and the
programme endpoints. ``docs/api.md`` describes the contract these implement."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import models
from django.http import Http404, JsonResponse
from django.utils import timezone, translation
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import defaults
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions, permissions, serializers, viewsets
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from portal.errors import DomainError
from portal.models import Programme

# ----------------------------------------------------------------------------- strict input


class StrictFieldsMixin:
    # A write naming a field the serializer does not take is refused (400, each such field
    # named) instead of being silently dropped: a typo ("summry") or a read-only field
    # ("id", "revision") never looks like a successful save. (A comment, not a docstring:
    # the schema would take it as every serializer's description.)

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            refused = {}
            for name in data:
                field = self.fields.get(name)
                if field is None:
                    refused[name] = [_("Unknown field: this request does not accept it.")]
                elif field.read_only:
                    refused[name] = [_("Read-only field: it cannot be written.")]
            if refused:
                raise serializers.ValidationError(refused)
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer only: ``1e3``, ``1000.0``, ``"1000"`` and ``true`` are refused (400)."""

    default_error_messages = {
        "invalid": gettext_lazy("Give a whole number (a JSON integer such as 8), not text or a decimal.")
    }

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictDateTimeField(serializers.DateTimeField):
    """An RFC 3339 datetime that carries its offset (``+09:00`` or ``Z``); a datetime
    without one is refused (400) rather than guessed."""

    default_error_messages = {
        "naive": gettext_lazy("Give the date and time with its offset, for example 2027-03-31T18:00:00+09:00.")
    }

    def to_internal_value(self, value):
        parsed = value
        if isinstance(value, str):
            try:
                parsed = parse_datetime(value.strip())
            except ValueError:
                parsed = None
        if isinstance(parsed, dt.datetime) and timezone.is_naive(parsed):
            self.fail("naive")
        return super().to_internal_value(value)


def score_value(value, *, label: str):
    """A score as sent: a JSON number with at most one decimal place (``8``, ``8.5``);
    text (``"10"``), booleans and finer decimals (``8.25``) are refused with ``ValidationError``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise serializers.ValidationError(
            _("%(criterion)s: give the points as a number (such as 8 or 8.5), not text.") % {"criterion": label}
        )
    number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    try:
        finer = not number.is_finite() or number != number.quantize(Decimal("0.1"))
    except InvalidOperation:  # too large to carry a decimal place: out of any range
        finer = True
    if finer:
        raise serializers.ValidationError(
            _("%(criterion)s: give the points with at most one decimal place (such as 8.5).") % {"criterion": label}
        )
    return number


def refuse_body(request) -> None:
    """For an operation that takes no body: whatever is sent is refused (400 naming each
    field), as unknown fields are everywhere else, and nothing is done."""
    data = request.data
    if not data:
        return
    if isinstance(data, Mapping):
        raise serializers.ValidationError(
            {name: [_("Unknown field: this request does not accept it.")] for name in data}
        )
    raise serializers.ValidationError({"non_field_errors": [_("This request takes no body.")]})


# NOTE: the two bases below carry comments, not docstrings: the schema takes a serializer's
# docstring (inherited too) as its component's description.


class StrictSerializer(StrictFieldsMixin, serializers.Serializer):
    # An input serializer: unknown and read-only fields are refused.
    pass


class StrictModelSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    # A model serializer whose writes are strict: unknown and read-only fields refused,
    # integers as JSON integers, datetimes with an offset.

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.IntegerField: StrictIntegerField,
        models.BigIntegerField: StrictIntegerField,
        models.SmallIntegerField: StrictIntegerField,
        models.PositiveIntegerField: StrictIntegerField,
        models.PositiveBigIntegerField: StrictIntegerField,
        models.PositiveSmallIntegerField: StrictIntegerField,
        models.DateTimeField: StrictDateTimeField,
    }


# ----------------------------------------------------------------------------- step-up

#: The header a token-authenticated privileged write carries (portal/reauth.py), in the schema.
STEP_UP_PARAMETER = OpenApiParameter(
    "X-OTP",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description=(
        "Token callers: the current 6-digit code of your authenticator app. Each code is accepted once; "
        "without a fresh one the answer is 403 with code `reauthentication_required`."
    ),
)


# ----------------------------------------------------------------------------- one error shape


def _first_message(errors) -> str:
    if isinstance(errors, Mapping):
        for name, value in errors.items():
            message = _first_message(value)
            if message:
                return message if name == "non_field_errors" else f"{name}: {message}"
        return ""
    if isinstance(errors, list):
        for value in errors:
            message = _first_message(value)
            if message:
                return message
        return ""
    return str(errors)


def exception_handler(exc, context):
    """Every 4xx answer has one shape: ``{"detail": str, "code": str, "errors": {field: [str]}}``
    (``errors`` for bad input only; a domain refusal may add keys of its own, such as the
    deadline or the current revision). Messages follow ``Accept-Language``."""
    if isinstance(exc, DomainError):
        body = {"detail": exc.message, "code": exc.code, **exc.details}
        return Response(body, status=exc.status_code, headers=getattr(exc, "headers", None))
    if isinstance(exc, Http404):  # Django's own: the default message, never a model's name
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = exc.detail if isinstance(exc.detail, Mapping) else {"non_field_errors": exc.detail}
        names = [name for name in errors if name != "non_field_errors"]
        detail = _first_message(errors)
        if len(names) > 1:
            detail = _("These fields need fixing: %(fields)s.") % {"fields": ", ".join(names)} + " " + detail
        response.data = {"detail": detail, "code": "invalid", "errors": errors}
    elif isinstance(exc, exceptions.APIException):
        detail = exc.detail
        code = getattr(detail, "code", None) or exc.default_code
        if isinstance(detail, Mapping):  # an APIException raised with a dict
            message = detail.get("detail", _first_message(detail))
            code = getattr(message, "code", code)
            response.data = {**detail, "detail": str(message), "code": str(code)}
        else:
            response.data = {"detail": str(detail), "code": str(code)}
    return response


def api_or_page_not_found(request, exception=None):
    """``handler404``: under ``/api/`` a path no view answers gets the API's error shape
    (JSON, ``not_found``); elsewhere Django's page."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": str(exceptions.NotFound.default_detail), "code": "not_found"}, status=404)
    return defaults.page_not_found(request, exception)


def api_or_page_bad_request(request, exception=None):
    """``handler400``: a request Django refuses before any view (a malformed or suspicious
    request) gets, under ``/api/``, the API's error shape."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": _("The request could not be read."), "code": "bad_request"}, status=400)
    return defaults.bad_request(request, exception)


# ----------------------------------------------------------------------------- one schema


ENUM_LINE = re.compile(r"^(\* `[^`]*` - )(.+)$")


def _korean_enum_labels(schema: dict) -> None:
    """Each enum's description lists its values with the English label and, where the
    catalogue has one, the Korean label: ``* `draft` - Draft (초안)``."""
    with translation.override("ko"):
        for component in schema.get("components", {}).get("schemas", {}).values():
            if "enum" not in component or not component.get("description"):
                continue
            lines = []
            for line in component["description"].splitlines():
                match = ENUM_LINE.match(line)
                korean = _(match.group(2)) if match else ""
                lines.append(f"{line} ({korean})" if match and korean != match.group(2) else line)
            component["description"] = "\n".join(lines)


class PortalSchemaGenerator(SchemaGenerator):
    """One schema whatever the caller's language: identifiers, enum names and titles are
    generated in English (served at ``/api/schema/`` and by ``manage.py spectacular``);
    Korean appears only in descriptions (the enums' Korean labels)."""

    def get_schema(self, request=None, public=False):
        with translation.override("en"):
            schema = super().get_schema(request=request, public=public)
        _korean_enum_labels(schema)
        return schema


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


class ProgrammeSerializer(StrictModelSerializer):
    reason = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=500,
        help_text="Why the deadline moves: required when `closes_at` changes, recorded in the audit trail.",
    )

    class Meta:
        model = Programme
        fields = [
            "id", "name", "name_en", "year", "receipt_prefix", "opens_at", "closes_at", "max_teams",
            "gpu_cap_per_team", "gpu_node_size", "budget_min", "budget_max", "budget_envelope",
            "model_categories", "attachment_max_file_mb", "attachment_max_total_mb", "required_attachments",
            "one_consortium_per_organisation", "require_university", "appeal_window_days", "reason",
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
        moved = self.instance is not None and "closes_at" in attrs and attrs["closes_at"] != self.instance.closes_at
        if moved and not attrs.get("reason", "").strip():
            raise serializers.ValidationError({"reason": _("Give a reason when moving the deadline.")})
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

        data = dict(serializer.validated_data)
        data.pop("reason", None)
        serializer.instance = programme_create(by=self.request.user, data=data)

    def perform_update(self, serializer):
        from portal.services import programme_update

        data = dict(serializer.validated_data)
        reason = data.pop("reason", "")
        serializer.instance = programme_update(
            programme=serializer.instance, by=self.request.user, data=data, reason=reason
        )


ERROR_RESPONSES = {
    "400": "Bad input: `errors` names each field to fix (unknown and read-only fields too); nothing was changed.",
    "401": "Not signed in (no or an invalid token).",
    "403": "Not allowed: a missing CSRF token on a session write, a missing or used `X-OTP` code on a privileged write.",
    "404": "Not found, or not visible to the caller (ids cannot be probed).",
    "409": "Not possible now (deadline passed, window closed, a run already in progress): `detail` says why.",
}
WRITE_ERROR_RESPONSES = {
    "413": "The body is larger than the limit (announced or streamed): `detail` names the limit; nothing was stored.",
    "415": "The body is not in the media type this operation takes (JSON; multipart for uploads).",
    "429": "Too many submits or uploads in a short time (abuse volumes only): wait `Retry-After` seconds.",
}

ERROR_SCHEMA = {
    "type": "object",
    "description": (
        "Every 4xx answer. `detail` is a message for a person (in the language of `Accept-Language`), "
        "`code` a stable identifier for programs, `errors` (bad input only) each field's messages. "
        "A refusal may add keys of its own (for example `deadline` and `server_time`)."
    ),
    "properties": {
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "errors": {
            "type": "object",
            "additionalProperties": {},
            "description": "Field name → list of messages (a nested object or list for nested fields).",
        },
    },
    "required": ["detail", "code"],
    "additionalProperties": True,
}


def document_error_responses(result, generator, request, public):
    """drf-spectacular post-processing hook: every operation may answer the portal's errors
    (400, 401, 403, 404, 409; 415 with a body) in the one ``Error`` shape."""
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = ERROR_SCHEMA
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            errors = dict(ERROR_RESPONSES)
            if "requestBody" in operation:
                errors.update(WRITE_ERROR_RESPONSES)
            for status_code, description in errors.items():
                operation["responses"].setdefault(
                    status_code,
                    {
                        "description": description,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                    },
                )
    return result
