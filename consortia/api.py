"""REST API for organisations, consortia and applications (SPEC §8).

Lists come from the selectors (only visible rows); detail lookups outside them are 404.
Writes go through the services; domain errors become 409/400 via the portal handler.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import generics, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from consortia import services
from consortia.deadline import deadline_passed
from consortia.enums import MemberRole, OrganisationKind
from consortia.models import Application, ApplicationVersion, Attachment, Consortium, ConsortiumMember, Organisation
from consortia.rules_application import application_checklist
from consortia.selectors import (
    application_state_counts,
    applications_visible_to,
    attachments_of,
    consortia_visible_to,
    organisations_of_user,
    organisations_visible_to,
    versions_of,
)
from consortia.validators import normalise_business_number
from portal.api import RulesPermission, StrictIntegerField, StrictModelSerializer, StrictSerializer, refuse_body
from portal.models import Programme
from portal.ratelimit import rate_limit_check
from portal.received import received


class OrganisationSerializer(StrictModelSerializer):
    business_number = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, help_text="XXX-XX-XXXXX or ten digits (companies)"
    )

    class Meta:
        model = Organisation
        fields = ["id", "name_ko", "name_en", "kind", "business_number", "is_domestic", "is_gpu_supplier"]

    def validate_business_number(self, value):
        if not value:
            return None
        try:
            return normalise_business_number(value)
        except ValidationError as exc:
            raise serializers.ValidationError(exc.messages) from exc

    def validate(self, attrs):
        if attrs.get("kind") in (
            OrganisationKind.LARGE_ENTERPRISE,
            OrganisationKind.SME,
            OrganisationKind.STARTUP,
        ) and not attrs.get("business_number"):
            raise serializers.ValidationError(
                {
                    "business_number": [
                        "Business registration number: a company must give its business registration number."
                    ]
                }
            )
        return attrs

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["business_number"] = instance.business_number_display or None
        return data


class OrganisationViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    """Own organisations (officers: all). Creating one affiliates the caller with it."""

    serializer_class = OrganisationSerializer
    permission_classes = [RulesPermission]
    filterset_fields = ["kind"]
    permission_map = {"list": None, "retrieve": "consortia.view_organisation", "create": "consortia.add_organisation"}

    def get_queryset(self):
        return organisations_visible_to(self.request.user)

    def perform_create(self, serializer):
        serializer.instance = services.organisation_create(by=self.request.user, data=dict(serializer.validated_data))


class MemberSerializer(serializers.ModelSerializer):
    organisation = OrganisationSerializer(read_only=True)
    contact = serializers.CharField(source="contact.username", read_only=True, allow_null=True, default=None)

    class Meta:
        model = ConsortiumMember
        fields = ["id", "organisation", "role", "contact", "confirmed_at"]


class ConsortiumSerializer(StrictModelSerializer):
    programme = serializers.PrimaryKeyRelatedField(queryset=Programme.objects.all())
    lead_organisation = serializers.PrimaryKeyRelatedField(queryset=Organisation.objects.all())
    lead_contact = serializers.CharField(source="lead_contact.username", read_only=True)
    members = MemberSerializer(many=True, read_only=True)
    application = serializers.IntegerField(source="application.id", read_only=True, allow_null=True, default=None)

    class Meta:
        model = Consortium
        fields = ["id", "programme", "name", "name_en", "lead_organisation", "lead_contact", "members", "application"]

    def validate_lead_organisation(self, value):
        if not organisations_of_user(self.context["request"].user).filter(pk=value.pk).exists():
            raise serializers.ValidationError(
                "Lead organisation: you may only lead with an organisation you belong to."
            )
        return value


# NOTE: every "role" in the API offers the same four choices, so the schema has one enum;
# the services refuse "lead" where it cannot apply, with a message naming the field.
class InvitationInputSerializer(StrictSerializer):
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=MemberRole.choices, default=MemberRole.MEMBER)


class MemberChangeSerializer(StrictSerializer):
    role = serializers.ChoiceField(choices=MemberRole.choices, required=False)


class ConsortiumViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    """Own consortia (officers: all). The lead contact invites members; contacts confirm."""

    serializer_class = ConsortiumSerializer
    permission_classes = [RulesPermission]
    filterset_fields = ["programme"]
    permission_map = {
        "list": None,
        "retrieve": "consortia.view_consortium",
        "create": "consortia.add_consortium",
        "invite": "consortia.manage_consortium",
        "member": "consortia.manage_consortium",
        "confirm": "consortia.view_consortium",
    }

    def get_queryset(self):
        return (
            consortia_visible_to(self.request.user)
            .select_related("application")
            .prefetch_related("members__organisation", "members__contact")
        )

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.consortium_create(
            by=self.request.user,
            programme=data["programme"],
            name=data["name"],
            name_en=data.get("name_en", ""),
            lead_organisation=data["lead_organisation"],
        )

    @extend_schema(
        request=InvitationInputSerializer,
        responses={
            201: inline_serializer(
                "InvitationOut", {"id": serializers.IntegerField(), "expires_at": serializers.DateTimeField()}
            )
        },
    )
    @action(detail=True, methods=["post"])
    def invite(self, request, pk=None):
        consortium = self.get_object()
        data = InvitationInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        invitation = services.invitation_create(
            consortium=consortium, by=request.user, email=data.validated_data["email"], role=data.validated_data["role"],
            base_url=request.build_absolute_uri("/"),
        )  # fmt: skip
        return Response({"id": invitation.pk, "expires_at": invitation.expires_at}, status=status.HTTP_201_CREATED)

    @extend_schema(methods=["PATCH"], request=MemberChangeSerializer, responses={200: MemberSerializer})
    @extend_schema(methods=["DELETE"], request=None, responses={204: None})
    @action(detail=True, methods=["patch", "delete"], url_path=r"members/(?P<member_id>\d+)")
    def member(self, request, pk=None, member_id=None):
        """The lead contact changes a member's role (its contact must confirm again) or removes it."""
        consortium = self.get_object()
        member = get_object_or_404(ConsortiumMember, pk=member_id, consortium=consortium)
        if request.method == "DELETE":
            services.member_remove(member=member, by=request.user)
            return Response(status=status.HTTP_204_NO_CONTENT)
        data = MemberChangeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        member = services.member_update(member=member, by=request.user, role=data.validated_data.get("role"))
        return Response(MemberSerializer(member).data)

    @extend_schema(request=None, responses={200: MemberSerializer(many=True)})
    @action(detail=True, methods=["post"], pagination_class=None, filter_backends=[])
    def confirm(self, request, pk=None):
        """Confirm participation for every member organisation whose contact is the caller."""
        consortium = self.get_object()
        mine = [m for m in consortium.members.all() if m.contact_id == request.user.pk]
        if not mine:
            raise Http404
        refuse_body(request)
        confirmed = [services.member_confirm(member=m, by=request.user) for m in mine]
        return Response(MemberSerializer(confirmed, many=True).data)


