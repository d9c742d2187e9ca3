from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    APPLICANT = "applicant", _("Applicant")
    REVIEWER = "reviewer", _("Reviewer")
    OFFICER = "officer", _("Programme officer")
    ADMIN = "admin", _("Administrator")


class AccessAction(models.TextChoices):
    """What an access record says was done with personal data."""

    VIEW = "view", _("read")
    DOWNLOAD = "download", _("downloaded")


class OutboxStatus(models.TextChoices):
    """Where a recorded side effect stands (``portal/outbox.py``)."""

    PENDING = "pending", _("waiting to be published")
    PUBLISHED = "published", _("handed to the broker, effect not recorded yet")
    DONE = "done", _("effect recorded")
    FAILED = "failed", _("given up")


class GpuSupplierRule(models.TextChoices):
    """Which organisations' GPU-supplier flag keeps a team from receiving GPUs (SPEC §6)."""

    ANY_MEMBER = "any_member", _("no GPUs while any member organisation supplies GPUs")
    LEAD_ONLY = "lead_only", _("no GPUs while the lead organisation supplies GPUs")


# Roles that must use a second factor before doing anything.
STAFF_ROLES = (Role.OFFICER, Role.ADMIN)


class ModelCategory(models.TextChoices):
    LLM = "LLM", _("LLM (large language model)")
    LMM = "LMM", _("LMM (large multimodal model)")
    LAM = "LAM", _("LAM (large action model)")
