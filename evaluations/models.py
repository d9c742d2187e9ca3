"""Phases, criteria, objectives, reviewer assignments, scores, frozen results and appeals."""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from consortia.models import Application, ApplicationVersion
from evaluations.enums import (
    AggregationMethod,
    AppealGrounds,
    AppealStatus,
    AssignmentStatus,
    CriterionSource,
    Decision,
    PhaseKind,
    PhaseStatus,
)
from portal.models import Programme


class Phase(models.Model):
    programme = models.ForeignKey(Programme, on_delete=models.PROTECT, related_name="phases")
    order = models.PositiveSmallIntegerField(_("order"))
    name = models.CharField(_("name"), max_length=200)
    name_en = models.CharField(_("English name"), max_length=200, blank=True)
    kind = models.CharField(_("kind"), max_length=16, choices=PhaseKind.choices)
    status = models.CharField(_("status"), max_length=16, choices=PhaseStatus.choices, default=PhaseStatus.SETUP)
    teams_to_keep = models.PositiveSmallIntegerField(_("teams to keep at most"), validators=[MinValueValidator(1)])
    pass_threshold = models.DecimalField(_("pass threshold"), max_digits=5, decimal_places=2, default=Decimal("70"))
    reviewers_per_application = models.PositiveSmallIntegerField(_("reviewers per application"), default=5)
    aggregation_method = models.CharField(
        _("aggregation"), max_length=16, choices=AggregationMethod.choices, default=AggregationMethod.TRIMMED_MEAN
    )
    # Ordered criterion keys used to break ties (higher mean wins).
    tie_break_criteria = models.JSONField(_("tie-break criteria"), default=list, blank=True)
    scoring_opens_at = models.DateTimeField(_("scoring opens at"))
    scoring_closes_at = models.DateTimeField(_("scoring closes at"))
    show_comments_to_applicants = models.BooleanField(_("show anonymised comments to applicants"), default=True)
    appeal_window_days = models.PositiveSmallIntegerField(_("appeal window (days)"), default=7)
    appeal_scope = models.TextField(
        _("appeal scope"),
        blank=True,
        default="",
        help_text=_("Announced in advance: which errors an appeal may raise."),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    finalised_at = models.DateTimeField(null=True, blank=True)
    finalised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    published_at = models.DateTimeField(null=True, blank=True)
    # The panel may keep fewer teams than pass (``teams_to_keep`` is a maximum): a
    # recorded officer decision, with reasons, taken before finalising.
    panel_keeps = models.PositiveSmallIntegerField(_("teams the panel keeps"), null=True, blank=True)
    panel_keeps_reason = models.TextField(_("reasons for keeping fewer teams"), blank=True, default="")
    panel_keeps_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    panel_keeps_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["programme_id", "order"]
        constraints = [
            models.UniqueConstraint(fields=["programme", "order"], name="phase_order_unique"),
            models.CheckConstraint(
                condition=Q(scoring_closes_at__gt=F("scoring_opens_at")), name="phase_window_ordered"
            ),
            models.CheckConstraint(
                condition=Q(pass_threshold__gte=0) & Q(pass_threshold__lte=100), name="phase_threshold_in_range"
            ),
            models.CheckConstraint(
                condition=Q(panel_keeps__isnull=True) | Q(panel_keeps__lt=F("teams_to_keep")),
                name="phase_panel_keeps_fewer",
            ),
        ]

    def __str__(self) -> str:
        from portal.labels import localized

        return localized(self)  # the English name on English pages, when there is one

    @property
    def places(self) -> int:
        """How many teams the phase selects or keeps at most: ``teams_to_keep``, or fewer by
        the panel's recorded decision."""
        return self.teams_to_keep if self.panel_keeps is None else self.panel_keeps


class Criterion(models.Model):
    phase = models.ForeignKey(Phase, on_delete=models.CASCADE, related_name="criteria")
    key = models.SlugField(_("key"), max_length=40)
    order = models.PositiveSmallIntegerField(default=0)
    name = models.CharField(_("name"), max_length=200)
    name_en = models.CharField(_("English name"), max_length=200, blank=True)
    rubric = models.TextField(_("rubric"), blank=True)
    rubric_en = models.TextField(_("English rubric"), blank=True)
    source = models.CharField(
        _("source"), max_length=16, choices=CriterionSource.choices, default=CriterionSource.EXPERT
    )
    max_points = models.DecimalField(_("maximum points"), max_digits=5, decimal_places=1, default=Decimal("0"))
    threshold = models.DecimalField(_("threshold"), max_digits=5, decimal_places=1, null=True, blank=True)
    # A gate is pass/fail (e.g. originality): failing it eliminates whatever the score.
    is_gate = models.BooleanField(_("gate (pass/fail)"), default=False)

    class Meta:
        ordering = ["phase_id", "order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["phase", "key"], name="criterion_key_unique"),
            models.CheckConstraint(
                condition=Q(max_points__gte=0) & Q(max_points__lte=100), name="criterion_max_in_range"
            ),
        ]

    def __str__(self) -> str:
        from portal.labels import localized

        return localized(self)


class Objective(models.Model):
    """A benchmark target of a stage phase; the reference model and score are frozen per phase."""

    phase = models.ForeignKey(Phase, on_delete=models.CASCADE, related_name="objectives")
    model_category = models.CharField(_("model category"), max_length=8)
    benchmark = models.CharField(_("benchmark"), max_length=100)
    reference_model = models.CharField(_("reference model"), max_length=100)
    reference_score = models.DecimalField(_("reference score"), max_digits=10, decimal_places=4)
    target_ratio = models.DecimalField(_("target ratio"), max_digits=5, decimal_places=4, default=Decimal("0.95"))

    class Meta:
        ordering = ["phase_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["phase", "model_category", "benchmark"], name="objective_unique"),
            models.CheckConstraint(condition=Q(reference_score__gt=0), name="objective_reference_positive"),
            models.CheckConstraint(condition=Q(target_ratio__gt=0), name="objective_target_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.benchmark} vs {self.reference_model}"


class BenchmarkResult(models.Model):
    objective = models.ForeignKey(Objective, on_delete=models.CASCADE, related_name="results")
    application = models.ForeignKey(Application, on_delete=models.PROTECT, related_name="benchmark_results")
    score = models.DecimalField(_("score"), max_digits=10, decimal_places=4, validators=[MinValueValidator(0)])
    evidence = models.TextField(_("evidence"), blank=True)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    submitted_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["objective", "application"], name="benchmark_result_unique")]

    def __str__(self) -> str:
        return f"{self.objective.benchmark}: {self.score}"


class UserPanelScore(models.Model):
    """An imported, aggregated user-evaluation score for a user-panel criterion."""

    criterion = models.ForeignKey(Criterion, on_delete=models.CASCADE, related_name="panel_scores")
    application = models.ForeignKey(Application, on_delete=models.PROTECT, related_name="panel_scores")
    points = models.DecimalField(max_digits=5, decimal_places=2, validators=[MinValueValidator(0)])
    imported_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    imported_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["criterion", "application"], name="panel_score_unique")]

    def __str__(self) -> str:
        return f"{self.criterion.key}: {self.points}"


