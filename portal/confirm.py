"""A confirmation step before an action that cannot be undone (issue 19).

The button of such an action posts its form as before; the view answers with a page that
names what will happen and what cannot be undone, and carries the posted fields on in
hidden inputs with ``confirm=yes``. Only that second post acts, so the step works without
JavaScript. API endpoints keep their meaning: a client confirms by calling.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.shortcuts import render

CONFIRM_FIELD = "confirm"
CONFIRM_VALUE = "yes"
NOT_CARRIED = {"csrfmiddlewaretoken", CONFIRM_FIELD}


def is_confirmed(request) -> bool:
    return request.POST.get(CONFIRM_FIELD) == CONFIRM_VALUE


@dataclass
class Confirmation:
    title: str
    happens: list[str]
    irreversible: str
    action_url: str
    cancel_url: str
    confirm_label: str
    warnings: list[str] = field(default_factory=list)
    details: list[tuple[str, str]] = field(default_factory=list)
    button_name: str = ""


def render_confirmation(request, confirmation: Confirmation, *, status: int = 200):
    """The confirmation page; the posted fields (but the CSRF token) ride along hidden."""
    carried = [
        (name, value) for name in request.POST if name not in NOT_CARRIED for value in request.POST.getlist(name)
    ]
    context = {
        "confirmation": confirmation,
        "carried": carried,
        "confirm_field": CONFIRM_FIELD,
        "confirm_value": CONFIRM_VALUE,
    }
    return render(request, "portal/confirm.html", context, status=status)
