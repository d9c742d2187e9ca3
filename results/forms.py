"""Forms of the results app: the import upload, the objective mapping, a reference model."""

from crispy_forms.helper import FormHelper
from django import forms
from django.utils.translation import gettext_lazy as _

from results.models import ReferenceModel


class ImportForm(forms.Form):
    file = forms.FileField(
        allow_empty_file=True,  # the import says "The file is empty" itself
        label=_("Results file"),
        help_text=_(
            "The results JSON written by lm-evaluation-harness, or the model card README.md with its model-index."
        ),
    )
    dry_run = forms.BooleanField(label=_("Only check the file (store nothing)"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False


class MappingForm(forms.Form):
    objective = forms.IntegerField(widget=forms.HiddenInput)
    task = forms.CharField(label=_("Task"), max_length=200, required=False)
    metric = forms.CharField(label=_("Metric"), max_length=100, required=False)
    harness_scale = forms.DecimalField(
        label=_("Scale of harness values"), max_digits=8, decimal_places=4, min_value=0, initial=1
    )
    card_scale = forms.DecimalField(
        label=_("Scale of model-card values"), max_digits=8, decimal_places=4, min_value=0, initial=1
    )


MappingFormSet = forms.formset_factory(MappingForm, extra=0)


class ReferenceModelForm(forms.ModelForm):
    class Meta:
        model = ReferenceModel
        fields = ["name", "version", "released_on", "source_url", "source_title"]
        widgets = {"released_on": forms.DateInput(attrs={"type": "date"})}

    source_url = forms.URLField(label=_("Source (paper or leaderboard URL)"), max_length=500, assume_scheme="https")

    def __init__(self, *args, objectives=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.objectives = list(objectives)
        existing = {}
        if self.instance.pk:
            existing = {s.objective_id: s.score for s in self.instance.scores.all()}
        for o in self.objectives:
            self.fields[f"score_{o.id}"] = forms.DecimalField(
                label=_("Score on %(benchmark)s (%(category)s)")
                % {"benchmark": o.benchmark, "category": o.model_category},
                required=False,
                min_value=0,
                max_digits=10,
                decimal_places=4,
                initial=existing.get(o.id),
            )
        self.helper = FormHelper()
        self.helper.form_tag = False

    def validate_unique(self):
        """The service reports a clash of name and version (with the phase it knows)."""

    def scores(self) -> dict:
        return {o.id: self.cleaned_data.get(f"score_{o.id}") for o in self.objectives}
