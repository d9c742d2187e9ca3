"""Reports after the award (SPEC §1, §6): each active team reports every period on its
progress, its GPU use per cluster and its data-budget spending; officers accept or return."""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from consortia.models import Consortium
from gpu_allocation.models import GpuCluster
from portal.models import Programme


class ReportState(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted")
    ACCEPTED = "accepted", _("Accepted")
    RETURNED = "returned", _("Returned for changes")


class SpendingCategory(models.TextChoices):
    PURCHASE = "purchase", _("Data purchase")
    LABELLING = "labelling", _("Labelling and cleaning")
    LICENSING = "licensing", _("Licences")
    STORAGE = "storage", _("Storage and transfer")
    OTHER = "other", _("Other data costs")


class ReportingPlan(models.Model):
    """A programme's reporting rules. Periods run from ``first_period_start`` in steps of
    ``period_months``; a report is due ``due_days`` after its period ends (18:00 KST)."""

    programme = models.OneToOneField(Programme, on_delete=models.CASCADE, related_name="reporting_plan")
    first_period_start = models.DateField(_("first period starts"))
    period_months = models.PositiveSmallIntegerField(
        _("period (months)"), default=1, validators=[MinValueValidator(1), MaxValueValidator(12)]
    )
    due_days = models.PositiveSmallIntegerField(_("due (days after the period)"), default=10)
    utilisation_threshold = models.DecimalField(
        _("low-use threshold (%)"),
        max_digits=5,
        decimal_places=1,
        default=Decimal("50"),
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    low_periods = models.PositiveSmallIntegerField(
        _("low-use periods before a reclaim"), default=2, validators=[MinValueValidator(1)]
    )
    response_window_days = models.PositiveSmallIntegerField(_("days a team has to respond to a reclaim"), default=14)

    def __str__(self) -> str:
        return f"{self.programme}: {self.period_months} month(s)"


def evidence_path(instance, filename: str) -> str:
    import secrets

    return f"reports/{instance.report_id}/{secrets.token_hex(16)}.pdf"


def usage_path(instance, filename: str) -> str:
    import secrets

    return f"reports/{instance.pk or 'new'}/usage-{secrets.token_hex(8)}.csv"


class ProgressReport(models.Model):
    programme = models.ForeignKey(Programme, on_delete=models.PROTECT, related_name="progress_reports")
    consortium = models.ForeignKey(Consortium, on_delete=models.PROTECT, related_name="progress_reports")
    period_start = models.DateField(_("period start"))
    period_end = models.DateField(_("period end"))
    due_at = models.DateTimeField(_("due"))
    state = models.CharField(_("state"), max_length=16, choices=ReportState.choices, default=ReportState.DRAFT)
    progress = models.TextField(_("progress against the milestones"), blank=True)
    links = models.JSONField(_("links"), default=list, blank=True)
    usage_file = models.FileField(upload_to=usage_path, blank=True)
    usage_sha256 = models.CharField(max_length=64, blank=True)
    usage_jobs = models.PositiveIntegerField(default=0)
    submitted_at = models.DateTimeField(null=True, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    officer_comment = models.TextField(_("officer's comment"), blank=True)
    reminded_days = models.JSONField(default=list, blank=True)  # days-before-due already reminded
    revision = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-period_start", "consortium_id"]
        constraints = [
            models.UniqueConstraint(fields=["consortium", "period_start"], name="report_one_per_team_per_period"),
            models.CheckConstraint(condition=Q(period_end__gte=models.F("period_start")), name="report_period_ordered"),
        ]

    def __str__(self) -> str:
        return f"{self.consortium} {self.period_start:%Y-%m}"

    @property
    def audit_label(self) -> str:
        return f"{self.consortium} report {self.period_start:%Y-%m}"

    @property
    def is_late(self) -> bool:
        """Submitted after the due time, or not submitted and the due time has passed."""
        from django.utils import timezone

        if self.submitted_at is not None:
            return self.submitted_at > self.due_at
        return self.state in (ReportState.DRAFT, ReportState.RETURNED) and timezone.now() > self.due_at


class GpuUsage(models.Model):
    """GPU-hours a team used on one cluster in a report's period (from its usage file)."""

    report = models.ForeignKey(ProgressReport, on_delete=models.CASCADE, related_name="usage")
    cluster = models.ForeignKey(GpuCluster, on_delete=models.PROTECT, related_name="+")
    gpu_hours = models.DecimalField(max_digits=14, decimal_places=2)
    granted_gpus = models.PositiveIntegerField()

    class Meta:
        ordering = ["report_id", "cluster_id"]
        constraints = [models.UniqueConstraint(fields=["report", "cluster"], name="usage_one_per_cluster")]

    def __str__(self) -> str:
        return f"{self.cluster}: {self.gpu_hours} GPU-hours"


class Spending(models.Model):
    report = models.ForeignKey(ProgressReport, on_delete=models.CASCADE, related_name="spending")
    category = models.CharField(_("category"), max_length=16, choices=SpendingCategory.choices)
    amount = models.PositiveBigIntegerField(_("amount (KRW)"))
    description = models.CharField(_("description"), max_length=300)
    evidence = models.FileField(upload_to=evidence_path)
    evidence_name = models.CharField(max_length=255)
    evidence_sha256 = models.CharField(max_length=64)

    class Meta:
        ordering = ["report_id", "id"]

    def __str__(self) -> str:
        return f"{self.get_category_display()}: {self.amount:,} KRW"
