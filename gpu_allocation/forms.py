"""Forms of the allocation pages: a GPU cluster, and the approval of a run."""

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Fieldset, Layout, Submit
from django import forms
from django.utils.translation import gettext_lazy as _

from gpu_allocation.models import GpuCluster
from gpu_allocation.services import CLUSTER_FIELDS


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)


class GpuClusterForm(forms.ModelForm):
    """A cluster of the pool. Capacity is nodes × GPUs per node; equivalence counts H100-equivalents."""

    class Meta:
        model = GpuCluster
        fields = CLUSTER_FIELDS
        widgets = {"period_start": DateInput(), "period_end": DateInput()}
        help_texts = {
            "equivalence": _("H100 = 1. The 2025 call offered 512 B200 or 1,024 H100, so B200 = 2."),
            "is_active": _("Only clusters in the pool whose period includes today take part in a run."),
        }

    def __init__(self, *args, programme=None, **kwargs):
        super().__init__(*args, **kwargs)
        if programme is not None:
            self.instance.programme = programme
        self.fields["nodes"].min_value = 1
        self.fields["nodes"].widget.attrs["min"] = 1
        self.helper = FormHelper()
        self.helper.layout = Layout(
            Fieldset(_("Cluster"), "name", "gpu_model", "nodes", "gpus_per_node", "equivalence"),
            Fieldset(_("Service period"), "period_start", "period_end", "is_active"),
            Submit("save", _("Save")),
        )

    def clean_nodes(self):
        nodes = self.cleaned_data["nodes"]
        if nodes < 1:
            raise forms.ValidationError(_("A cluster has at least one node."))
        return nodes

    def clean(self):
        data = super().clean()
        start, end = data.get("period_start"), data.get("period_end")
        if start and end and end < start:
            self.add_error("period_end", _("The period must end on or after its start."))
        return data


class RunApproveForm(forms.Form):
    reason = forms.CharField(
        label=_("Note for the audit trail"),
        required=False,
        max_length=1000,
        widget=forms.TextInput,
        help_text=_("Optional. Approval supersedes the allocation in force; the history is kept."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout("reason")
