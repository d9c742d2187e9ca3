"""Forms of the evaluation pages. Validation only: ``save()`` is never used for side effects;
views pass ``cleaned_data`` to the services."""

from __future__ import annotations

from decimal import Decimal

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Fieldset, Layout, Submit
from django import forms
from django.utils.translation import gettext_lazy as _

from evaluations.enums import AppealGrounds
from evaluations.models import Criterion, Objective, Phase
from portal.enums import ModelCategory, Role
from portal.forms import DateTimeLocalInput
from portal.models import User


class PhaseForm(forms.ModelForm):
    """The settings of a phase (criteria and objectives are edited beside it)."""

    tie_break_keys = forms.CharField(
        label=_("tie-break criteria"),
        required=False,
        help_text=_("Criterion keys in order, separated by commas; a higher mean wins."),
    )

    class Meta:
        model = Phase
        fields = [
            "name", "name_en", "kind", "teams_to_keep", "pass_threshold", "reviewers_per_application",
            "aggregation_method", "scoring_opens_at", "scoring_closes_at", "show_comments_to_applicants",
            "appeal_window_days", "appeal_scope",
        ]  # fmt: skip
        widgets = {
            "scoring_opens_at": DateTimeLocalInput(),
            "scoring_closes_at": DateTimeLocalInput(),
            "appeal_scope": forms.Textarea(attrs={"rows": 2}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["tie_break_keys"].initial = ", ".join(self.instance.tie_break_criteria or [])
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout(
            Fieldset(_("Phase"), "name", "name_en", "kind", "teams_to_keep"),
            Fieldset(_("Scoring rules"), "pass_threshold", "reviewers_per_application", "aggregation_method", "tie_break_keys",
                     "scoring_opens_at", "scoring_closes_at"),
            Fieldset(_("Results and appeals"), "show_comments_to_applicants", "appeal_window_days", "appeal_scope"),
        )  # fmt: skip

    def clean(self):
        data = super().clean()
        opens, closes = data.get("scoring_opens_at"), data.get("scoring_closes_at")
        if opens and closes and closes <= opens:
            self.add_error("scoring_closes_at", _("The window must close after it opens."))
        data["tie_break_criteria"] = [k.strip() for k in (data.get("tie_break_keys") or "").split(",") if k.strip()]
        return data


class _CompactRowMixin:
    """Formset rows rendered as table cells: Bootstrap classes on the widgets themselves."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput):
                widget.attrs["class"] = "form-check-input"
            elif isinstance(widget, forms.Select):
                widget.attrs["class"] = "form-select form-select-sm"
            else:
                widget.attrs["class"] = "form-control form-control-sm"


class CriterionForm(_CompactRowMixin, forms.ModelForm):
    class Meta:
        model = Criterion
        fields = ["key", "name", "name_en", "source", "max_points", "threshold", "is_gate", "rubric", "rubric_en"]
        widgets = {"rubric": forms.Textarea(attrs={"rows": 2}), "rubric_en": forms.Textarea(attrs={"rows": 2})}


class ObjectiveForm(_CompactRowMixin, forms.ModelForm):
    # A blank first choice: an extra row left empty stays unchanged and is ignored on saving.
    model_category = forms.ChoiceField(label=_("model category"), choices=[("", "—"), *ModelCategory.choices])

    class Meta:
        model = Objective
        fields = ["model_category", "benchmark", "reference_model", "reference_score", "target_ratio"]


class CriterionBaseFormSet(forms.BaseFormSet):
    """The scored criteria (gates carry no points) must add up to 100 points when the phase is saved."""

    def clean(self):
        super().clean()
        if any(form.errors for form in self.forms):
            return
        rows = [f.cleaned_data for f in self.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")]
        total = sum((row.get("max_points") or Decimal(0) for row in rows if not row.get("is_gate")), Decimal(0))
        if rows and total != 100:
            raise forms.ValidationError(
                _("The maximum points of the scored criteria must add up to 100; they add up to %(total)s.")
                % {"total": format(total.normalize(), "f")},
                code="criteria_total",
            )


def rows_kept(formset) -> list[dict]:
    """The rows to save: filled in and not marked for deletion (blank extra rows are ignored)."""
    return [
        {k: v for k, v in f.cleaned_data.items() if k != "DELETE"}
        for f in formset
        if f.cleaned_data and not f.cleaned_data.get("DELETE")
    ]


CriterionFormSet = forms.formset_factory(CriterionForm, formset=CriterionBaseFormSet, extra=2, can_delete=True)
ObjectiveFormSet = forms.formset_factory(ObjectiveForm, extra=1, can_delete=True)
for _formset in (CriterionFormSet, ObjectiveFormSet):
    _formset.deletion_widget = forms.CheckboxInput(attrs={"class": "form-check-input"})


class DeclarationForm(forms.Form):
    has_conflict = forms.TypedChoiceField(
        label=_("Conflict of interest"),
        choices=[
            ("0", _("I have no conflict of interest with this consortium")),
            ("1", _("I have a conflict of interest")),
        ],
        coerce=lambda v: v == "1",
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(
        label=_("Reason (required for a conflict)"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.add_input(Submit("declare", _("Declare")))


class InviteReviewersForm(forms.Form):
    reviewers = forms.ModelMultipleChoiceField(
        label=_("Reviewers to invite"), queryset=User.objects.none(), widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, phase: Phase, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reviewers"].queryset = (
            User.objects.filter(role=Role.REVIEWER).exclude(phase_pools__phase=phase).order_by("full_name", "username")
        )
        self.helper = FormHelper()
        self.helper.add_input(Submit("invite", _("Invite to the pool")))


class ManualAssignForm(forms.Form):
    application = forms.TypedChoiceField(label=_("Application"), coerce=int)
    reviewer = forms.ModelChoiceField(label=_("Reviewer"), queryset=User.objects.none())

    def __init__(self, *args, applications, phase: Phase, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["application"].choices = [(a.id, f"{a.consortium.name} · {a.title}") for a in applications]
        self.fields["reviewer"].queryset = User.objects.filter(role=Role.REVIEWER, phase_pools__phase=phase).order_by(
            "full_name", "username"
        )
        self.helper = FormHelper()
        self.helper.form_class = "row g-2 align-items-end"
        self.helper.add_input(Submit("assign", _("Assign")))


class TieBreakForm(forms.Form):
    order = forms.CharField(
        label=_("Order (application ids, best first, separated by commas)"),
        help_text=_("Name every application of the tie."),
    )
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 2}))

    def clean_order(self):
        try:
            return [int(x) for x in self.cleaned_data["order"].replace(" ", "").split(",") if x]
        except ValueError as exc:
            raise forms.ValidationError(_("Give application ids separated by commas.")) from exc


class GateDecisionForm(forms.Form):
    passed = forms.TypedChoiceField(
        label=_("Result"),
        choices=[("1", _("Pass")), ("0", _("Fail"))],
        coerce=lambda v: v == "1",
        widget=forms.RadioSelect,
    )
    reasons = forms.CharField(label=_("Reasons"), widget=forms.Textarea(attrs={"rows": 2}))


class PanelImportForm(forms.Form):
    file = forms.FileField(
        label=_("CSV file"), help_text=_("Columns: receipt_number, criterion, points (UTF-8, with a header row).")
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.add_input(Submit("import", _("Import")))

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > 2 * 1024 * 1024:
            raise forms.ValidationError(_("The file is larger than 2 MB."))
        try:
            return upload.read().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise forms.ValidationError(_("The file must be UTF-8 text.")) from exc


class AppealForm(forms.Form):
    grounds = forms.ChoiceField(label=_("Grounds"), choices=AppealGrounds.choices)
    text = forms.CharField(label=_("Statement"), widget=forms.Textarea(attrs={"rows": 5}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.add_input(Submit("file", _("File the appeal")))


class AppealDecisionForm(forms.Form):
    upheld = forms.TypedChoiceField(
        label=_("Decision"),
        choices=[("1", _("Uphold (re-open scoring for this application)")), ("0", _("Dismiss"))],
        coerce=lambda v: v == "1",
        widget=forms.RadioSelect,
    )
    reasons = forms.CharField(label=_("Reasons"), widget=forms.Textarea(attrs={"rows": 4}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.add_input(Submit("decide", _("Record the decision")))


class BenchmarkResultForm(forms.Form):
    score = forms.DecimalField(label=_("Team score"), min_value=0, max_digits=10, decimal_places=4)
    evidence = forms.CharField(label=_("Evidence"), widget=forms.Textarea(attrs={"rows": 2}))


class PanelKeepForm(forms.Form):
    """The panel keeps fewer teams than the phase's places; empty count withdraws the decision."""

    count = forms.IntegerField(label=_("Teams the panel keeps"), min_value=0, required=False)
    reason = forms.CharField(label=_("The panel's reasons"), widget=forms.Textarea(attrs={"rows": 2}))
