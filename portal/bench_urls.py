"""The benchmark's URLconf: the portal's own routes plus the benchmark floors.

Only ``portal.settings.bench`` (used by ``bench/run.py`` and the query-budget test) mounts
it; the portal's URLconf (``portal.urls``), which production and every other mode serve,
has no such route, so nothing here is reachable on a deployed portal. The floors are what
every benchmarked page is measured against: the least a page costs through the full
middleware stack, and a 50-row list rendered from one query.
"""

from django.db import connection
from django.shortcuts import render
from django.urls import include, path

from portal.models import AuditEntry
from portal.urls import urlpatterns as portal_urlpatterns


def floor_tiny(request):
    """Benchmark floor: the least a page can cost through the full middleware stack."""
    return render(request, "bench/tiny.html", {})


def floor_list(request):
    """Benchmark floor: a 50-row list rendered from one query."""
    rows = list(AuditEntry.objects.order_by("id").values("id", "action", "at")[:50])
    connection.ensure_connection()
    return render(request, "bench/list.html", {"rows": rows})


bench_patterns = [
    path("floor/tiny/", floor_tiny, name="floor_tiny"),
    path("floor/list/", floor_list, name="floor_list"),
]

urlpatterns = [path("bench/", include((bench_patterns, "bench"))), *portal_urlpatterns]