def _sealed_for(user, application: Application) -> bool:
    """Contents are sealed for officers until the deadline (applicants only reach their own)."""
    return not user.is_applicant and not deadline_passed(application.programme)


class ApplicationSerializer(serializers.ModelSerializer):
    """Full contents for the team (and for officers after the deadline); otherwise sealed."""

    consortium = serializers.PrimaryKeyRelatedField(queryset=Consortium.objects.all())
    consortium_name = serializers.CharField(source="consortium.name", read_only=True)
    model_categories = serializers.ListField(child=serializers.CharField(), required=False)
    milestones = serializers.ListField(child=serializers.DictField(), required=False)
    version_count = serializers.IntegerField(read_only=True, default=0)
    last_submitted_at = serializers.DateTimeField(read_only=True, allow_null=True, default=None)
    sealed = serializers.SerializerMethodField()

    class Meta:
        model = Application
        fields = [
            "id", "programme", "consortium", "consortium_name", "state", "sealed", "revision", "saved_at",
            "version_count", "last_submitted_at", "withdrawn_at",
            "title", "summary", "model_categories", "technical_approach", "data_strategy", "compute_plan",
            "requested_gpus", "requested_budget", "team_plan", "open_source_plan", "milestones",
        ]  # fmt: skip
        read_only_fields = ["programme", "state", "revision", "saved_at", "withdrawn_at"]

    CONTENT = ("title", "summary", "model_categories", "technical_approach", "data_strategy", "compute_plan",
               "requested_gpus", "requested_budget", "team_plan", "open_source_plan", "milestones")  # fmt: skip

    def get_sealed(self, obj) -> bool:
        return _sealed_for(self.context["request"].user, obj)

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if data["sealed"]:
            for name in self.CONTENT:
                data.pop(name, None)
        return data


class ApplicationCreateSerializer(StrictSerializer):
    """Open a consortium's draft: the consortium's id is all it takes."""

    consortium = serializers.IntegerField(help_text="The id of your consortium")


