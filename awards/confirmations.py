"""What the confirmation step says before an officer issues award notices while an appeal
window is open (``portal/confirm.py``)."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext as _

from gpu_allocation.models import AllocationRun
from portal.confirm import Confirmation


def notice_issue_confirmation(run: AllocationRun, *, action_url: str, warnings: list[str]) -> Confirmation:
    return Confirmation(
        title=_("Issue the award notices?"),
        happens=[_("Award notices are issued for the teams of run #%(id)s that have none yet.") % {"id": run.pk}],
        irreversible=_("Issued notices stay on record: a later approval supersedes them but does not delete them."),
        action_url=action_url,
        cancel_url=reverse("gpu_allocation:notice_list") + f"?run={run.pk}",
        confirm_label=_("Issue notices"),
        warnings=warnings,
    )
