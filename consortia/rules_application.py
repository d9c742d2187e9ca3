"""The application rules, in one place: field rules and the completeness checklist.

Pages, the API and the submit service all call these functions, so a rule changes here
and nowhere else. Field rules (:func:`field_errors`) refuse bad values when a draft is
saved; the checklist (:func:`application_checklist`) also covers completeness and the
programme's eligibility rules (SPEC §3) and must pass entirely before a submission.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from consortia.enums import COMPANY_KINDS, OrganisationKind
from consortia.validators import business_number_check_digit
from portal.enums import GpuSupplierRule
from portal.formatting import digits
from portal.korean import particles

# The text fields of the proposal, in form order; each must be filled before submission.
TEXT_FIELDS = (
    "title",
    "summary",
    "technical_approach",
    "data_strategy",
    "compute_plan",
    "team_plan",
    "open_source_plan",
)
# Every field of the draft that is frozen into a version (attachments are added apart).
CONTENT_FIELDS = (*TEXT_FIELDS, "model_categories", "requested_gpus", "requested_budget", "milestones")


@dataclass(frozen=True)
class CheckItem:
    """One line of the checklist: ``ok`` False blocks submission (unless ``blocking`` is False)."""

    key: str
    label: str
    ok: bool
    message: str = ""
    blocking: bool = True

    def as_dict(self) -> dict:
        return {"key": self.key, "label": self.label, "ok": self.ok, "message": self.message, "blocking": self.blocking}


def gpus_error(programme, value) -> str | None:
    """Requested GPUs: a whole number of nodes (node size), at least one node, at most the cap."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        return _("Requested GPUs: enter a whole number.")
    node = programme.gpu_node_size
    cap = programme.gpu_cap_per_team
    if value < 1 or value > cap:
        return _("Requested GPUs: enter a number from %(node)s to %(cap)s.") % {"node": node, "cap": digits(cap)}
    if value % node:
        return _("Requested GPUs: request whole nodes of %(node)s GPUs (e.g. %(lower)s or %(upper)s).") % {
            "node": node,
            "lower": max(node, value - value % node),
            "upper": min(cap - cap % node, value - value % node + node),
        }
    return None


def budget_error(programme, value) -> str | None:
    """Requested data budget: within the programme's per-team range (KRW)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        return _("Requested data budget: enter a whole number of KRW.")
    if not programme.budget_min <= value <= programme.budget_max:
        return _("Requested data budget: enter an amount from %(low)s KRW to %(high)s KRW.") % {
            "low": digits(programme.budget_min),
            "high": digits(programme.budget_max),
        }
    return None


def categories_error(programme, value, *, required: bool = False) -> str | None:
    """Model categories: only the programme's categories; at least one when ``required``."""
    if value is None:
        value = []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return _("Model categories: choose from the list.")
    unknown = [v for v in value if v not in programme.model_categories]
    if unknown:
        return particles(
            _("Model categories: %(names)s is not a category of this programme.") % {"names": ", ".join(unknown)}
        )
    if len(set(value)) != len(value):
        return _("Model categories: each category may be chosen once.")
    if required and not value:
        return _("Model categories: choose at least one model category.")
    return None


def milestones_error(value) -> str | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(
        isinstance(m, dict) and isinstance(m.get("phase"), str) and isinstance(m.get("goal"), str) for m in value
    ):
        return _('Milestones: give a list of {"phase": ..., "goal": ...} entries.')
    return None


def field_errors(programme, data: dict) -> dict[str, str]:
    """Errors for the values present in ``data`` (a draft may leave any of them empty)."""
    errors: dict[str, str] = {}
    checks = {
        "requested_gpus": lambda v: gpus_error(programme, v),
        "requested_budget": lambda v: budget_error(programme, v),
        "model_categories": lambda v: categories_error(programme, v),
        "milestones": milestones_error,
    }
    for name, check in checks.items():
        if name in data:
            message = check(data[name])
            if message:
                errors[name] = message
    return errors


def _is_valid_company(organisation) -> bool:
    number = organisation.business_number or ""
    return (
        organisation.kind in COMPANY_KINDS
        and organisation.is_domestic
        and len(number) == 10
        and number.isdigit()
        and business_number_check_digit(number[:9]) == int(number[9])
    )


