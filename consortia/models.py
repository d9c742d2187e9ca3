"""Organisations, consortia, applications, their frozen versions and attachments."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from consortia.enums import ApplicationState, InvitationState, MemberRole, OrganisationKind
from portal.models import Programme


class Organisation(models.Model):
    name_ko = models.CharField(_("Korean name"), max_length=200)
    name_en = models.CharField(_("English name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=32, choices=OrganisationKind.choices)
    # 사업자등록번호, stored as ten digits without hyphens; companies only.
    business_number = models.CharField(_("business registration number"), max_length=10, null=True, blank=True)
    is_domestic = models.BooleanField(_("domestic organisation"), default=True)
    is_gpu_supplier = models.BooleanField(
        _("supplies GPUs to the programme"),
        default=False,
        help_text=_("A consortium led by a GPU supplier takes part but receives no GPU allocation."),
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name_ko"]
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")
        constraints = [
            models.UniqueConstraint(
                fields=["business_number"],
                condition=Q(business_number__isnull=False),
                name="organisation_unique_business_number",
            ),
        ]

    def __str__(self) -> str:
        return self.name_ko

    @property
    def business_number_display(self) -> str:
        n = self.business_number or ""
        return f"{n[:3]}-{n[3:5]}-{n[5:]}" if len(n) == 10 else n


class Affiliation(models.Model):
    """A person's link to an organisation: staff of applicants, and reviewers' employers
    (the basis of automatic conflict-of-interest detection)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="affiliations")
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="affiliations")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "organisation"], name="affiliation_unique")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.organisation}"


class Consortium(models.Model):
    programme = models.ForeignKey(Programme, on_delete=models.PROTECT, related_name="consortia")
    name = models.CharField(_("consortium name"), max_length=200)
    name_en = models.CharField(_("English name"), max_length=200, blank=True)
    lead_organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="led_consortia")
    lead_contact = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="led_consortia")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("consortium")
        verbose_name_plural = _("consortia")
        constraints = [
            models.UniqueConstraint(
                fields=["programme", "lead_organisation"], name="consortium_one_per_lead_per_programme"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ConsortiumMember(models.Model):
    """An organisation's place in a consortium. ``programme`` is copied from the consortium
    so the database can hold "one consortium per organisation per programme"."""

    consortium = models.ForeignKey(Consortium, on_delete=models.CASCADE, related_name="members")
    programme = models.ForeignKey(Programme, on_delete=models.PROTECT, related_name="+")
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="memberships")
    role = models.CharField(_("role"), max_length=16, choices=MemberRole.choices, default=MemberRole.MEMBER)
    contact = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="consortium_memberships"
    )
    confirmed_at = models.DateTimeField(_("participation confirmed at"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["consortium_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["consortium", "organisation"], name="member_once_per_consortium"),
        ]

    def __str__(self) -> str:
        return f"{self.organisation} ({self.get_role_display()})"


class Invitation(models.Model):
    """An e-mailed, expiring invitation for an organisation to join a consortium."""

    consortium = models.ForeignKey(Consortium, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(_("e-mail"))
    role = models.CharField(_("role"), max_length=16, choices=MemberRole.choices, default=MemberRole.MEMBER)
    token = models.CharField(max_length=64, unique=True, editable=False)
    expires_at = models.DateTimeField()
    state = models.CharField(max_length=16, choices=InvitationState.choices, default=InvitationState.PENDING)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    accepted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.email} → {self.consortium}"


class Application(models.Model):
    """The working draft of a consortium's proposal; submissions freeze it into versions."""

    consortium = models.OneToOneField(Consortium, on_delete=models.PROTECT, related_name="application")
    programme = models.ForeignKey(Programme, on_delete=models.PROTECT, related_name="applications")
    state = models.CharField(
        _("state"), max_length=16, choices=ApplicationState.choices, default=ApplicationState.DRAFT
    )
    title = models.CharField(_("title"), max_length=300, blank=True)
    summary = models.TextField(_("summary"), blank=True)
    model_categories = models.JSONField(_("model categories"), default=list, blank=True)
    technical_approach = models.TextField(_("technical approach"), blank=True)
    data_strategy = models.TextField(_("data strategy"), blank=True)
    compute_plan = models.TextField(_("compute plan"), blank=True)
    requested_gpus = models.PositiveIntegerField(_("requested GPUs"), null=True, blank=True)
    requested_budget = models.BigIntegerField(_("requested data budget (KRW)"), null=True, blank=True)
    team_plan = models.TextField(_("team and talent plan"), blank=True)
    open_source_plan = models.TextField(_("open-source and public-access plan"), blank=True)
    milestones = models.JSONField(_("milestones per phase"), default=list, blank=True)
    # Optimistic concurrency: each save must name the revision it started from.
    revision = models.PositiveIntegerField(default=1)
    saved_at = models.DateTimeField(null=True, blank=True)
    saved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("application")
        verbose_name_plural = _("applications")
        constraints = [
            models.CheckConstraint(
                condition=Q(requested_gpus__isnull=True) | Q(requested_gpus__gte=1), name="application_gpus_positive"
            ),
            models.CheckConstraint(
                condition=Q(requested_budget__isnull=True) | Q(requested_budget__gt=0),
                name="application_budget_positive",
            ),
        ]

    def __str__(self) -> str:
        return self.title or str(self.consortium)

    @property
    def audit_label(self) -> str:
        """How the audit trail names the application: never by its title, which is sealed
        until the deadline and would stay in the trail for good."""
        return f"{self.consortium} #{self.pk}"


class ApplicationVersion(models.Model):
    """An immutable submitted version: every field, attachment digests, and their digest."""

    application = models.ForeignKey(Application, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    receipt_number = models.CharField(max_length=32, unique=True)
    submitted_at = models.DateTimeField()
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    content = models.JSONField()
    sha256 = models.CharField(max_length=64)
    # The request's idempotency key, so a repeated identical submit returns this version.
    request_key = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["application_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["application", "number"], name="version_number_unique"),
            models.UniqueConstraint(
                fields=["application", "request_key"], condition=~Q(request_key=""), name="version_request_key_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.receipt_number

    @property
    def frozen(self):
        """The typed reader of this version's content (``consortia.versions.VersionContent``)."""
        from consortia.versions import read_version

        return read_version(self)

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionError("submitted versions are immutable")
        super().save(*args, **kwargs)


def attachment_path(instance, filename: str) -> str:
    # NOTE: the stored name is random; the original name is kept in the row only.
    import secrets

    return f"attachments/{instance.application_id}/{secrets.token_hex(16)}.pdf"


class Attachment(models.Model):
    application = models.ForeignKey(Application, on_delete=models.PROTECT, related_name="attachments")
    title = models.CharField(_("title"), max_length=200, blank=True)
    file = models.FileField(upload_to=attachment_path)
    original_name = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    page_count = models.PositiveIntegerField(default=0)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(auto_now_add=True)
    # Removing from the draft keeps the file: earlier versions still refer to it.
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.original_name

    @property
    def audit_label(self) -> str:
        """The file's name is part of the sealed submission: the trail names the row only."""
        return f"attachment #{self.pk} of application #{self.application_id}"
