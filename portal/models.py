"""Cross-cutting models: the user and role, the programme and the audit trail."""

import hashlib
import json
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.enums import STAFF_ROLES, AccessAction, GpuSupplierRule, ModelCategory, OutboxStatus, Role


class User(AbstractUser):
    """A person using the portal. ``role`` is what permissions test (see ``portal/rules.py``)."""

    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.APPLICANT)
    full_name = models.CharField(_("full name"), max_length=120, blank=True)
    # The language the portal writes to this person in (e-mails sent without a request);
    # recorded when they switch the pages' language (portal/language.py).
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE)

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.full_name or self.username

    @property
    def is_officer(self) -> bool:
        """Programme officers and administrators (who may do everything an officer may)."""
        return self.role in (Role.OFFICER, Role.ADMIN)

    @property
    def is_portal_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def is_reviewer(self) -> bool:
        return self.role == Role.REVIEWER

    @property
    def is_applicant(self) -> bool:
        return self.role == Role.APPLICANT

    @property
    def needs_second_factor(self) -> bool:
        return self.role in STAFF_ROLES

    def has_perm(self, perm, obj=None) -> bool:
        """Portal permissions (those defined in the apps' ``rules.py``) are decided by their
        rules for everybody: a superuser does not bypass them (an administrator neither scores
        as a reviewer, edits a team's draft nor reads sealed submissions). Other permissions
        (the Django admin's own) keep Django's meaning."""
        import rules

        if rules.perm_exists(perm):
            return self.is_active and rules.has_perm(perm, self, obj)
        return super().has_perm(perm, obj)


def default_categories() -> list[str]:
    return [c.value for c in ModelCategory]


class Programme(models.Model):
    """One call of the programme with its settings; every programme number lives here."""

    name = models.CharField(_("name"), max_length=200)
    name_en = models.CharField(_("English name"), max_length=200, blank=True)
    year = models.PositiveIntegerField(_("year"))
    receipt_prefix = models.CharField(_("receipt prefix"), max_length=10, default="IAFM")
    opens_at = models.DateTimeField(_("opens at"))
    closes_at = models.DateTimeField(_("closes at"))
    max_teams = models.PositiveSmallIntegerField(_("maximum teams"), default=5, validators=[MinValueValidator(1)])
    gpu_cap_per_team = models.PositiveIntegerField(
        _("GPU cap per team"), default=1000, validators=[MinValueValidator(1)]
    )
    gpu_node_size = models.PositiveSmallIntegerField(_("GPUs per node"), default=8, validators=[MinValueValidator(1)])
    budget_min = models.BigIntegerField(_("minimum data budget per team (KRW)"), default=3_000_000_000)
    budget_max = models.BigIntegerField(_("maximum data budget per team (KRW)"), default=5_000_000_000)
    budget_envelope = models.BigIntegerField(_("total data-budget envelope (KRW)"), default=20_000_000_000)
    model_categories = models.JSONField(_("model categories"), default=default_categories)
    attachment_max_file_mb = models.PositiveIntegerField(_("attachment size limit per file (MB)"), default=20)
    attachment_max_total_mb = models.PositiveIntegerField(_("attachment size limit in total (MB)"), default=100)
    required_attachments = models.PositiveSmallIntegerField(
        _("required PDF attachments"),
        default=1,
        help_text=_("How many PDF documents a submission must carry (default one: the proposal document)."),
    )
    gpu_supplier_rule = models.CharField(
        _("GPU-supplier rule"),
        max_length=20,
        choices=GpuSupplierRule.choices,
        default=GpuSupplierRule.ANY_MEMBER,
        help_text=_(
            "A team receives no GPUs while an organisation flagged as a GPU supplier is part of it. Default: any "
            "member organisation, not only the lead."
        ),
    )
    one_consortium_per_organisation = models.BooleanField(
        _("an organisation may join only one consortium"), default=True
    )
    require_university = models.BooleanField(_("at least one university participant required"), default=True)
    appeal_window_days = models.PositiveSmallIntegerField(_("appeal window (days)"), default=7)
    receipt_sequence = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-year", "id"]
        verbose_name = _("programme")
        verbose_name_plural = _("programmes")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(closes_at__gt=models.F("opens_at")), name="programme_closes_after_opens"
            ),
            models.CheckConstraint(
                condition=models.Q(budget_min__gt=0) & models.Q(budget_max__gte=models.F("budget_min")),
                name="programme_budget_range_valid",
            ),
            models.CheckConstraint(condition=models.Q(gpu_cap_per_team__gte=1), name="programme_gpu_cap_positive"),
        ]

    def __str__(self) -> str:
        from portal.labels import localized

        return localized(self)  # the English name on English pages, when there is one

    @property
    def is_closed(self) -> bool:
        """The application deadline has passed."""
        return timezone.now() > self.closes_at

    @property
    def is_open(self) -> bool:
        now = timezone.now()
        return self.opens_at <= now <= self.closes_at


