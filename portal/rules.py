"""Role predicates and the portal-wide permissions. Apps compose these in their own rules.py."""

import rules


@rules.predicate
def is_applicant(user) -> bool:
    return bool(user and user.is_authenticated and user.is_applicant)


@rules.predicate
def is_reviewer(user) -> bool:
    return bool(user and user.is_authenticated and user.is_reviewer)


@rules.predicate
def is_officer(user) -> bool:
    """Programme officers and administrators."""
    return bool(user and user.is_authenticated and user.is_officer)


@rules.predicate
def is_portal_admin(user) -> bool:
    return bool(user and user.is_authenticated and user.is_portal_admin)


rules.add_perm("portal.view_programme", rules.is_authenticated)
rules.add_perm("portal.add_programme", is_officer)
rules.add_perm("portal.change_programme", is_officer)
rules.add_perm("portal.view_auditentry", is_portal_admin)
rules.add_perm("portal.view_accesslog", is_portal_admin)
