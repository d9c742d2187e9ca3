"""Each role's home page: the sections the apps contribute, in layer order.

The portal layer knows no app below it (``portal ← consortia ← evaluations ←
gpu_allocation``), so each app lists its sections in its own ``home.py`` as
``SECTIONS``, and the home view asks them in turn, as ``seed_demo`` asks each app's
``demo.py``. A section is a template and a function of the request that returns its
context, or ``None`` when it has nothing to show this person.

Every count on a home comes from one aggregate query per section (tested at two data
sizes in ``tests/portal/test_homes.py``): a home costs the same whatever the number of
applications, assignments or runs.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from portal.enums import Role

A, R, OFF, D = Role.APPLICANT, Role.REVIEWER, Role.OFFICER, Role.ADMIN

HOME_MODULES = ["portal.home", "consortia.home", "evaluations.home", "gpu_allocation.home", "awards.home"]


@dataclass(frozen=True)
class HomeSection:
    key: str
    roles: tuple
    order: int
    template: str
    context: Callable


def home_sections_for(request) -> list[dict]:
    """The sections this person's home shows, each ``{"key", "template", **context}``."""
    user = request.user
    sections = []
    for module_name in HOME_MODULES:
        if importlib.util.find_spec(module_name) is None:
            continue  # that part of the portal is not installed in this build
        for section in getattr(importlib.import_module(module_name), "SECTIONS", []):
            if user.role in section.roles:
                sections.append(section)
    shown = []
    for section in sorted(sections, key=lambda s: s.order):
        context = section.context(request)
        if context is not None:
            shown.append({"key": section.key, "template": section.template, **context})
    return shown


# --------------------------------------------------------------------------- administrators: audit alerts

#: Audit actions an administrator should notice: refusals, failed log-ins, side effects given up,
#: background jobs that failed or lost their worker (named as the audit trail names them).
ALERT_ACTIONS = (
    "auth.login_failed",
    "access.refused",
    "outbox.failed",
    "allocation_run.fail",
    "allocation_run.reclaim",
    "notice_export.fail",
)
ALERT_DAYS = 7


def audit_alerts(request) -> dict:
    """The last week's alerts: a count per kind (one aggregate query) and the ten newest."""
    from django.db.models import Count

    from portal.labels import audit_action_label
    from portal.models import AuditEntry

    since = timezone.now() - timedelta(days=ALERT_DAYS)
    recent = AuditEntry.objects.filter(at__gte=since, action__in=ALERT_ACTIONS)
    counts = {row["action"]: row["n"] for row in recent.values("action").annotate(n=Count("id")).order_by()}
    latest = list(recent.order_by("-id").only("id", "at", "action", "actor_repr", "ip_address")[:10])
    for entry in latest:
        entry.label = audit_action_label(entry.action)
    return {
        "days": ALERT_DAYS,
        "kinds": [{"action": a, "label": audit_action_label(a), "count": counts.get(a, 0)} for a in ALERT_ACTIONS],
        "total": sum(counts.values()),
        "latest": latest,
    }


SECTIONS = [HomeSection("audit_alerts", (D,), 90, "portal/home/_audit_alerts.html", audit_alerts)]