class GateDecision(models.Model):
    criterion = models.ForeignKey(Criterion, on_delete=models.CASCADE, related_name="gate_decisions")
    application = models.ForeignKey(Application, on_delete=models.PROTECT, related_name="gate_decisions")
    passed = models.BooleanField()
    reasons = models.TextField(_("reasons"))
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["criterion", "application"], name="gate_decision_unique")]

    def __str__(self) -> str:
        return f"{self.criterion.key}: {'pass' if self.passed else 'fail'}"


class PhaseReviewer(models.Model):
    """The reviewer pool of a phase (invited evaluators)."""

    phase = models.ForeignKey(Phase, on_delete=models.CASCADE, related_name="pool")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="phase_pools")
    invited_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["phase", "reviewer"], name="phase_reviewer_unique")]

    def __str__(self) -> str:
        return f"{self.reviewer} @ {self.phase}"


class Assignment(models.Model):
    """A reviewer assigned to one application in one phase, bound to the version scored."""

    phase = models.ForeignKey(Phase, on_delete=models.PROTECT, related_name="assignments")
    application = models.ForeignKey(Application, on_delete=models.PROTECT, related_name="assignments")
    version = models.ForeignKey(
        ApplicationVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="assignments"
    )
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="assignments")
    status = models.CharField(
        max_length=24, choices=AssignmentStatus.choices, default=AssignmentStatus.AWAITING_DECLARATION
    )
    assigned_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    assigned_at = models.DateTimeField(auto_now_add=True)
    comment = models.TextField(_("overall comment"), blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["phase_id", "application_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["phase", "application", "reviewer"], name="assignment_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.reviewer} → {self.application}"


class ConflictDeclaration(models.Model):
    assignment = models.OneToOneField(Assignment, on_delete=models.PROTECT, related_name="declaration")
    has_conflict = models.BooleanField()
    reason = models.TextField(blank=True)
    automatic = models.BooleanField(default=False)
    declared_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return "conflict" if self.has_conflict else "no conflict"


class Score(models.Model):
    """One reviewer's points on one criterion: 0 to the maximum, one decimal place."""

    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="scores")
    criterion = models.ForeignKey(Criterion, on_delete=models.PROTECT, related_name="scores")
    value = models.DecimalField(
        max_digits=4, decimal_places=1, validators=[MinValueValidator(0), MaxValueValidator(100)]
    )
    comment = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["assignment", "criterion"], name="score_one_per_criterion"),
            models.CheckConstraint(condition=Q(value__gte=0), name="score_not_negative"),
        ]

    def __str__(self) -> str:
        return str(self.value)


