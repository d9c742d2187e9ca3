"""Access records of personal data (SPEC §10; the personal-information safety rules).

Every successful read of a page or API resource that shows people's personal data
(contacts of consortia and applications, application documents, reviewers, notices,
the audit trail and these records themselves), by a reviewer, officer or
administrator, leaves one ``AccessLog`` row: account, time, address, what (the page or
resource and its object id) and the action (view or download). Applicants reading
their own consortium's data are the data's owners, not handlers, and are not recorded.
Records are append-only and pruned after ``ACCESS_LOG_RETENTION_DAYS`` (two years by
default, the longer of the periods the rules set).
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from portal.enums import AccessAction, Role
from portal.models import AccessLog
from portal.net import client_ip

HANDLER_ROLES = (Role.REVIEWER, Role.OFFICER, Role.ADMIN)
VIEW, DOWNLOAD = AccessAction.VIEW, AccessAction.DOWNLOAD

# Portal pages (namespaced URL names) showing personal data → the action recorded.
PAGES = {
    "consortia:consortium_detail": VIEW,
    "consortia:officer_applications": VIEW,
    "consortia:officer_application_detail": VIEW,
    "consortia:version_list": VIEW,
    "consortia:application_version": VIEW,
    "consortia:attachment_download": DOWNLOAD,
    "consortia:version_receipt_pdf": DOWNLOAD,
    "consortia:version_dossier": DOWNLOAD,
    "consortia:officer_applications_export": DOWNLOAD,
    "evaluations:phase_detail": VIEW,
    "evaluations:phase_assignments": VIEW,
    "evaluations:appeal_list": VIEW,
    "evaluations:assignment_score": VIEW,
    "evaluations:review_attachment": DOWNLOAD,
    "evaluations:review_dossier": DOWNLOAD,
    "evaluations:phase_export": DOWNLOAD,
    "gpu_allocation:notice_list": VIEW,
    "gpu_allocation:notice_pdf": DOWNLOAD,
    "gpu_allocation:notice_export_download": DOWNLOAD,
    "portal:audit_log": VIEW,
    "portal:access_log": VIEW,
}
# API resources (router basenames): every read of them is recorded.
API_RESOURCES = ("organisation", "consortium", "application", "assignment", "appeal", "award-notice", "notice-export")
DOWNLOAD_ACTIONS = ("pdf", "download", "zip", "attachment")


def _target(request) -> tuple[str, str] | None:
    """(what, action) for a recorded request, None for one that is not."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return None
    if match.view_name in PAGES:
        return match.view_name, PAGES[match.view_name]
    if match.view_name.startswith("admin:"):
        return match.view_name, VIEW
    if request.path.startswith("/api/") and match.url_name:
        basename, _sep, kind = match.url_name.rpartition("-")
        if basename in API_RESOURCES:
            return f"api:{match.url_name}", DOWNLOAD if kind in DOWNLOAD_ACTIONS else VIEW
    return None


def access_log_record(request, response) -> AccessLog | None:
    """Record the request if it read personal data successfully as a handler."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or user.role not in HANDLER_ROLES:
        return None
    if request.method not in ("GET", "HEAD") or not 200 <= response.status_code < 300:
        return None
    found = _target(request)
    if found is None:
        return None
    what, action = found
    kwargs = request.resolver_match.kwargs
    object_id = next((str(kwargs[k]) for k in ("pk", "id", "application_id", "run_id", "code") if k in kwargs), "")
    return AccessLog.objects.create(
        user=user,
        username=user.get_username()[:150],
        role=user.role,
        ip_address=client_ip(request),
        action=action,
        target=what[:80],
        object_id=object_id[:64],
        method=request.method,
        path=request.get_full_path()[:500],
    )


def access_log_prune(*, now=None) -> int:
    """Delete records older than the retention period; returns how many."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.ACCESS_LOG_RETENTION_DAYS)
    deleted, _by_model = AccessLog.objects.filter(at__lt=cutoff).delete()
    return deleted
