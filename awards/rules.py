"""Permissions of award notices and their ZIP exports (SPEC §2, §7).

* a notice is seen and downloaded by officers, administrators and its own team (the
  consortium's lead contact and its member organisations' contacts);
* officers and administrators issue notices;
* only administrators build and download the ZIP of a run's notices.

The permissions keep the ``gpu_allocation.`` prefix of the models they guard.
"""

import rules

from consortia.selectors import user_is_team_contact
from portal.rules import is_officer, is_portal_admin


@rules.predicate
def is_notice_team_member(user, notice) -> bool:
    if notice is None:
        return False
    return user_is_team_contact(user, notice.allocation.consortium)


rules.add_perm("gpu_allocation.view_awardnotice", is_officer | is_notice_team_member)
rules.add_perm("gpu_allocation.issue_awardnotice", is_officer)
rules.add_perm("gpu_allocation.export_awardnotice", is_portal_admin)
