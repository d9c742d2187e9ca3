"""Who may do what in evaluations. Object refusals become 404 (pages and API alike)."""

import rules

from consortia.models import Affiliation, ConsortiumMember
from evaluations.enums import ASSIGNMENT_SCORING_STATES, AssignmentStatus
from portal.rules import is_applicant, is_officer, is_reviewer


@rules.predicate
def is_own_assignment(user, assignment) -> bool:
    """The assignment is the user's and has not been handed to someone else."""
    return (
        assignment is not None and assignment.reviewer_id == user.id and assignment.status != AssignmentStatus.REPLACED
    )


@rules.predicate
def is_awaiting_or_cleared(user, assignment) -> bool:
    """Not (yet) conflicted: the reviewer may still declare or has declared no conflict."""
    return assignment is not None and assignment.status != AssignmentStatus.CONFLICTED


@rules.predicate
def is_cleared(user, assignment) -> bool:
    """The reviewer declared no conflict and is not affiliated with any consortium organisation."""
    if assignment is None or assignment.status not in ASSIGNMENT_SCORING_STATES:
        return False
    organisation_ids = ConsortiumMember.objects.filter(consortium_id=assignment.application.consortium_id).values(
        "organisation_id"
    )
    lead = assignment.application.consortium.lead_organisation_id
    return not Affiliation.objects.filter(user_id=user.id, organisation_id__in=organisation_ids).exists() and not (
        Affiliation.objects.filter(user_id=user.id, organisation_id=lead).exists()
    )


@rules.predicate
def is_affiliated_with_team(user, assignment) -> bool:
    """The reviewer belongs to an organisation of the application's consortium (conflicted
    automatically, whatever was declared)."""
    if assignment is None:
        return False
    consortium = assignment.application.consortium
    organisation_ids = ConsortiumMember.objects.filter(consortium_id=consortium.id).values("organisation_id")
    return Affiliation.objects.filter(user_id=user.id, organisation_id__in=organisation_ids).exists() or (
        Affiliation.objects.filter(user_id=user.id, organisation_id=consortium.lead_organisation_id).exists()
    )


def application_member_ids(application) -> set[int]:
    """Users who speak for the application: the lead contact and each member organisation's contact."""
    consortium = application.consortium
    ids = set(
        ConsortiumMember.objects.filter(consortium_id=consortium.id, contact__isnull=False).values_list(
            "contact_id", flat=True
        )
    )
    ids.add(consortium.lead_contact_id)
    return ids


@rules.predicate
def is_application_member(user, application) -> bool:
    return application is not None and user.id in application_member_ids(application)


# Phases: set up and run by officers.
rules.add_perm("evaluations.view_phase", is_officer)
rules.add_perm("evaluations.manage_phase", is_officer)
rules.add_perm("evaluations.add_phase", is_officer)

# Assignments. A reviewer sees only their own; a conflicted one is gone for them.
rules.add_perm("evaluations.list_assignments", is_officer | is_reviewer)
rules.add_perm(
    "evaluations.view_assignment",
    is_officer | (is_reviewer & is_own_assignment & is_awaiting_or_cleared & ~is_affiliated_with_team),
)
rules.add_perm("evaluations.declare_conflict", is_reviewer & is_own_assignment & is_awaiting_or_cleared)
# Scoring is reachable for an undeclared assignment too, so the service can say "declare first" (409).
# An affiliated reviewer is conflicted automatically: they can neither see nor score (SPEC §5).
rules.add_perm(
    "evaluations.score_assignment",
    is_reviewer & is_own_assignment & is_awaiting_or_cleared & ~is_affiliated_with_team,
)
# Reading the application itself needs a "no conflict" declaration and no affiliation.
rules.add_perm("evaluations.review_application", is_reviewer & is_own_assignment & is_cleared)

# Applicants: their own published results, appeals and benchmark submissions.
rules.add_perm("evaluations.view_own_results", is_applicant)
rules.add_perm("evaluations.file_appeal", is_applicant & is_application_member)
rules.add_perm("evaluations.submit_benchmark", is_applicant & is_application_member)
rules.add_perm("evaluations.decide_appeal", is_officer)
rules.add_perm("evaluations.list_appeals", is_officer | is_applicant)
