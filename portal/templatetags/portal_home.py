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


@register.simple_tag
def static_or_plain(path: str) -> str:
    """``{% static %}`` for the pages rendered when something failed (500, 503, 507): a
    missing manifest entry must not turn the error page itself into an error."""
    from django.conf import settings
    from django.templatetags.static import static

    try:
        return static(path)
    except Exception:  # noqa: BLE001 -- an error page is rendered whatever the static files say
        return settings.STATIC_URL + path
