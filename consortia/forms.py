"""Crispy (Bootstrap 5) forms. Field rules come from ``consortia.rules_application``."""

from __future__ import annotations

import re

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Field, Layout, Submit
from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from consortia.enums import COMPANY_KINDS, MemberRole
from consortia.models import Organisation
from consortia.rules_application import field_errors
from consortia.validators import normalise_business_number
from portal.enums import ModelCategory
from portal.formatting import digits
from portal.labels import localized
from portal.models import Programme


class SecondarySubmit(Submit):
    """A submit button drawn as an outline (the second action of a form)."""

    field_classes = "btn btn-outline-primary ms-2"


def _helper(submit_label, *, form_tag: bool = True) -> FormHelper:
    helper = FormHelper()
    helper.form_tag = form_tag
    if submit_label:
        helper.add_input(Submit("submit", submit_label))
    return helper


class OrganisationForm(forms.ModelForm):
    business_number = forms.CharField(
        label=_("Business registration number"),
        required=False,
        max_length=12,
        help_text=_("Companies only: XXX-XX-XXXXX (the check digit is verified)."),
    )

    class Meta:
        model = Organisation
        fields = ["name_ko", "name_en", "kind", "business_number", "is_domestic", "is_gpu_supplier"]

    def __init__(self, *args, submit_label=None, **kwargs):
        super().__init__(*args, **kwargs)
        if submit_label is False:  # embedded in another form, which has its own button
            self.helper = _helper(None, form_tag=False)
        else:
            self.helper = _helper(submit_label or _("Register organisation"))

    def clean_business_number(self):
        value = (self.cleaned_data.get("business_number") or "").strip()
        if not value:
            return None
        return normalise_business_number(value)

    def clean(self):
        data = super().clean()
        if (
            data.get("kind") in COMPANY_KINDS
            and not data.get("business_number")
            and "business_number" not in self.errors
        ):
            self.add_error(
                "business_number",
                _("Business registration number: a company must give its business registration number."),
            )
        return data


