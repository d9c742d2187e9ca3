"""Who may do what in the results app. Object refusals become 404 (pages and API alike);
the public pages need no permission at all."""

import rules

from evaluations.rules import application_member_ids, is_application_member
from portal.rules import is_applicant, is_officer


@rules.predicate
def is_import_of_own_team(user, record) -> bool:
    return record is not None and user.id in application_member_ids(record.application)


# A team imports its own results files (the same people who may type results in).
rules.add_perm("results.import_benchmarks", is_applicant & is_application_member)
# The stored file is evidence: the team that uploaded it and the officers read it.
rules.add_perm("results.view_import", is_officer | (is_applicant & is_import_of_own_team))
# Officers map objectives to tasks and metrics and keep the reference models.
rules.add_perm("results.manage_phase_evidence", is_officer)
