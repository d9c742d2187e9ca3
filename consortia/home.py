"""The applicant's home: each application's state, checklist progress with what is
missing, the deadline and the one next thing to do (``portal/home.py``)."""

from __future__ import annotations

from django.db.models import Prefetch
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from consortia.enums import ApplicationState
from consortia.models import Attachment, ConsortiumMember
from consortia.rules_application import application_checklist, checklist_passes
from consortia.selectors import applications_visible_to, consortia_visible_to
from portal.home import A, HomeSection
from portal.models import Programme

# Where each checklist item is put right: a step of the form, the attachments, or the consortium.
ITEM_STEP = {
    "title": 1, "summary": 1, "model_categories": 1,
    "technical_approach": 2, "data_strategy": 2,
    "compute_plan": 3, "requested_gpus": 3, "requested_budget": 3,
    "team_plan": 4, "open_source_plan": 4, "milestones": 4,
}  # fmt: skip


def _item_url(application, key: str) -> str:
    if key in ITEM_STEP:
        return reverse("consortia:application_step", kwargs={"pk": application.pk, "step": ITEM_STEP[key]})
    if key == "attachments":
        return reverse("consortia:application_attachments", kwargs={"pk": application.pk})
    return reverse("consortia:consortium_detail", kwargs={"pk": application.consortium_id})


def next_action(application, *, user, items, closed: bool) -> dict:
    """The one thing to do next on ``application``: ``{"text", "url", "label"}`` (url may be empty)."""
    lead = application.consortium.lead_contact
    is_lead = lead.pk == user.pk
    submitted = application.state == ApplicationState.SUBMITTED
    review_url = reverse("consortia:application_review", kwargs={"pk": application.pk})
    if closed:
        if submitted:
            return {
                "text": _("The call has closed and your submitted version is being evaluated; published results and award notices are listed below."),
                "url": reverse("consortia:version_list", kwargs={"pk": application.pk}),
                "label": _("Submitted versions"),
            }  # fmt: skip
        return {"text": _("The call closed without a submission from this consortium."), "url": "", "label": ""}
    missing = [item for item in items if item.blocking and not item.ok]
    if missing:
        first = missing[0]
        return {
            "text": _("Complete the application: %(item)s") % {"item": first.message or first.label},
            "url": _item_url(application, first.key),
            "label": _("Continue"),
        }
    if submitted:
        return {
            "text": _("Submitted. You may still change the draft and submit again until the deadline; the latest version counts."),
            "url": review_url,
            "label": _("Review the application"),
        }  # fmt: skip
    if not is_lead:
        return {
            "text": _("Everything is complete: the lead contact %(name)s can submit now.") % {"name": lead},
            "url": review_url,
            "label": _("Review the application"),
        }
    return {
        "text": _("Everything is complete: review the application and submit it before the deadline."),
        "url": review_url,
        "label": _("Review and submit"),
    }


def applicant_applications(request) -> dict:
    user = request.user
    applications = list(
        applications_visible_to(user).select_related("programme").prefetch_related(
            Prefetch("consortium__members", queryset=ConsortiumMember.objects.select_related("organisation", "contact")),
            Prefetch("attachments", queryset=Attachment.objects.filter(removed_at__isnull=True), to_attr="active_attachments"),
        )[:20]
    )  # fmt: skip
    rows = []
    for application in applications:
        programme = application.programme
        items = application_checklist(
            application,
            members=list(application.consortium.members.all()),
            attachments=application.active_attachments,
        )
        blocking = [i for i in items if i.blocking]
        closed = programme.is_closed
        rows.append(
            {
                "application": application,
                "programme": programme,
                "closed": closed,
                "done": sum(1 for i in blocking if i.ok),
                "total": len(blocking),
                "missing": [
                    {"text": i.message or i.label, "url": _item_url(application, i.key)} for i in blocking if not i.ok
                ],
                "complete": checklist_passes(items),
                "next": next_action(application, user=user, items=items, closed=closed),
            }
        )
    # Open calls in which none of the person's consortia takes part yet: where to start one.
    now = timezone.now()
    open_calls = list(
        Programme.objects.filter(opens_at__lte=now, closes_at__gte=now)
        .exclude(pk__in=consortia_visible_to(user).values("programme_id"))
        .order_by("closes_at")[:5]
    )
    return {"rows": rows, "open_calls": open_calls}


SECTIONS = [HomeSection("applications", (A,), 10, "consortia/home/_applications.html", applicant_applications)]
