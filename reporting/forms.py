"""Forms of the reporting pages (validation of shape only; the rules live in the services)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from reporting.models import SpendingCategory


class ReportForm(forms.Form):
    progress = forms.CharField(
        label=_("Progress against the phase's milestones"),
        required=False,
        max_length=20000,
        widget=forms.Textarea(attrs={"rows": 8}),
    )
    links = forms.CharField(
        label=_("Links (one a line)"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Repositories, model cards, papers or benchmark results; each starts with https://."),
    )
    revision = forms.IntegerField(widget=forms.HiddenInput)


class UsageUploadForm(forms.Form):
    file = forms.FileField(
        label=_("GPU usage file (CSV)"),
        help_text=_("The scheduler's accounting export: JobID,Cluster,Start,End,AllocGPUs (see the format below)."),
    )


class SpendingForm(forms.Form):
    category = forms.ChoiceField(label=_("Category"), choices=SpendingCategory.choices)
    amount = forms.IntegerField(label=_("Amount (KRW)"), min_value=1, max_value=10**13)
    description = forms.CharField(label=_("What it paid for"), max_length=300)
    evidence = forms.FileField(label=_("Evidence (PDF: invoice or receipt)"))


class ReviewForm(forms.Form):
    decision = forms.ChoiceField(choices=[("accept", _("Accept")), ("return", _("Return for changes"))])
    comment = forms.CharField(
        label=_("Comment to the team"), required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 3})
    )


class ReclaimProposeForm(forms.Form):
    consortium = forms.IntegerField(widget=forms.HiddenInput)
    cluster = forms.IntegerField(widget=forms.HiddenInput)
    nodes = forms.IntegerField(label=_("Nodes to return"), min_value=1)
    reason = forms.CharField(
        label=_("Reason (the team reads it)"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )


class ReclaimRespondForm(forms.Form):
    response = forms.CharField(label=_("Your response"), max_length=5000, widget=forms.Textarea(attrs={"rows": 3}))
