"""Permissions of reports after the award (SPEC §2, §11).

* a team (the consortium's lead contact and its member organisations' contacts) sees its own
  reports, GPU use, spending and reclaims, edits and submits its reports while they are drafts
  or returned, and responds to a reclaim proposed to it;
* officers and administrators see everything, review reports and propose, apply or withdraw
  reclaims;
* reviewers and other teams see nothing: the views and the API answer 404.
"""

import rules

from consortia.selectors import user_is_team_contact
from portal.rules import is_officer


def _team_of(obj):
    return getattr(obj, "consortium", None)


@rules.predicate
def is_report_team_member(user, obj) -> bool:
    consortium = _team_of(obj)
    if consortium is None or not (user and user.is_authenticated and user.is_applicant):
        return False
    return user_is_team_contact(user, consortium)


rules.add_perm("reporting.view_progressreport", is_officer | is_report_team_member)
rules.add_perm("reporting.change_progressreport", is_report_team_member)
rules.add_perm("reporting.review_progressreport", is_officer)
rules.add_perm("reporting.view_utilisation", is_officer)
rules.add_perm("reporting.view_gpureclaim", is_officer | is_report_team_member)
rules.add_perm("reporting.respond_gpureclaim", is_report_team_member)
rules.add_perm("reporting.propose_gpureclaim", is_officer)
rules.add_perm("reporting.decide_gpureclaim", is_officer)
