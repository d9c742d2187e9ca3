"""Template filters of the allocation pages: amounts in KRW and explanations per language."""

from django import template
from django.utils.translation import get_language

from portal.krw import format_krw_korean

register = template.Library()


@register.filter
def krw_eok(amount) -> str:
    """``4512000000`` → ``45억 1,200만 원``: the reading Korean readers expect next to the figure
    (the same wording as on award notices)."""
    if amount is None or amount == "":
        return ""
    return format_krw_korean(int(amount))


@register.filter
def signed(value) -> str:
    """``+1,024`` / ``-512`` / ``0``."""
    value = int(value or 0)
    return f"{value:+,}" if value else "0"


@register.filter
def in_language(data, prefix: str = "") -> str:
    """Pick the Korean or English text of a dict (``{"ko": ..., "en": ...}``) or of an object's
    ``<prefix>_ko``/``<prefix>_en`` attributes, by the current language."""
    lang = "en" if (get_language() or "ko").startswith("en") else "ko"
    if isinstance(data, dict):
        return data.get(lang) or data.get("en") or data.get("ko") or ""
    return getattr(data, f"{prefix}_{lang}", "") or getattr(data, f"{prefix}_en", "")