class ConsortiumForm(forms.Form):
    programme = forms.ModelChoiceField(label=_("Programme"), queryset=Programme.objects.none())
    name = forms.CharField(label=_("Consortium name"), max_length=200)
    name_en = forms.CharField(label=_("English name"), max_length=200, required=False)
    lead_organisation = forms.ModelChoiceField(label=_("Lead organisation"), queryset=Organisation.objects.none())

    def __init__(self, *args, user, programmes, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["programme"].queryset = programmes
        self.fields["programme"].label_from_instance = localized  # the programme's name in the page's language
        self.fields["lead_organisation"].queryset = Organisation.objects.filter(
            affiliations__user=user, kind__in=COMPANY_KINDS
        ).order_by("name_ko")
        self.fields["lead_organisation"].help_text = _(
            "A domestic company you belong to, with its business registration number."
        )
        self.helper = _helper(_("Create consortium"))


class InvitationForm(forms.Form):
    email = forms.EmailField(label=_("Contact's e-mail"))
    role = forms.ChoiceField(label=_("Role"), choices=[c for c in MemberRole.choices if c[0] != MemberRole.LEAD])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = _helper(_("Send invitation"))


class AcceptInvitationForm(forms.Form):
    organisation = forms.ModelChoiceField(
        label=_("Join with an organisation you belong to"), queryset=Organisation.objects.none(), required=False
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organisation"].queryset = Organisation.objects.filter(affiliations__user=user).order_by("name_ko")
        self.fields["organisation"].empty_label = _("— register a new organisation below —")
        self.helper = _helper(None, form_tag=False)


class DraftForm(forms.Form):
    """Base of the step forms: carries the revision and applies the shared field rules."""

    revision = forms.IntegerField(widget=forms.HiddenInput)
    fields_in_step: tuple[str, ...] = ()

    def __init__(self, *args, programme, read_only: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.programme = programme
        self.helper = _helper(None if read_only else _("Save draft"))
        self.helper.form_id = "draft-form"
        if not read_only:
            self.helper.add_input(SecondarySubmit("next", _("Save and continue")))
        if read_only:
            for field in self.fields.values():
                field.disabled = True

    def clean(self):
        data = super().clean()
        for name, value in data.items():
            if isinstance(value, str):
                data[name] = value.replace("\r\n", "\n")  # browsers send textarea lines with CRLF
        values = {name: data.get(name) for name in self.fields_in_step if name in data}
        for name, message in field_errors(self.programme, values).items():
            self.add_error(name, message)
        return data

    def draft_values(self) -> dict:
        return {name: self.cleaned_data.get(name) for name in self.fields_in_step}


class OverviewForm(DraftForm):
    title = forms.CharField(label=_("Title"), max_length=300, required=False)
    summary = forms.CharField(label=_("Summary"), widget=forms.Textarea(attrs={"rows": 5}), required=False)
    model_categories = forms.MultipleChoiceField(
        label=_("Model categories"), choices=ModelCategory.choices, widget=forms.CheckboxSelectMultiple, required=False
    )
    fields_in_step = ("title", "summary", "model_categories")

    def __init__(self, *args, programme, **kwargs):
        super().__init__(*args, programme=programme, **kwargs)
        self.fields["model_categories"].choices = [
            c for c in ModelCategory.choices if c[0] in programme.model_categories
        ]
        self.fields["model_categories"].help_text = _("One or more.")


class ApproachForm(DraftForm):
    technical_approach = forms.CharField(
        label=_("Technical approach"), widget=forms.Textarea(attrs={"rows": 8}), required=False
    )
    data_strategy = forms.CharField(label=_("Data strategy"), widget=forms.Textarea(attrs={"rows": 8}), required=False)
    fields_in_step = ("technical_approach", "data_strategy")


class WholeNumberField(forms.IntegerField):
    """A whole number in ASCII digits: "1e3", "8.5" and full-width "１０００" are refused."""

    def to_python(self, value):
        if isinstance(value, str) and value.strip() and not re.fullmatch(r"\s*[0-9]+\s*", value, re.ASCII):
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)


class ComputeForm(DraftForm):
    compute_plan = forms.CharField(label=_("Compute plan"), widget=forms.Textarea(attrs={"rows": 6}), required=False)
    requested_gpus = WholeNumberField(label=_("Requested GPUs"), required=False, min_value=0)
    requested_budget = WholeNumberField(label=_("Requested data budget (KRW)"), required=False, min_value=0)
    fields_in_step = ("compute_plan", "requested_gpus", "requested_budget")

    def __init__(self, *args, programme, **kwargs):
        super().__init__(*args, programme=programme, **kwargs)
        node, cap = programme.gpu_node_size, programme.gpu_cap_per_team
        self.fields["requested_gpus"].widget.attrs.update({"step": node, "min": node, "max": cap})
        self.fields["requested_gpus"].help_text = _("Whole nodes of %(node)s GPUs, at most %(cap)s.") % {
            "node": node,
            "cap": digits(cap),
        }
        self.fields["requested_budget"].help_text = _("From %(low)s to %(high)s KRW per year.") % {
            "low": digits(programme.budget_min),
            "high": digits(programme.budget_max),
        }


class MilestonesField(forms.CharField):
    """One milestone a line: ``phase | goal``."""

    widget = forms.Textarea(attrs={"rows": 5})

    def prepare_value(self, value):
        if isinstance(value, list):
            return "\n".join(f"{m.get('phase', '')} | {m.get('goal', '')}" for m in value)
        return value

    def to_python(self, value):
        text = super().to_python(value) or ""
        milestones = []
        for number, line in enumerate(text.splitlines(), start=1):
            line = line.strip()
            if not line:
                continue
            if "|" not in line:
                raise ValidationError(_("Milestones: line %(n)s must read 'phase | goal'.") % {"n": number})
            phase, goal = (part.strip() for part in line.split("|", 1))
            milestones.append({"phase": phase, "goal": goal})
        return milestones


class TeamForm(DraftForm):
    team_plan = forms.CharField(
        label=_("Team and talent plan"), widget=forms.Textarea(attrs={"rows": 6}), required=False
    )
    open_source_plan = forms.CharField(
        label=_("Open-source and public-access plan"), widget=forms.Textarea(attrs={"rows": 6}), required=False
    )
    milestones = MilestonesField(
        label=_("Milestones per phase"),
        required=False,
        help_text=_("One a line: phase | goal (e.g. 1차 | 95% of the reference)"),
    )
    fields_in_step = ("team_plan", "open_source_plan", "milestones")


class AttachmentForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200, required=False)
    file = forms.FileField(label=_("PDF file"), widget=forms.ClearableFileInput(attrs={"accept": "application/pdf"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = _helper(_("Upload"))
        self.helper.form_enctype = "multipart/form-data"
        self.helper.layout = Layout(Field("title"), Field("file"))


class UnsealForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason for opening the sealed application"), widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = _helper(_("Open and record in the audit trail"))


STEPS = [
    (1, _("Overview and categories"), OverviewForm),
    (2, _("Technical approach and data strategy"), ApproachForm),
    (3, _("Compute plan and budget"), ComputeForm),
    (4, _("Team, open source and milestones"), TeamForm),
    (5, _("Attachments"), None),
    (6, _("Review and submit"), None),
]
