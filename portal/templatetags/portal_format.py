"""Formatting shared by every page: amounts in KRW the way each language writes them
(the wording lives in ``portal/formatting.py``)."""

from django import template
from django.utils.translation import get_language

from portal import formatting

register = template.Library()


@register.filter
def krw(value) -> str:
    """``3000000000`` → ``3,000,000,000원`` (Korean) or ``3,000,000,000 KRW`` (English)."""
    if value in (None, ""):
        return "—"
    return formatting.krw(int(value)) if (get_language() or "ko").startswith("ko") else formatting.krw_en(int(value))
