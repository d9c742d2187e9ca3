"""What the confirmation step says before an officer approves an allocation run, with a
warning while an appeal window is open (``portal/confirm.py``)."""

from __future__ import annotations

from django.db.models import Count, Sum
from django.urls import reverse
from django.utils.translation import gettext as _

from evaluations.confirmations import open_appeal_windows
from gpu_allocation.models import AllocationRun
from gpu_allocation.selectors import approved_run_in_force
from portal.confirm import Confirmation
from portal.formatting import digits, kst
from portal.templatetags.portal_home import local_name


def run_approve_confirmation(run: AllocationRun, *, action_url: str) -> Confirmation:
    programme = run.programme
    totals = run.allocations.aggregate(teams=Count("id"), gpus=Sum("total_gpus"), budget=Sum("budget"))
    happens = [
        _("Run #%(id)s becomes the approved allocation of %(programme)s: %(teams)s teams, %(gpus)s GPUs and %(budget)s KRW of data budget.")
        % {
            "id": run.pk,
            "programme": local_name(programme.name, programme.name_en),
            "teams": totals["teams"] or 0,
            "gpus": digits(totals["gpus"] or 0),
            "budget": digits(totals["budget"] or 0),
        },
    ]  # fmt: skip
    previous = approved_run_in_force(programme=programme)
    if previous is not None and previous.pk != run.pk:
        happens.append(
            _("Run #%(id)s, approved on %(at)s, is superseded; it stays in the history.")
            % {"id": previous.pk, "at": kst(previous.approved_at, seconds=False)}
        )
    happens.append(_("The award notices of these teams are issued in the background and the teams can download them."))
    return Confirmation(
        title=_("Approve this allocation?"),
        happens=happens,
        irreversible=_("An approval is not withdrawn: changing the allocation takes a new run and its approval, which supersedes this one and issues new notices."),
        action_url=action_url,
        cancel_url=reverse("gpu_allocation:run_detail", args=[run.pk]),
        confirm_label=_("Approve"),
        warnings=open_appeal_windows(programme),
    )  # fmt: skip
