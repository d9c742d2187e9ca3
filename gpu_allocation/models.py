"""GPU pool, allocation runs and their results, award notices and notice exports."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from consortia.models import Application, Consortium
from gpu_allocation.enums import ExportStatus, RunStatus
from portal.models import Programme


class GpuCluster(models.Model):
    """A cluster of the programme's GPU pool for one period; capacity = nodes × GPUs per node."""

    programme = models.ForeignKey(Programme, on_delete=models.PROTECT, related_name="gpu_clusters")
    name = models.CharField(_("name"), max_length=100)
    gpu_model = models.CharField(_("GPU model"), max_length=40)
    nodes = models.PositiveIntegerField(_("nodes"))
    gpus_per_node = models.PositiveSmallIntegerField(_("GPUs per node"), default=8)
    # H100-equivalents per GPU of this model (1 B200 = 2 H100-equivalents).
    equivalence = models.DecimalField(
        _("H100-equivalents per GPU"), max_digits=5, decimal_places=2, default=Decimal("1.00")
    )
    period_start = models.DateField(_("period start"))
    period_end = models.DateField(_("period end"))
    is_active = models.BooleanField(_("in the pool"), default=True)

    class Meta:
        ordering = ["programme_id", "name"]
        verbose_name = _("GPU cluster")
        verbose_name_plural = _("GPU clusters")
        constraints = [
            models.UniqueConstraint(
                fields=["programme", "name", "period_start"], name="cluster_unique_name_per_period"
            ),
            models.CheckConstraint(condition=Q(gpus_per_node__gte=1), name="cluster_gpus_per_node_positive"),
            models.CheckConstraint(condition=Q(equivalence__gt=0), name="cluster_equivalence_positive"),
            models.CheckConstraint(condition=Q(period_end__gte=F("period_start")), name="cluster_period_ordered"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.gpu_model})"

    @property
    def capacity(self) -> int:
        return self.nodes * self.gpus_per_node


class AllocationRun(models.Model):
    """One execution of the allocation policy. Inputs are frozen as JSON with their digest;
    the result is a proposal until an officer approves it."""

    programme = models.ForeignKey(Programme, on_delete=models.PROTECT, related_name="allocation_runs")
    phase_id_snapshot = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    progress_message = models.CharField(max_length=200, blank=True)
    inputs = models.JSONField()
    inputs_sha256 = models.CharField(max_length=64, db_index=True)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    reused_from = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    #: Refreshed by the executing worker every ``ALLOCATION_HEARTBEAT_SECONDS``; a running
    #: run whose heartbeat is older than ``ALLOCATION_RUN_STALE_SECONDS`` lost its worker.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    superseded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # At most one run per programme queued or executing at a time.
            models.UniqueConstraint(
                fields=["programme"], condition=Q(status__in=["queued", "running"]), name="run_one_active_per_programme"
            ),
            # At most one approved allocation in force per programme.
            models.UniqueConstraint(
                fields=["programme"],
                condition=Q(approved_at__isnull=False, superseded_at__isnull=True),
                name="run_one_approved_per_programme",
            ),
            models.CheckConstraint(condition=Q(progress__lte=100), name="run_progress_percent"),
            models.CheckConstraint(
                condition=Q(approved_at__isnull=True) | Q(status="succeeded"), name="run_only_succeeded_is_approved"
            ),
        ]

    def __str__(self) -> str:
        return f"run #{self.pk} ({self.status})"


