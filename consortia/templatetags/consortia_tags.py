"""Template helpers for the consortia pages."""

from django import template

from consortia.enums import MemberRole, OrganisationKind

register = template.Library()


@register.filter
def role_label(value: str) -> str:
    """The translated label of a member role stored as its code (e.g. in a frozen version)."""
    try:
        return MemberRole(value).label
    except ValueError:
        return value


@register.filter
def kind_label(value: str) -> str:
    try:
        return OrganisationKind(value).label
    except ValueError:
        return value
