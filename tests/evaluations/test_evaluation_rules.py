"""Assignment permissions over every status × actor (a refusal is a 404 on pages and the API)."""

import pytest

from evaluations.enums import AssignmentStatus as S
from tests.factories import UserFactory
from tests.factories_evaluations import assign, reviewers, selection_phase, submitted_application

pytestmark = pytest.mark.django_db

PERMS = ("view_assignment", "declare_conflict", "score_assignment", "review_application")

# status -> what the assigned reviewer may do (view, declare, score, read the proposal)
OWNER = {
    S.AWAITING_DECLARATION: (True, True, True, False),
    S.ACTIVE: (True, True, True, True),
    S.SUBMITTED: (True, True, True, True),
    S.CONFLICTED: (False, False, False, False),
    S.REPLACED: (False, False, False, False),
}


@pytest.mark.parametrize("status", list(OWNER))
@pytest.mark.parametrize("actor", ["owner", "other_reviewer", "officer", "applicant"])
def test_assignment_permissions(programme, status, actor):
    phase = selection_phase(programme=programme)
    owner, other = reviewers(2)
    application = submitted_application(programme=programme)
    assignment = assign(phase, application, owner, declared=False)
    assignment.status = status
    assignment.save()
    user = {
        "owner": owner,
        "other_reviewer": other,
        "officer": UserFactory(role="officer"),
        "applicant": application.consortium.lead_contact,
    }[actor]

    got = tuple(user.has_perm(f"evaluations.{perm}", assignment) for perm in PERMS)

    expected = {
        "owner": OWNER[status],
        "other_reviewer": (False, False, False, False),
        "officer": (True, False, False, False),  # officers oversee; they never declare or score
        "applicant": (False, False, False, False),
    }[actor]
    assert got == expected


def test_affiliated_owner_cannot_read_even_when_active(programme):
    from tests.factories_evaluations import affiliate

    phase = selection_phase(programme=programme)
    (owner,) = reviewers(1)
    application = submitted_application(programme=programme)
    assignment = assign(phase, application, owner)
    affiliate(owner, application)
    assert not owner.has_perm("evaluations.review_application", assignment)
