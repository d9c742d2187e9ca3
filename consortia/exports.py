"""The officer's application list as CSV or XLSX (``/consortia/officer/applications.<csv|xlsx>``).

Sealing holds in the file as on the page: before the programme's deadline the export carries
what officers may see of a sealed call — each application's consortium, lead organisation,
member count, state, number of versions and last submission time, and the counts per state
(the XLSX's second sheet) — and nothing of the contents (no title, categories, requests,
receipt or digest). After the deadline each row adds the evaluated version's receipt
number, frozen title, model categories, requested GPUs and data budget, and SHA-256, read
from the version, never from the draft. Cells that a spreadsheet would run as a formula are
neutralised (``portal/spreadsheet.py``). The number of queries does not grow with the rows.
"""

from __future__ import annotations

from django.db.models import Count
from django.http import Http404
from django.utils import timezone
from django.views import View

from consortia.deadline import deadline_passed
from consortia.enums import ApplicationState
from consortia.models import ApplicationVersion
from consortia.selectors import application_state_counts, applications_visible_to
from portal.formatting import kst
from portal.models import Programme
from portal.spreadsheet import table_response
from portal.views import NotFoundPermissionMixin

SEALED_HEADER = [
    "application_id",
    "consortium",
    "lead_organisation",
    "members",
    "state",
    "versions",
    "last_submitted_at",
]
OPEN_HEADER = ["receipt_number", "title", "model_categories", "requested_gpus", "requested_budget_krw", "sha256"]


def application_export_rows(*, user, programme: Programme) -> tuple[list[str], list[list], bool]:
    """Header, rows and whether the programme is still sealed (three queries, any size)."""
    sealed = not deadline_passed(programme)
    applications = list(
        applications_visible_to(user)
        .filter(programme=programme)
        .annotate(member_count=Count("consortium__members", distinct=True))
        .order_by("id")
    )
    header = list(SEALED_HEADER)
    latest: dict[int, ApplicationVersion] = {}
    if not sealed:
        header += OPEN_HEADER
        for version in (
            ApplicationVersion.objects.filter(application__in=[a.pk for a in applications])
            .order_by("application_id", "number")
            .only("application_id", "number", "receipt_number", "sha256", "content")
        ):
            latest[version.application_id] = version  # the last one wins: the evaluated version
    rows = []
    for a in applications:
        row = [
            a.pk,
            a.consortium.name,
            a.consortium.lead_organisation.name_ko,
            a.member_count,
            str(ApplicationState(a.state).label),
            a.version_count,
            kst(a.last_submitted_at) if a.last_submitted_at else "",
        ]
        if not sealed:
            version = latest.get(a.pk)
            frozen = version.frozen if version is not None else None
            row += [
                version.receipt_number if version else "",
                frozen.title if frozen else "",
                ", ".join(frozen.categories) if frozen else "",
                frozen.requested_gpus if frozen else None,
                frozen.requested_budget if frozen else None,
                version.sha256 if version else "",
            ]
        rows.append(row)
    return header, rows, sealed


class OfficerApplicationExportView(NotFoundPermissionMixin, View):
    permission_required = "portal.add_programme"  # officers and administrators, as the list

    def get(self, request, fmt):
        programmes = Programme.objects.order_by("-year", "-id")
        programme_id = request.GET.get("programme")
        programme = (
            programmes.filter(pk=programme_id).first() if str(programme_id or "").isdigit() else programmes.first()
        )
        if programme is None or fmt not in ("csv", "xlsx"):
            raise Http404
        header, rows, sealed = application_export_rows(user=request.user, programme=programme)
        counts = application_state_counts(programme=programme)
        count_rows = [
            [state, str(ApplicationState(state).label), counts.get(state, 0)] for state in ApplicationState.values
        ]
        count_rows.append(["total", "", sum(counts.values())])
        stamp = timezone.localtime(timezone.now(), timezone.get_default_timezone()).strftime("%Y%m%d-%H%M")
        return table_response(
            fmt=fmt,
            filename=f"applications-{programme.pk}-{'sealed-' if sealed else ''}{stamp}",
            sheets=[("applications", header, rows), ("counts", ["state", "label", "count"], count_rows)],
        )
