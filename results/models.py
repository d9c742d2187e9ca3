"""Benchmark evidence in the field's own formats, and the reference models of a phase.

* ``ObjectiveMapping``: the task and metric of a results file that answer one objective
  (set once by the officer, used by every team's import).
* ``BenchmarkImport``: an uploaded results file, stored with its SHA-256 as evidence, with
  what was found in it and what it matched; ``ImportedResult`` ties each benchmark result it
  wrote to the file and the entry it came from.
* ``ReferenceModel`` and ``ReferenceScore``: the global models a stage phase compares
  against (name, version or release date, source) and their score on each objective,
  frozen with the phase.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from consortia.models import Application
from evaluations.models import BenchmarkResult, Objective, Phase
from results.formats import FORMAT_LABELS


class ObjectiveMapping(models.Model):
    objective = models.OneToOneField(Objective, on_delete=models.CASCADE, related_name="mapping")
    task = models.CharField(
        _("task in the results file"),
        max_length=200,
        blank=True,
        help_text=_("lm-evaluation-harness task (e.g. kmmlu) or model-index dataset type or name."),
    )
    metric = models.CharField(
        _("metric"),
        max_length=100,
        blank=True,
        help_text=_("Metric key such as acc,none (harness) or accuracy (model-index)."),
    )
    # The file's value times the scale is the team score: lm-evaluation-harness writes
    # fractions (0.768), model cards most often percent (76.8).
    harness_scale = models.DecimalField(
        _("scale of harness values"),
        max_digits=8,
        decimal_places=4,
        default=Decimal("1"),
        help_text=_("Multiplies the file's value: 100 when the file gives fractions and the reference is in percent."),
    )
    card_scale = models.DecimalField(
        _("scale of model-card values"),
        max_digits=8,
        decimal_places=4,
        default=Decimal("1"),
        help_text=_("Multiplies the file's value: 100 when the file gives fractions and the reference is in percent."),
    )
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(harness_scale__gt=0) & Q(card_scale__gt=0), name="objective_mapping_scales_positive"
            )
        ]

    def __str__(self) -> str:
        return f"{self.objective.benchmark} ← {self.task} / {self.metric}"


def import_path(instance, filename: str) -> str:
    return f"benchmark-imports/{instance.phase_id}/{instance.application_id}/{instance.sha256[:16]}-{filename}"


class BenchmarkImport(models.Model):
    phase = models.ForeignKey(Phase, on_delete=models.PROTECT, related_name="benchmark_imports")
    application = models.ForeignKey(Application, on_delete=models.PROTECT, related_name="benchmark_imports")
    format = models.CharField(_("format"), max_length=20, choices=list(FORMAT_LABELS.items()))
    file = models.FileField(upload_to=import_path, max_length=300)
    original_name = models.CharField(_("file name"), max_length=200)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    model_name = models.CharField(_("model named in the file"), max_length=200, blank=True)
    found = models.JSONField(default=list)
    matched = models.JSONField(default=list)
    missed = models.JSONField(default=list)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-uploaded_at", "-id"]

    def __str__(self) -> str:
        return f"{self.original_name} ({self.sha256[:12]})"


class ImportedResult(models.Model):
    """A benchmark result as last written by an import (a typed-in result has none)."""

    result = models.OneToOneField(BenchmarkResult, on_delete=models.CASCADE, related_name="imported")
    source = models.ForeignKey(BenchmarkImport, on_delete=models.PROTECT, related_name="results")
    task = models.CharField(max_length=200)
    metric = models.CharField(max_length=100)
    value = models.DecimalField(max_digits=20, decimal_places=10)
    # What the import wrote and when: a result typed in later (a new score or a later save)
    # is no longer the import's.
    score = models.DecimalField(max_digits=10, decimal_places=4)
    written_at = models.DateTimeField(auto_now=True)

    @property
    def is_current(self) -> bool:
        return self.result.score == self.score and self.result.submitted_at <= self.written_at

    def __str__(self) -> str:
        return f"{self.task} {self.metric} = {self.value}"


class ReferenceModel(models.Model):
    phase = models.ForeignKey(Phase, on_delete=models.CASCADE, related_name="reference_models")
    name = models.CharField(_("model name"), max_length=100)
    version = models.CharField(_("version"), max_length=100, blank=True)
    released_on = models.DateField(_("release date"), null=True, blank=True)
    source_url = models.URLField(_("source (paper or leaderboard URL)"), max_length=500)
    source_title = models.CharField(_("source title"), max_length=200, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["phase_id", "name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["phase", "name", "version"], name="reference_model_unique"),
            models.CheckConstraint(
                condition=~Q(version="") | Q(released_on__isnull=False), name="reference_model_version_or_date"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.version}".strip()


class ReferenceScore(models.Model):
    reference_model = models.ForeignKey(ReferenceModel, on_delete=models.CASCADE, related_name="scores")
    objective = models.ForeignKey(Objective, on_delete=models.CASCADE, related_name="reference_scores")
    score = models.DecimalField(_("score"), max_digits=10, decimal_places=4)

    class Meta:
        ordering = ["reference_model_id", "objective_id"]
        constraints = [
            models.UniqueConstraint(fields=["reference_model", "objective"], name="reference_score_unique"),
            models.CheckConstraint(condition=Q(score__gte=0), name="reference_score_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.reference_model}: {self.score}"
