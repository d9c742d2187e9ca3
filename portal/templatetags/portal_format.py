"""Formatting shared by every page: amounts in KRW the way each language writes them."""

from django import template
from django.contrib.humanize.templatetags.humanize import intcomma
from django.utils.translation import get_language

register = template.Library()


@register.filter
def krw(value) -> str:
    """``3000000000`` → ``3,000,000,000원`` (Korean) or ``3,000,000,000 KRW`` (English)."""
    if value in (None, ""):
        return "—"
    amount = intcomma(int(value), use_l10n=False)
    return f"{amount}원" if (get_language() or "ko").startswith("ko") else f"{amount} KRW"
