"""Template filters that put codes into words (``portal/labels.py``), resolve Korean particle
markers (``portal/korean.py``) and pick the page's language of bilingual data."""

from django import template
from django.utils.safestring import SafeString, mark_safe

from portal import formatting, labels
from portal.korean import particles as resolve_particles

register = template.Library()


@register.filter
def audit_action(action: str) -> str:
    return labels.audit_action_label(action or "")


@register.filter
def audit_object(object_type: str) -> str:
    return labels.audit_object_label(object_type or "")


@register.filter
def audit_repr(entry) -> str:
    return labels.audit_object_repr(entry.object_type, entry.object_repr)


@register.filter
def audit_changes(entry) -> list:
    return labels.audit_change_lines(object_type=entry.object_type, before=entry.before, after=entry.after)


@register.filter
def access_target(target: str) -> str:
    return labels.access_target_label(target or "")


@register.filter
def kst(moment) -> str:
    return formatting.kst(moment) if moment else "—"


@register.filter(is_safe=True)
def particles(text):
    """Resolve "은(는)"-style markers after the placeholders are filled in (safe text stays safe)."""
    resolved = resolve_particles(text)
    return mark_safe(resolved) if isinstance(text, SafeString) else resolved  # noqa: S308 -- only particle letters change


@register.filter
def tr(obj, field: str = "name") -> str:
    """The field in the page's language: ``name_en`` on English pages when set, else ``name``."""
    return labels.localized(obj, field)


@register.filter
def tr_other(obj, field: str = "name") -> str:
    """The same field in the other language, or "" when there is none (or it is the same)."""
    return labels.localized_other(obj, field)


@register.filter
def tie_break_names(phase, criteria) -> str:
    return labels.tie_break_names(phase.tie_break_criteria, criteria)
