from django.db import models
from django.utils.translation import gettext_lazy as _


class PhaseKind(models.TextChoices):
    SELECTION = "selection", _("Selection")
    STAGE = "stage", _("Stage evaluation")


class PhaseStatus(models.TextChoices):
    SETUP = "setup", _("Being set up")
    SCORING = "scoring", _("Scoring")
    FINALISED = "finalised", _("Finalised")
    PUBLISHED = "published", _("Published")
    FINAL = "final", _("Final")


PHASE_FROZEN_STATES = (PhaseStatus.FINALISED, PhaseStatus.PUBLISHED, PhaseStatus.FINAL)


class CriterionSource(models.TextChoices):
    EXPERT = "expert", _("Expert review")
    BENCHMARK = "benchmark", _("Benchmark")
    USER_PANEL = "user_panel", _("User panel")


class AggregationMethod(models.TextChoices):
    TRIMMED_MEAN = "trimmed_mean", _("Trimmed mean (drop highest and lowest with five or more reviewers)")
    MEAN = "mean", _("Mean")


class AssignmentStatus(models.TextChoices):
    AWAITING_DECLARATION = "awaiting_declaration", _("Awaiting declaration")
    ACTIVE = "active", _("Scoring")
    SUBMITTED = "submitted", _("Submitted")
    CONFLICTED = "conflicted", _("Conflict declared")
    REPLACED = "replaced", _("Replaced")


# Assignments that count towards an application's reviewers.
ASSIGNMENT_LIVE_STATES = (AssignmentStatus.AWAITING_DECLARATION, AssignmentStatus.ACTIVE, AssignmentStatus.SUBMITTED)


class Decision(models.TextChoices):
    SELECTED = "selected", _("Selected")
    KEPT = "kept", _("Kept")
    RESERVE = "reserve", _("Reserve")
    NOT_SELECTED = "not_selected", _("Not selected")
    ELIMINATED = "eliminated", _("Eliminated")


# Decisions that make a team active after the phase.
ACTIVE_DECISIONS = (Decision.SELECTED, Decision.KEPT)


class AppealStatus(models.TextChoices):
    OPEN = "open", _("Open")
    UPHELD = "upheld", _("Upheld")
    DISMISSED = "dismissed", _("Dismissed")


class AppealGrounds(models.TextChoices):
    """The announced scope of an appeal (SPEC §5): not the rules nor the panel's make-up."""

    EVALUATOR_ERROR = "evaluator_error", _("A decisive error by an evaluator")
    MISREADING = "misreading", _("A clear misreading of the proposal")
    ADMINISTRATIVE = "administrative", _("An administrative error")


# Expert-criterion scoring happens on these assignments.
ASSIGNMENT_SCORING_STATES = (AssignmentStatus.ACTIVE, AssignmentStatus.SUBMITTED)
