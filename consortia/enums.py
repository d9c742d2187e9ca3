from django.db import models
from django.utils.translation import gettext_lazy as _


class OrganisationKind(models.TextChoices):
    LARGE_ENTERPRISE = "large_enterprise", _("Large enterprise")
    SME = "sme", _("SME")
    STARTUP = "startup", _("Startup")
    UNIVERSITY = "university", _("University or graduate school")
    RESEARCH_INSTITUTE = "research_institute", _("Research institute")
    PUBLIC_INSTITUTION = "public_institution", _("Public institution")


# Kinds that are companies and therefore carry a business registration number.
COMPANY_KINDS = (OrganisationKind.LARGE_ENTERPRISE, OrganisationKind.SME, OrganisationKind.STARTUP)


class MemberRole(models.TextChoices):
    LEAD = "lead", _("Lead")
    MEMBER = "member", _("Member")
    SUPPLIER = "supplier", _("Supplier / partner")
    DEMAND = "demand", _("Demand-side user")


class ApplicationState(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted")
    WITHDRAWN = "withdrawn", _("Withdrawn")


# States in which the applicants may still edit the working draft (before the deadline).
APPLICATION_EDITABLE_STATES = (ApplicationState.DRAFT, ApplicationState.SUBMITTED, ApplicationState.WITHDRAWN)


class InvitationState(models.TextChoices):
    PENDING = "pending", _("Pending")
    ACCEPTED = "accepted", _("Accepted")
    REVOKED = "revoked", _("Revoked")
