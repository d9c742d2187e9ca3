"""Every benchmarked page and API list costs the same number of SQL queries at
N = 100 and N = 2,000 applications, and at most 15 (SPEC §10)."""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from gpu_allocation.management.commands.bench_queries import signed_in_client
from gpu_allocation.management.commands.bench_targets import targets_for

BUDGET = 15
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def bench_urlconf(settings):
    """The floors exist only in the benchmark's URLconf (portal.settings.bench uses it)."""
    settings.ROOT_URLCONF = "portal.bench_urls"


def seeded(n: int, r: int) -> tuple[dict, dict]:
    out = StringIO()
    call_command("seed_scale", "--applications", str(n), "--reviewers", str(r), stdout=out)
    scale = json.loads(out.getvalue())
    demo_out = StringIO()
    call_command("seed_demo", "--json", stdout=demo_out)
    return scale, json.loads(demo_out.getvalue())


def count_queries(target: dict) -> tuple[int, int]:
    client = signed_in_client(target["user"])
    client.get(target["path"])
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(target["path"])
    return response.status_code, len(ctx.captured_queries)


def test_every_benchmarked_target_has_a_constant_query_count():
    scale_s, demo = seeded(100, 20)
    scale_l, _demo = seeded(2000, 100)
    small = {t["name"]: t for t in targets_for(scale_s, demo)}
    large = {t["name"]: t for t in targets_for(scale_l, demo)}
    report = {}
    for name in small:
        assert small[name]["path"] and large[name]["path"], f"{name}: the page does not exist"
        report[name] = (count_queries(small[name]), count_queries(large[name]))
    statuses = {name: (a[0], b[0]) for name, (a, b) in report.items()}
    assert all(s == (200, 200) for s in statuses.values()), statuses
    counts = {name: (a[1], b[1]) for name, (a, b) in report.items()}
    assert {name: a == b for name, (a, b) in counts.items()} == {name: True for name in counts}, counts
    print("query counts (N=100, N=2000):", counts)
    assert max(b for _a, b in counts.values()) <= BUDGET, counts


def test_live_ranking_costs_the_same_queries_at_both_sizes_computed_or_cached(officer):
    """The ranking of a phase still being scored is computed over every sheet on the first
    request after a change, then read from the cache: both within the budget, both the
    same at 30 and 600 applications (3,000 sheets)."""
    from django.core.cache import cache
    from django.urls import reverse

    from tests.factories import ProgrammeFactory
    from tests.factories_evaluations import bulk_selection_phase

    client = signed_in_client(officer.username)
    counts = {}
    for n in (30, 600):
        phase = bulk_selection_phase(programme=ProgrammeFactory(), applications=n)
        path = reverse("evaluations:phase_ranking", args=[phase.pk])
        client.get(reverse("portal:home"))  # the session's own writes are not the page's
        cache.clear()
        with CaptureQueriesContext(connection) as computed:
            assert client.get(path).status_code == 200
        with CaptureQueriesContext(connection) as cached:
            assert client.get(path).status_code == 200
        counts[n] = (len(computed.captured_queries), len(cached.captured_queries))
    print("live ranking queries (computed, cached):", counts)
    assert counts[30] == counts[600], counts
    assert max(counts[600]) <= BUDGET, counts
