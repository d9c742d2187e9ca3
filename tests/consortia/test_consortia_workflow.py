import pytest
import rules

from consortia.enums import ApplicationState
from consortia.workflow import TRANSITIONS, application_transition
from portal.errors import DomainError
from tests.factories_consortia import ApplicationFactory


def test_every_edge_has_a_permission_rule():
    assert all(rules.perm_exists(perm) for perm in TRANSITIONS.values())


def test_edges_not_in_the_table_are_refused(db):
    application = ApplicationFactory()
    with pytest.raises(DomainError) as error:
        application_transition(
            application=application, to=ApplicationState.WITHDRAWN, by=application.consortium.lead_contact
        )
    assert error.value.code == "invalid_transition"
    application.refresh_from_db()
    assert application.state == ApplicationState.DRAFT


@pytest.mark.parametrize("state", list(ApplicationState))
def test_no_edge_back_to_draft(state):
    assert (state.value, ApplicationState.DRAFT.value) not in TRANSITIONS