def application_checklist(application, *, members=None, attachments=None) -> list[CheckItem]:
    """Every check the submission must pass, in the order the review page shows them.

    ``members`` (with ``organisation`` and ``contact``) may be passed to avoid queries; by
    default they are read from the consortium.
    """
    programme = application.programme
    consortium = application.consortium
    if members is None:
        members = list(consortium.members.select_related("organisation", "contact"))
    items: list[CheckItem] = []
    labels = {
        "title": _("Title"),
        "summary": _("Summary"),
        "technical_approach": _("Technical approach"),
        "data_strategy": _("Data strategy"),
        "compute_plan": _("Compute plan"),
        "team_plan": _("Team and talent plan"),
        "open_source_plan": _("Open-source and public-access plan"),
    }
    for name in TEXT_FIELDS:
        filled = bool((getattr(application, name) or "").strip())
        items.append(
            CheckItem(
                key=name,
                label=labels[name],
                ok=filled,
                message="" if filled else _("%(field)s: this field is still empty.") % {"field": labels[name]},
            )
        )
    message = categories_error(programme, application.model_categories, required=True)
    items.append(CheckItem("model_categories", _("At least one model category"), message is None, message or ""))
    message = (
        gpus_error(programme, application.requested_gpus)
        if application.requested_gpus is not None
        else _("Requested GPUs: this field is still empty.")
    )
    items.append(
        CheckItem(
            "requested_gpus",
            _("Requested GPUs in whole nodes of %(node)s, at most %(cap)s")
            % {"node": programme.gpu_node_size, "cap": digits(programme.gpu_cap_per_team)},
            message is None,
            message or "",
        )
    )
    message = (
        budget_error(programme, application.requested_budget)
        if application.requested_budget is not None
        else _("Requested data budget: this field is still empty.")
    )
    items.append(
        CheckItem(
            "requested_budget",
            _("Data budget from %(low)s to %(high)s KRW")
            % {"low": digits(programme.budget_min), "high": digits(programme.budget_max)},
            message is None,
            message or "",
        )
    )
    milestones_ok = bool(application.milestones) and milestones_error(application.milestones) is None
    items.append(
        CheckItem(
            "milestones",
            _("Milestones per phase"),
            milestones_ok,
            "" if milestones_ok else _("Milestones: add at least one milestone."),
        )
    )
    required = programme.required_attachments
    if required:
        if attachments is None:
            attachments = list(application.attachments.filter(removed_at__isnull=True))
        have = len(attachments)
        items.append(
            CheckItem(
                "attachments",
                ngettext(
                    "At least %(count)s PDF attachment (the proposal document)",
                    "At least %(count)s PDF attachments (the proposal document and supporting documents)",
                    required,
                )
                % {"count": required},
                have >= required,
                ""
                if have >= required
                else _("Attachments: upload the proposal document as a PDF (%(have)s of %(required)s uploaded).")
                % {"have": have, "required": required},
            )
        )
    lead = consortium.lead_organisation
    lead_ok = _is_valid_company(lead)
    items.append(
        CheckItem(
            "lead_domestic_company",
            _("The lead is a domestic company with a valid business registration number"),
            lead_ok,
            ""
            if lead_ok
            else _("Lead organisation: it must be a domestic company with a valid business registration number."),
        )
    )
    if programme.require_university:
        has_university = any(m.organisation.kind == OrganisationKind.UNIVERSITY for m in members)
        items.append(
            CheckItem(
                "university_participant",
                _("At least one university or graduate-school participant"),
                has_university,
                "" if has_university else _("Members: invite at least one university or graduate school."),
            )
        )
    missing_contact = [str(m.organisation) for m in members if m.contact_id is None]
    items.append(
        CheckItem(
            "member_contacts",
            _("Every member organisation has a contact person"),
            not missing_contact,
            _("Members without a contact: %(names)s.") % {"names": ", ".join(missing_contact)}
            if missing_contact
            else "",
        )
    )
    unconfirmed = [str(m.organisation) for m in members if m.confirmed_at is None]
    items.append(
        CheckItem(
            "members_confirmed",
            _("Every member organisation's contact has confirmed participation"),
            not unconfirmed,
            _("Still to confirm: %(names)s.") % {"names": ", ".join(unconfirmed)} if unconfirmed else "",
        )
    )
    suppliers = [str(m.organisation) for m in members if m.organisation.is_gpu_supplier]
    if suppliers:
        blocking_suppliers = gpu_suppliers_withholding(
            programme, lead=lead, organisations=[m.organisation for m in members]
        )
        items.append(
            CheckItem(
                "gpu_supplier",
                gpu_supplier_rule_text(programme),
                not blocking_suppliers,
                (
                    _(
                        "GPU suppliers in the consortium: %(names)s. Under this rule the team will receive no GPUs "
                        "while they supply GPUs (it still receives its data budget)."
                    )
                    % {"names": ", ".join(blocking_suppliers)}
                    if blocking_suppliers
                    else _(
                        "GPU suppliers in the consortium: %(names)s. Under this rule they do not keep the team from "
                        "receiving GPUs."
                    )
                    % {"names": ", ".join(suppliers)}
                ),
                blocking=False,
            )
        )
    return items


def gpu_supplier_rule_text(programme) -> str:
    """The programme's GPU-supplier rule in one sentence (SPEC §6)."""
    if programme.gpu_supplier_rule == GpuSupplierRule.LEAD_ONLY:
        return _("GPU suppliers may take part; the team receives no GPUs while its lead organisation supplies GPUs")
    return _(
        "GPU suppliers may take part; the team receives no GPUs while any of its member organisations supplies GPUs"
    )


def gpu_suppliers_withholding(programme, *, lead, organisations) -> list[str]:
    """Names of the organisations whose GPU-supplier flag keeps the team from receiving GPUs under the
    programme's rule (``Programme.gpu_supplier_rule``; default: any member organisation, the lead included).
    ``organisations`` are the consortium's members; the lead counts whether or not it is among them."""
    if programme.gpu_supplier_rule == GpuSupplierRule.LEAD_ONLY:
        candidates = [lead]
    else:
        candidates = [lead, *(o for o in organisations if o.pk != lead.pk)]
    return sorted({str(o) for o in candidates if o.is_gpu_supplier})


def checklist_passes(items: list[CheckItem]) -> bool:
    return all(item.ok for item in items if item.blocking)