class TieBreakDecision(models.Model):
    """An officer's recorded order for a tie the criteria could not break."""

    phase = models.ForeignKey(Phase, on_delete=models.CASCADE, related_name="tie_decisions")
    ordered_application_ids = models.JSONField()
    reason = models.TextField()
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return ", ".join(str(i) for i in self.ordered_application_ids)


class PhaseResult(models.Model):
    """The frozen outcome of one application in a finalised phase. Later steps (notices,
    allocation) read these rows, never live scores."""

    phase = models.ForeignKey(Phase, on_delete=models.PROTECT, related_name="results")
    application = models.ForeignKey(Application, on_delete=models.PROTECT, related_name="phase_results")
    version = models.ForeignKey(ApplicationVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    score = models.DecimalField(max_digits=5, decimal_places=2)
    rank = models.PositiveSmallIntegerField()
    passed = models.BooleanField()
    decision = models.CharField(max_length=16, choices=Decision.choices)
    reserve_rank = models.PositiveSmallIntegerField(null=True, blank=True)
    details = models.JSONField(default=dict)

    class Meta:
        ordering = ["phase_id", "rank", "application_id"]
        constraints = [models.UniqueConstraint(fields=["phase", "application"], name="phase_result_unique")]

    def __str__(self) -> str:
        return f"{self.application}: {self.score} ({self.decision})"


class Appeal(models.Model):
    phase = models.ForeignKey(Phase, on_delete=models.PROTECT, related_name="appeals")
    application = models.ForeignKey(Application, on_delete=models.PROTECT, related_name="appeals")
    grounds = models.CharField(_("grounds"), max_length=32, choices=AppealGrounds.choices)
    text = models.TextField(_("statement"))
    filed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    filed_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=16, choices=AppealStatus.choices, default=AppealStatus.OPEN)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decision_reasons = models.TextField(blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    # An upheld appeal re-opens scoring for its application until this time; the
    # officer then finalises the phase again, which records ``applied_at``.
    rescore_until = models.DateTimeField(null=True, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-filed_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["phase", "application"], name="appeal_one_per_phase"),
            models.CheckConstraint(condition=Q(grounds__in=AppealGrounds.values), name="appeal_grounds_announced"),
        ]

    def __str__(self) -> str:
        return f"{self.application} ({self.get_status_display()})"
