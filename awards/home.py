"""Home sections of award notices (``portal/home.py``): a team's notices, and for
administrators the notices in force and the latest ZIP exports."""

from __future__ import annotations

from django.db.models import Count, Q

from awards.selectors import award_notices_visible_to
from gpu_allocation.models import AwardNotice, NoticeExport
from portal.home import A, D, HomeSection


def applicant_notices(request) -> dict | None:
    notices = list(award_notices_visible_to(request.user)[:10])
    if not notices:
        return None
    for notice in notices:
        notice.in_force = notice.superseded_at is None and notice.allocation.run.superseded_at is None
    return {"notices": notices}


def admin_notices(request) -> dict:
    """Notices in force and superseded (one aggregate query) and the latest ZIP exports."""
    totals = AwardNotice.objects.aggregate(
        in_force=Count("id", filter=Q(superseded_at__isnull=True, allocation__run__superseded_at__isnull=True)),
        superseded=Count("id", filter=Q(superseded_at__isnull=False) | Q(allocation__run__superseded_at__isnull=False)),
    )
    exports = list(NoticeExport.objects.select_related("run__programme").order_by("-created_at", "-id")[:5])
    return {"totals": totals, "exports": exports}


SECTIONS = [
    HomeSection("notices", (A,), 30, "awards/home/_notices.html", applicant_notices),
    HomeSection("notice_admin", (D,), 30, "awards/home/_notice_admin.html", admin_notices),
]
