"""The live ranking (a phase still being scored), page and API, costs the same number of
queries and shows pages of the same size whatever the number of applications (SPEC §10):
the computed ranking is cached in 50-row chunks, a page reads one chunk, and the page lists
at most ``TIES_SHOWN`` ties to decide with a note on how many more wait."""

import re

import pytest
from django.core.cache import cache

from evaluations.views import TIES_SHOWN
from tests.factories import ProgrammeFactory
from tests.factories_evaluations import bulk_selection_phase

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.mark.parametrize("n", [110, 330])
def test_live_ranking_page_and_api_cost_constant_queries(
    client_for, api_for, officer, programme, django_assert_max_num_queries, n
):
    phase = bulk_selection_phase(programme=programme, applications=n)
    page, api = client_for(officer), api_for(officer)
    url = f"/evaluations/phases/{phase.pk}/ranking/"
    assert page.get(url).status_code == 200  # computes the ranking and stores it
    with django_assert_max_num_queries(14):
        first = page.get(url)
    with django_assert_max_num_queries(14):
        second = page.get(url + "?page=2")
    with django_assert_max_num_queries(12):
        listed = api.get(f"/api/v1/phases/{phase.pk}/ranking/")
    with django_assert_max_num_queries(12):
        later = api.get(f"/api/v1/phases/{phase.pk}/ranking/?page=2")
    assert first.status_code == second.status_code == listed.status_code == later.status_code == 200
    html, html2 = first.content.decode(), second.content.decode()
    assert "Live" in html or "실시간" in html
    # 50 rows a page, page and API alike, with every column of the table.
    row = re.compile(r'<tr class="[^"]*">\s*<td class="num">([^<]*)</td>')
    assert len(row.findall(html.split("<tbody", 1)[1])) == 50
    assert len(row.findall(html2.split("<tbody", 1)[1])) == 50
    assert 'data-testid="spread"' in html and "reviewer-totals" in html
    body = listed.json()
    assert body["count"] == n and len(body["results"]) == 50
    assert len(later.json()["results"]) == 50
    assert body["results"][0]["rank"] == 1 and later.json()["results"][0]["rank"] > 1
    # Ties to decide: at most TIES_SHOWN forms; the rest counted, not listed.
    forms = html.count('name="order"')
    assert forms <= TIES_SHOWN
    if 'id="ties-more"' in html:
        assert forms == TIES_SHOWN


def test_live_ranking_page_size_does_not_grow_with_applications(client_for, officer):
    sizes = []
    for n in (110, 330):
        phase = bulk_selection_phase(programme=ProgrammeFactory(), applications=n)
        c = client_for(officer)
        url = f"/evaluations/phases/{phase.pk}/ranking/"
        c.get(url)
        sizes.append(len(c.get(url).content))
    # The same 50 rows, charts and at most TIES_SHOWN ties: within a few per cent, not 4×.
    assert sizes[1] < sizes[0] * 1.25


def _reviewer_totals(html: str, application_id: int) -> str:
    row = next(r for r in html.split("<tr")[1:] if f"· #{application_id}<" in r)
    return row.split('class="small reviewer-totals">', 1)[1].split("</td>", 1)[0]


def test_the_officers_next_look_shows_a_sheet_submitted_since(client_for, officer):
    """The ranking page (its table cached under the ranking's inputs, the inputs' stamp
    cached for a few seconds) shows a sheet the reviewer submitted a moment ago on the
    officer's very next look, and again after the officer's tie decision."""
    from django.urls import reverse

    from tests.factories_evaluations import assign, reviewers, selection_phase, submit_scores, submitted_application

    programme = ProgrammeFactory()
    phase = selection_phase(programme=programme)
    apps = [submitted_application(programme=programme) for _ in range(3)]
    first, second, late = reviewers(3)
    for app in apps:
        for r in (first, second):
            submit_scores(assign(phase, app, r), {"technology": 30, "capability": 20, "impact": 20})
    waiting = assign(phase, apps[0], late)
    officer_client = client_for(officer)
    url = reverse("evaluations:phase_ranking", args=[phase.pk])
    before = officer_client.get(url).content.decode()
    assert _reviewer_totals(before, apps[0].id) == "70.0, 70.0"
    assert _reviewer_totals(officer_client.get(url).content.decode(), apps[0].id) == "70.0, 70.0"

    reviewer_client = client_for(late)
    score_url = reverse("evaluations:assignment_score", args=[waiting.pk])
    scores = {"score_technology": "10", "score_capability": "10", "score_impact": "10", "comment": "총평"}
    assert reviewer_client.post(score_url, {**scores, "submit": "1", "confirm": "yes"}).status_code == 302

    after = officer_client.get(url).content.decode()
    assert sorted(_reviewer_totals(after, apps[0].id).split(", ")) == ["30.0", "70.0", "70.0"]