class ApplicationPatchSerializer(StrictSerializer):
    """A draft save: any subset of the fields plus the revision it was edited from."""

    revision = StrictIntegerField(required=False, help_text="The revision you edited (or send If-Match)")
    title = serializers.CharField(required=False, allow_blank=True, max_length=300)
    summary = serializers.CharField(required=False, allow_blank=True)
    model_categories = serializers.ListField(child=serializers.CharField(), required=False)
    technical_approach = serializers.CharField(required=False, allow_blank=True)
    data_strategy = serializers.CharField(required=False, allow_blank=True)
    compute_plan = serializers.CharField(required=False, allow_blank=True)
    requested_gpus = StrictIntegerField(required=False, allow_null=True)
    requested_budget = StrictIntegerField(required=False, allow_null=True)
    team_plan = serializers.CharField(required=False, allow_blank=True)
    open_source_plan = serializers.CharField(required=False, allow_blank=True)
    milestones = serializers.ListField(child=serializers.DictField(), required=False)


class SubmitResultSerializer(serializers.Serializer):
    receipt_number = serializers.CharField()
    version = serializers.IntegerField()
    submitted_at = serializers.DateTimeField(help_text="The time the portal received the submit request (KST)")
    received_at = serializers.DateTimeField(help_text="The same received time, under its own name")
    received_clock = serializers.ChoiceField(
        choices=["proxy", "database"], help_text="Which clock stamped it: the front proxy's or the database's"
    )
    sha256 = serializers.CharField()
    replayed = serializers.BooleanField()


class AttachmentSerializer(serializers.ModelSerializer):
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Attachment
        fields = [
            "id",
            "title",
            "original_name",
            "size",
            "sha256",
            "page_count",
            "uploaded_at",
            "removed_at",
            "download_url",
        ]

    def get_download_url(self, obj) -> str:
        return f"/consortia/applications/{obj.application_id}/attachments/{obj.pk}/download/"


class SubmitInputSerializer(StrictSerializer):
    request_key = serializers.CharField(
        required=False, allow_blank=True, max_length=64, help_text="Idempotency key (or send Idempotency-Key)"
    )


