from crispy_forms.helper import FormHelper
from crispy_forms.layout import Fieldset, Layout, Submit
from django import forms
from django.utils.translation import gettext_lazy as _

from portal.enums import ModelCategory
from portal.models import Programme


class DateTimeLocalInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%dT%H:%M", **kwargs)


class ProgrammeForm(forms.ModelForm):
    """Programme settings. Times are entered and shown in Korea Standard Time."""

    model_categories = forms.MultipleChoiceField(
        label=_("model categories"), choices=ModelCategory.choices, widget=forms.CheckboxSelectMultiple
    )
    reason = forms.CharField(
        label=_("Reason for the change"),
        required=False,
        help_text=_("Required when the deadline moves; recorded in the audit trail."),
        widget=forms.TextInput,
    )

    class Meta:
        model = Programme
        fields = [
            "name", "name_en", "year", "receipt_prefix", "opens_at", "closes_at", "max_teams", "gpu_cap_per_team",
            "gpu_node_size", "budget_min", "budget_max", "budget_envelope", "model_categories",
            "attachment_max_file_mb", "attachment_max_total_mb", "required_attachments", "one_consortium_per_organisation",
            "require_university", "appeal_window_days",
        ]  # fmt: skip
        widgets = {"opens_at": DateTimeLocalInput(), "closes_at": DateTimeLocalInput()}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.layout = Layout(
            Fieldset(_("Programme"), "name", "name_en", "year", "receipt_prefix"),
            Fieldset(_("Application period (KST)"), "opens_at", "closes_at", "reason"),
            Fieldset(_("Teams and resources"), "max_teams", "gpu_cap_per_team", "gpu_node_size",
                     "budget_min", "budget_max", "budget_envelope"),
            Fieldset(_("Proposals"), "model_categories", "attachment_max_file_mb", "attachment_max_total_mb", "required_attachments",
                     "one_consortium_per_organisation", "require_university", "appeal_window_days"),
            Submit("save", _("Save")),
        )  # fmt: skip

    def clean(self):
        data = super().clean()
        if self.instance.pk and "closes_at" in self.changed_data and not data.get("reason", "").strip():
            self.add_error("reason", _("Give a reason when moving the deadline."))
        low, high = data.get("budget_min"), data.get("budget_max")
        if low is not None and high is not None and not (0 < low <= high):
            self.add_error("budget_max", _("The budget range must satisfy 0 < minimum ≤ maximum."))
        opens, closes = data.get("opens_at"), data.get("closes_at")
        if opens and closes and closes <= opens:
            self.add_error("closes_at", _("The closing time must be after the opening time."))
        return data
