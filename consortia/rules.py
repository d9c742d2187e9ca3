"""Who may do what with organisations, consortia and applications.

Refusals are answered 404 by the views and the API (SPEC §2). "Not possible now"
(a passed deadline) is not a permission: services raise a 409 for it.
"""

from __future__ import annotations

import rules

from consortia.deadline import deadline_passed as programme_deadline_passed
from consortia.models import Application, ApplicationVersion, Attachment, Consortium, ConsortiumMember, Organisation
from consortia.selectors import team_q
from portal.rules import is_applicant, is_officer, is_portal_admin


def _consortium_of(obj) -> Consortium | None:
    if isinstance(obj, Consortium):
        return obj
    if isinstance(obj, Application | ConsortiumMember):
        return obj.consortium
    if isinstance(obj, Attachment | ApplicationVersion):
        return obj.application.consortium
    return None


def _application_of(obj) -> Application | None:
    if isinstance(obj, Application):
        return obj
    if isinstance(obj, Attachment | ApplicationVersion):
        return obj.application
    return None


@rules.predicate
def is_team_member(user, obj) -> bool:
    """``user`` takes part in the consortium of ``obj`` (lead contact, member contact or staff)."""
    consortium = _consortium_of(obj)
    if consortium is None or not (user and user.is_authenticated and user.is_applicant):
        return False
    if consortium.lead_contact_id == user.pk:
        return True
    return Consortium.objects.filter(pk=consortium.pk).filter(team_q(user)).exists()


@rules.predicate
def is_lead_contact(user, obj) -> bool:
    consortium = _consortium_of(obj)
    return bool(consortium is not None and user.is_authenticated and consortium.lead_contact_id == user.pk)


@rules.predicate
def is_member_contact(user, member) -> bool:
    return bool(isinstance(member, ConsortiumMember) and member.contact_id == user.pk)


@rules.predicate
def deadline_passed(user, obj) -> bool:
    application = _application_of(obj)
    return bool(application is not None and programme_deadline_passed(application.programme))


@rules.predicate
def is_own_organisation(user, organisation) -> bool:
    if not isinstance(organisation, Organisation) or not user.is_authenticated:
        return False
    return (
        organisation.affiliations.filter(user=user).exists()
        or Consortium.objects.filter(members__organisation=organisation).filter(team_q(user)).exists()
    )


rules.add_perm("consortia.view_organisation", is_officer | is_own_organisation)
rules.add_perm("consortia.add_organisation", is_applicant)
rules.add_perm("consortia.view_consortium", is_officer | is_team_member)
rules.add_perm("consortia.add_consortium", is_applicant)
rules.add_perm("consortia.manage_consortium", is_lead_contact)
rules.add_perm("consortia.confirm_member", is_member_contact)
# Officers see an application's state and counts; its contents only once the deadline passed.
rules.add_perm("consortia.view_application", is_officer | is_team_member)
rules.add_perm("consortia.view_application_contents", is_team_member | (is_officer & deadline_passed))
rules.add_perm("consortia.add_application", is_applicant)
rules.add_perm("consortia.change_application", is_team_member)
rules.add_perm("consortia.submit_application", is_lead_contact)
rules.add_perm("consortia.withdraw_application", is_lead_contact)
rules.add_perm("consortia.unseal_application", is_portal_admin)
