"""Template helpers of the home pages: a name in the page's language."""

from django import template
from django.utils.translation import get_language

register = template.Library()


@register.simple_tag
def local_name(korean, english=""):
    """``english`` on English pages when there is one, otherwise ``korean``."""
    if english and (get_language() or "").startswith("en"):
        return english
    return korean