class AuditEntryQuerySet(models.QuerySet):
    def update(self, **kwargs):  # pragma: no cover - guarded behaviour
        raise PermissionError("audit entries are append-only")

    def delete(self):  # pragma: no cover - guarded behaviour
        raise PermissionError("audit entries are append-only")


def _json_default(value):
    """JSON for values the audit trail stores: dates as ISO 8601, decimals as text."""
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


class AuditEntry(models.Model):
    """One state change or security event, hash-chained to the entry before it.

    ``entry_hash = sha256(previous_hash + canonical JSON of this entry)``, so editing or
    deleting any entry breaks every hash after it (``portal.audit.audit_verify_chain``).
    """

    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_repr = models.CharField(max_length=150, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    action = models.CharField(max_length=80, db_index=True)
    object_type = models.CharField(max_length=80, blank=True, db_index=True)
    object_id = models.CharField(max_length=64, blank=True, db_index=True)
    object_repr = models.CharField(max_length=255, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    reason = models.TextField(blank=True)
    previous_hash = models.CharField(max_length=64)
    entry_hash = models.CharField(max_length=64, unique=True)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_repr} {self.action} {self.object_type}#{self.object_id}"

    def canonical(self) -> str:
        return json.dumps(
            {
                "at": self.at.isoformat(),
                "actor": self.actor_id,
                "actor_repr": self.actor_repr,
                "ip": self.ip_address,
                "action": self.action,
                "object_type": self.object_type,
                "object_id": self.object_id,
                "object_repr": self.object_repr,
                "before": self.before,
                "after": self.after,
                "reason": self.reason,
            },
            sort_keys=True,
            ensure_ascii=False,
            default=_json_default,
            separators=(",", ":"),
        )

    def compute_hash(self) -> str:
        return hashlib.sha256((self.previous_hash + self.canonical()).encode()).hexdigest()

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionError("audit entries are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("audit entries are append-only")


class OutboxMessage(models.Model):
    """A side effect (a Celery task) recorded in the same transaction as the change that
    causes it, and published to the broker after commit — or later, by the sweep, when
    the broker was down or lost it. ``dedupe_key`` makes recording the same effect twice a
    no-op. The row is *done* only once the task has recorded its effect (the sent-mail row,
    the issued notices), never merely because the broker accepted the message."""

    task_name = models.CharField(max_length=120)
    kwargs = models.JSONField(default=dict)
    dedupe_key = models.CharField(max_length=200, unique=True)
    status = models.CharField(max_length=12, choices=OutboxStatus.choices, default=OutboxStatus.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    #: When the sweep may publish it (again): now for a new row, the end of the lease once
    #: published, the end of the back-off after a refused attempt.
    next_attempt_at = models.DateTimeField(default=timezone.now)
    dispatched_at = models.DateTimeField(null=True, blank=True)  # last handed to the broker
    done_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)  # publications
    failures = models.PositiveIntegerField(default=0)  # attempts of the effect that were refused
    first_failure_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="outbox_due_idx")]

    def __str__(self) -> str:
        return f"{self.task_name} ({self.status})"


class SentEmail(models.Model):
    """One row per e-mail actually handed to the mail server, keyed so that a redelivered
    task never sends the same message twice."""

    key = models.CharField(max_length=200, unique=True)
    recipients = models.JSONField()
    subject = models.CharField(max_length=300)
    sent_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.key


class AccessLog(models.Model):
    """One successful read of personal data by a personal-information handler (a reviewer,
    officer or administrator): who, when, from where, what and which action, as the
    access records of the personal-information safety rules ask. Append-only; kept for
    ``ACCESS_LOG_RETENTION_DAYS`` (see ``portal/access_log.py``)."""

    at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("who")
    )
    username = models.CharField(_("account"), max_length=150)
    role = models.CharField(_("role"), max_length=16, choices=Role.choices)
    ip_address = models.GenericIPAddressField(_("from"), null=True, blank=True)
    action = models.CharField(_("action"), max_length=16, choices=AccessAction.choices)
    target = models.CharField(_("what"), max_length=80)  # the page or API resource
    object_id = models.CharField(_("object"), max_length=64, blank=True)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=500)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("access record")
        verbose_name_plural = _("access records")
        indexes = [models.Index(fields=["user", "at"], name="accesslog_user_at")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.username} {self.action} {self.target}#{self.object_id}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionError("access records are append-only")
        super().save(*args, **kwargs)
