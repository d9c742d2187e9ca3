"""Reads of award notices: what each person may see, look-ups by verification code, and the
latest word on issuing a run's notices."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet

from consortia.selectors import team_contacts_q
from gpu_allocation.models import Allocation, AllocationRun, AwardNotice, NoticeExport
from portal.models import AuditEntry


def award_notices_visible_to(user) -> QuerySet[AwardNotice]:
    """Notices ``user`` may see: all for officers and administrators; their own team's for applicants."""
    base = AwardNotice.objects.select_related(
        "allocation__consortium__lead_organisation", "allocation__run__programme", "superseded_by"
    ).order_by("-issued_at", "-id")
    if not (user and user.is_authenticated):
        return base.none()
    if user.is_officer:
        return base
    if user.is_applicant:
        ids = Allocation.objects.filter(team_contacts_q(user, "consortium__")).values("id")
        return base.filter(allocation_id__in=ids)
    return base.none()


def notice_is_current(notice: AwardNotice) -> bool:
    """A notice is in force while neither it nor its run has been superseded."""
    return notice.superseded_at is None and notice.allocation.run.superseded_at is None


def notice_for_code(code: str) -> AwardNotice | None:
    code = (code or "").strip().upper()
    if not re.fullmatch(r"[0-9A-Z-]{8,32}", code):
        return None
    return (
        AwardNotice.objects.select_related(
            "allocation__consortium__lead_organisation", "allocation__run__programme", "superseded_by"
        )
        .filter(verification_code=code)
        .first()
    )


@dataclass(frozen=True)
class IssueState:
    """The latest issuing request or failure of a run, for the notices page."""

    state: str  # "pending" | "failed"
    at: datetime
    error: str = ""


def notice_issue_state(run: AllocationRun) -> IssueState | None:
    """``pending`` after an *Issue notices* request, ``failed`` (with the message) after a
    failed attempt; None when neither is the latest word on the run (one query)."""
    entry = (
        AuditEntry.objects.filter(
            object_type=AllocationRun._meta.label_lower,
            object_id=str(run.pk),
            action__in=["award_notice.issue_request", "award_notice.issue_fail"],
        )
        .order_by("-id")
        .values("action", "at", "after")
        .first()
    )
    if entry is None:
        return None
    if entry["action"] == "award_notice.issue_fail":
        return IssueState("failed", entry["at"], (entry["after"] or {}).get("error", ""))
    return IssueState("pending", entry["at"])


def notice_exports_visible_to(user) -> QuerySet[NoticeExport]:
    if user and user.is_authenticated and user.is_portal_admin:
        return NoticeExport.objects.select_related("run")
    return NoticeExport.objects.none()