class Allocation(models.Model):
    """One team's share in a run. Caps are copied from the programme so the database can check them."""

    run = models.ForeignKey(AllocationRun, on_delete=models.CASCADE, related_name="allocations")
    consortium = models.ForeignKey(Consortium, on_delete=models.PROTECT, related_name="allocations")
    application = models.ForeignKey(Application, on_delete=models.PROTECT, related_name="allocations")
    rank = models.PositiveSmallIntegerField()
    total_gpus = models.PositiveIntegerField()
    requested_gpus = models.PositiveIntegerField()
    gpu_cap = models.PositiveIntegerField()
    equivalents = models.DecimalField(max_digits=10, decimal_places=2)
    budget = models.BigIntegerField()
    budget_min = models.BigIntegerField()
    budget_max = models.BigIntegerField()
    explanation_en = models.TextField(blank=True)
    explanation_ko = models.TextField(blank=True)

    class Meta:
        ordering = ["run_id", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["run", "consortium"], name="allocation_one_per_team_per_run"),
            models.CheckConstraint(condition=Q(total_gpus__lte=F("gpu_cap")), name="allocation_within_team_cap"),
            models.CheckConstraint(condition=Q(total_gpus__lte=F("requested_gpus")), name="allocation_within_request"),
            models.CheckConstraint(
                condition=Q(budget__gte=F("budget_min")) & Q(budget__lte=F("budget_max")),
                name="allocation_budget_in_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.consortium}: {self.total_gpus} GPUs, {self.budget:,} KRW"


class AllocationGrant(models.Model):
    """GPUs of one cluster granted to one team, in whole nodes."""

    allocation = models.ForeignKey(Allocation, on_delete=models.CASCADE, related_name="grants")
    cluster = models.ForeignKey(GpuCluster, on_delete=models.PROTECT, related_name="grants")
    nodes = models.PositiveIntegerField()
    gpus_per_node = models.PositiveSmallIntegerField()
    gpus = models.PositiveIntegerField()

    class Meta:
        ordering = ["allocation_id", "cluster_id"]
        constraints = [
            models.UniqueConstraint(fields=["allocation", "cluster"], name="grant_one_per_cluster"),
            models.CheckConstraint(condition=Q(gpus=F("nodes") * F("gpus_per_node")), name="grant_whole_nodes"),
            models.CheckConstraint(condition=Q(nodes__gte=1), name="grant_at_least_one_node"),
        ]

    def __str__(self) -> str:
        return f"{self.cluster}: {self.gpus}"


class AwardNotice(models.Model):
    """The PDF notice issued for one team of an approved run. Re-issuing after a new
    approval marks the earlier notice superseded (shown on its verification page)."""

    allocation = models.OneToOneField(Allocation, on_delete=models.PROTECT, related_name="notice")
    number = models.CharField(max_length=40, unique=True)
    verification_code = models.CharField(max_length=32, unique=True)
    issued_at = models.DateTimeField()
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    pdf = models.FileField(upload_to="notices/")
    sha256 = models.CharField(max_length=64)
    size = models.PositiveIntegerField(default=0)
    superseded_by = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    superseded_at = models.DateTimeField(null=True, blank=True)
    # The PAdES signature the PDF carries (awards/signing.py): whose
    # certificate signed it and whether an RFC 3161 timestamp is embedded. Public facts only.
    signer = models.CharField(max_length=400, blank=True)
    signer_fingerprint = models.CharField(max_length=64, blank=True)  # SHA-256 of the certificate
    timestamped = models.BooleanField(default=False)

    class Meta:
        ordering = ["-issued_at", "id"]

    def __str__(self) -> str:
        return self.number


class NoticeExport(models.Model):
    """A ZIP of all notices of a run, built by a Celery task; progress on this row."""

    run = models.ForeignKey(AllocationRun, on_delete=models.PROTECT, related_name="notice_exports")
    status = models.CharField(max_length=16, choices=ExportStatus.choices, default=ExportStatus.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    file = models.FileField(upload_to="exports/", blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["run"], condition=Q(status__in=["queued", "running"]), name="export_one_active_per_run"
            ),
            models.CheckConstraint(condition=Q(progress__lte=100), name="export_progress_percent"),
        ]

    def __str__(self) -> str:
        return f"export #{self.pk} ({self.status})"


class ReclaimState(models.TextChoices):
    PROPOSED = "proposed", _("Proposed: the team may respond")
    APPLIED = "applied", _("Applied: the GPUs went back to the pool")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class GpuReclaim(models.Model):
    """An officer's proposal to return some of a team's GPUs on one cluster to the pool after
    low use. The team may respond until ``respond_by``; once applied, the next allocation run
    gives the team that many GPUs fewer, and the nodes to the other teams."""

    programme = models.ForeignKey(Programme, on_delete=models.PROTECT, related_name="gpu_reclaims")
    consortium = models.ForeignKey(Consortium, on_delete=models.PROTECT, related_name="gpu_reclaims")
    allocation = models.ForeignKey(Allocation, on_delete=models.PROTECT, related_name="reclaims")
    cluster = models.ForeignKey(GpuCluster, on_delete=models.PROTECT, related_name="reclaims")
    nodes = models.PositiveIntegerField()
    gpus = models.PositiveIntegerField()
    reason = models.TextField()
    state = models.CharField(max_length=16, choices=ReclaimState.choices, default=ReclaimState.PROPOSED)
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    proposed_at = models.DateTimeField(auto_now_add=True)
    respond_by = models.DateTimeField()
    response = models.TextField(blank=True)
    responded_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-proposed_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(nodes__gte=1), name="reclaim_at_least_one_node"),
        ]

    def __str__(self) -> str:
        return f"{self.consortium}: {self.gpus} GPUs of {self.cluster} ({self.state})"
