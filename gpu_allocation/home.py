"""Home sections of the allocation app (``portal/home.py``): the allocation state of each
recent programme for officers and administrators."""

from __future__ import annotations

from django.db.models import Count, Max, Q

from gpu_allocation.enums import RUN_ACTIVE_STATES
from gpu_allocation.models import Allocation, AllocationRun
from portal.home import OFF, D, HomeSection
from portal.models import Programme

HOME_PROGRAMMES = 3


def officer_allocation(request) -> dict:
    """Per recent programme: the latest run and the approved run in force (one aggregate
    query), the runs' statuses (one query), and the notices issued for the run in force
    against its teams (one aggregate query)."""
    programmes = list(Programme.objects.order_by("-year", "-id")[:HOME_PROGRAMMES])
    summary = {
        row["programme_id"]: row
        for row in AllocationRun.objects.filter(programme__in=programmes)
        .values("programme_id")
        .annotate(
            runs=Count("id"),
            latest_id=Max("id"),
            active=Count("id", filter=Q(status__in=RUN_ACTIVE_STATES)),
            in_force_id=Max("id", filter=Q(approved_at__isnull=False, superseded_at__isnull=True)),
        )
        .order_by()
    }
    wanted = {i for row in summary.values() for i in (row["latest_id"], row["in_force_id"]) if i}
    runs = {
        r.pk: r for r in AllocationRun.objects.filter(pk__in=wanted).only("id", "status", "approved_at", "created_at")
    }
    in_force_ids = [row["in_force_id"] for row in summary.values() if row["in_force_id"]]
    issued = {
        row["run_id"]: row
        for row in Allocation.objects.filter(run_id__in=in_force_ids)
        .values("run_id")
        .annotate(teams=Count("id"), notices=Count("notice"))
        .order_by()
    }
    rows = []
    for programme in programmes:
        row = summary.get(programme.pk, {})
        in_force = runs.get(row.get("in_force_id"))
        counts = issued.get(in_force.pk, {}) if in_force else {}
        rows.append(
            {
                "programme": programme,
                "runs": row.get("runs", 0),
                "latest": runs.get(row.get("latest_id")),
                "active": row.get("active", 0),
                "in_force": in_force,
                "teams": counts.get("teams", 0),
                "notices": counts.get("notices", 0),
            }
        )
    return {"rows": rows}


SECTIONS = [
    HomeSection("allocation", (OFF, D), 20, "gpu_allocation/home/_allocation.html", officer_allocation),
]