class WithdrawInputSerializer(StrictSerializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class AttachmentUploadSerializer(StrictSerializer):
    file = serializers.FileField()
    title = serializers.CharField(required=False, allow_blank=True, max_length=200)


class VersionSerializer(serializers.ModelSerializer):
    submitted_by = serializers.CharField(source="submitted_by.username", read_only=True)

    class Meta:
        model = ApplicationVersion
        fields = ["number", "receipt_number", "submitted_at", "submitted_by", "sha256", "content"]


class ApplicationViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    """Applications: the team's own drafts; all for officers (contents sealed before the deadline)."""

    serializer_class = ApplicationSerializer
    permission_classes = [RulesPermission]
    filterset_fields = ["programme", "state", "consortium"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    permission_map = {
        "list": None,
        "retrieve": "consortia.view_application",
        "create": "consortia.add_application",
        "partial_update": "consortia.change_application",
        "submit": "consortia.submit_application",
        "withdraw": "consortia.withdraw_application",
        "attachments": "consortia.view_application_contents",
        "remove_attachment": "consortia.change_application",
        "versions": "consortia.view_application_contents",
        "checklist": "consortia.view_application_contents",
        "counts": None,
    }

    def get_queryset(self):
        # A submission or an upload needs the row and the permission only (the service locks
        # and reads what it needs): no version facts to compute in the deadline rush.
        if self.action == "submit" or (self.action == "attachments" and self.request.method == "POST"):
            return applications_visible_to(self.request.user, facts=False)
        # The representation reads the programme (the seal) and the consortium's name only.
        return applications_visible_to(self.request.user).select_related(None).select_related("programme", "consortium")

    @extend_schema(
        request=ApplicationCreateSerializer, responses={200: ApplicationSerializer, 201: ApplicationSerializer}
    )
    def create(self, request, *args, **kwargs):
        """Open the consortium's draft (201; 200 with the draft if it exists already)."""
        data = ApplicationCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        consortium = get_object_or_404(consortia_visible_to(request.user), pk=data.validated_data["consortium"])
        if not request.user.has_perm("consortia.change_application", consortium):
            raise Http404
        application, created = Application.objects.get_or_create(
            consortium=consortium, defaults={"programme": consortium.programme}
        )
        application = self.get_queryset().get(pk=application.pk)
        return Response(
            self.get_serializer(application).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )

    @extend_schema(
        request=ApplicationPatchSerializer,
        parameters=[OpenApiParameter("If-Match", str, OpenApiParameter.HEADER, required=False, description="revision")],
        responses={200: ApplicationSerializer},
    )
    def partial_update(self, request, *args, **kwargs):
        """Save draft fields; the revision you edited is required (409 with both texts if stale)."""
        application = self.get_object()
        data = ApplicationPatchSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        revision = values.pop("revision", None)
        if revision is None and request.headers.get("If-Match"):
            header = request.headers["If-Match"].strip().strip('"').removeprefix("W/").strip('"')
            revision = int(header) if header.isdigit() else -1
        services.application_save(application=application, by=request.user, data=values, revision=revision)
        return Response(self.get_serializer(self.get_queryset().get(pk=application.pk)).data)

    @extend_schema(
        request=SubmitInputSerializer,
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=False)],
        responses={200: SubmitResultSerializer},
    )
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        """Submit: 200 with the receipt; 409 after the deadline or when the checklist fails.
        The same ``Idempotency-Key`` again answers the same receipt (``replayed``: true)."""
        # The row by its id among those the caller may see (404 otherwise) and the object
        # permission — without the list's filter backends, which a submission never uses.
        application = generics.get_object_or_404(self.get_queryset(), pk=self.kwargs["pk"])  # 404 for "abc" too
        self.check_object_permissions(request, application)
        data = SubmitInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        key = request.headers.get("Idempotency-Key") or data.validated_data.get("request_key") or ""
        rate_limit_check(scope="submit", user=request.user, application=application, request_key=str(key))
        result = services.application_submit(
            application=application, by=request.user, request_key=str(key), received=received(request)
        )
        v = result.version
        return Response(
            {
                "receipt_number": v.receipt_number,
                "version": v.number,
                "submitted_at": v.submitted_at,
                "received_at": v.submitted_at,
                "received_clock": v.content.get("received_clock", "database"),
                "sha256": v.sha256,
                "replayed": result.replayed,
            }
        )

    @extend_schema(request=WithdrawInputSerializer, responses={200: ApplicationSerializer})
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        application = self.get_object()
        data = WithdrawInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.application_withdraw(
            application=application, by=request.user, reason=data.validated_data["reason"], received=received(request)
        )
        return Response(self.get_serializer(self.get_queryset().get(pk=application.pk)).data)

    @extend_schema(methods=["GET"], responses={200: AttachmentSerializer(many=True)})
    @extend_schema(
        methods=["POST"],
        request={"multipart/form-data": AttachmentUploadSerializer},
        responses={201: AttachmentSerializer},
    )
    @action(
        detail=True,
        methods=["get", "post"],
        parser_classes=[MultiPartParser],
        pagination_class=None,
        filter_backends=[],
    )
    def attachments(self, request, pk=None):
        """List the draft's attachments, or upload a PDF (checked by content)."""
        application = self.get_object()
        if request.method == "GET":
            return Response(AttachmentSerializer(attachments_of(application), many=True).data)
        if not request.user.has_perm("consortia.change_application", application):
            raise Http404
        rate_limit_check(scope="upload", user=request.user, application=application)
        data = AttachmentUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        attachment = services.attachment_add(
            application=application,
            by=request.user,
            uploaded=data.validated_data["file"],
            title=data.validated_data.get("title", ""),
            received=received(request),
        )
        return Response(AttachmentSerializer(attachment).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None})
    @action(detail=True, methods=["delete"], url_path=r"attachments/(?P<attachment_id>\d+)")
    def remove_attachment(self, request, pk=None, attachment_id=None):
        """Remove an attachment from the draft (earlier versions keep referring to it)."""
        application = self.get_object()
        attachment = get_object_or_404(Attachment, pk=attachment_id, application=application)
        services.attachment_remove(attachment=attachment, by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses={200: VersionSerializer(many=True)})
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def versions(self, request, pk=None):
        application = self.get_object()
        return Response(VersionSerializer(versions_of(application), many=True).data)

    @extend_schema(
        parameters=[OpenApiParameter("programme", int, OpenApiParameter.QUERY, required=True)],
        responses={
            200: inline_serializer(
                "StateCounts",
                {
                    "programme": serializers.IntegerField(),
                    "total": serializers.IntegerField(),
                    "counts": serializers.DictField(child=serializers.IntegerField()),
                },
            )
        },
    )
    @action(detail=False, methods=["get"])
    def counts(self, request):
        """Officers: how many applications of a programme are in each state (visible while sealed)."""
        if not request.user.is_officer:
            raise Http404
        programme_id = str(request.query_params.get("programme", ""))
        if not programme_id.isdigit():
            raise serializers.ValidationError({"programme": ["Programme: give the programme id."]})
        programme = get_object_or_404(Programme, pk=programme_id)
        counts = application_state_counts(programme=programme)
        return Response({"programme": programme.pk, "total": sum(counts.values()), "counts": counts})

    @extend_schema(
        responses={
            200: inline_serializer(
                "ChecklistItem",
                {
                    "key": serializers.CharField(),
                    "label": serializers.CharField(),
                    "ok": serializers.BooleanField(),
                    "message": serializers.CharField(),
                    "blocking": serializers.BooleanField(),
                },
                many=True,
            )
        }
    )
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def checklist(self, request, pk=None):
        application = self.get_object()
        return Response([item.as_dict() for item in application_checklist(application)])
