"""The reviewer-disagreement column of the officer's ranking: the spread (highest minus lowest)
and standard deviation of each application's submitted reviewer totals, flagged above a
fifth of the expert maximum — on the page, in the CSV/XLSX export and in the API, at a
query count that does not grow with the number of applications."""

import csv
import io
import re
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from evaluations import scoring, services
from tests.factories import ProgrammeFactory
from tests.factories_evaluations import (
    assign,
    bulk_selection_phase,
    decide_all_ties,
    reviewers,
    selection_phase,
    submit_scores,
    submitted_application,
)

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.mark.parametrize(
    ("totals", "expert_max", "spread", "stdev", "threshold", "flagged"),
    [
        (["70", "90", "80"], "100", "20.00", "8.16", "20.00", False),  # exactly at the threshold: not flagged
        (["60", "85"], "100", "25.00", "12.50", "20.00", True),
        (["70.1", "90.2"], "100", "20.10", "10.05", "20.00", True),
        (["20", "27.5", "27"], "35", "7.50", "3.42", "7.00", True),  # a 35-point expert part: 7 points
        (["80", "80", "80", "80", "80"], "100", "0.00", "0.00", "20.00", False),
        (["1", "2", "2"], "100", "1.00", "0.47", "20.00", False),  # sqrt(2/9) = 0.4714 -> 0.47
        (["0", "1"], "100", "1.00", "0.50", "20.00", False),  # 0.5 exactly
        (["0", "0.1", "0.2", "0.3"], "100", "0.30", "0.11", "20.00", False),  # sqrt(0.0125) = 0.1118
    ],
)
def test_reviewer_disagreement_core(totals, expert_max, spread, stdev, threshold, flagged):
    result = scoring.reviewer_disagreement([D(t) for t in totals], D(expert_max))
    assert result == scoring.Disagreement(
        reviewers=len(totals), spread=D(spread), stdev=D(stdev), threshold=D(threshold), flagged=flagged
    )


def test_fewer_than_two_sheets_have_no_spread():
    assert scoring.reviewer_disagreement([D("70")], D("100")) == scoring.Disagreement(
        reviewers=1, spread=None, stdev=None, threshold=D("20.00"), flagged=False
    )
    assert scoring.reviewer_disagreement([], None).threshold is None


def test_standard_deviation_rounds_half_up_exactly():
    # totals 0 and 0.01: the deviation is exactly 0.005, which rounds up to 0.01
    assert scoring.reviewer_disagreement([D("0"), D("0.01")], D("100")).stdev == D("0.01")


class _Cells(HTMLParser):
    """The visible text of each ranking row's cells, and of the spread note."""

    def __init__(self):
        super().__init__()
        self.rows: list[list[str]] = []
        self.note = ""
        self._cell = None
        self._in_note = False

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "p" and ("data-testid", "spread-note") in attrs:
            self._in_note = True

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "p":
            self._in_note = False

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data + " ")
        if self._in_note:
            self.note += data


def _phase_with_two_teams(programme):
    """Team A: reviewers far apart (60, 75, 95 -> spread 35, flagged); team B: close (78, 80, 82)."""
    phase = selection_phase(programme=programme)
    far = submitted_application(programme=programme)
    close = submitted_application(programme=programme)
    for r, (t, c, i) in zip(reviewers(3), [(24, 18, 18), (30, 22, 23), (38, 28, 29)], strict=True):
        submit_scores(assign(phase, far, r), {"technology": t, "capability": c, "impact": i})
    for r, (t, c, i) in zip(reviewers(3), [(31, 23, 24), (32, 24, 24), (33, 24, 25)], strict=True):
        submit_scores(assign(phase, close, r), {"technology": t, "capability": c, "impact": i})
    return phase, far, close


@pytest.mark.parametrize("language", ["en", "ko"])
def test_ranking_page_shows_spread_deviation_and_flag(programme, officer, client_for, language):
    phase, far, close = _phase_with_two_teams(programme)
    client = client_for(officer)
    client.cookies["django_language"] = language
    html = client.get(reverse("evaluations:phase_ranking", args=[phase.pk])).content.decode()
    parser = _Cells()
    parser.feed(html)
    header = next(r for r in parser.rows if r and r[0] in ("Rank", "순위"))
    column = header.index({"en": "Reviewer spread", "ko": "평가위원 간 편차"}[language])
    cells = {far.consortium.name: None, close.consortium.name: None}
    for row in parser.rows:
        for name in cells:
            if len(row) > column and row[1].startswith(name):
                cells[name] = row[column]
    flag = {"en": "Reviewers disagree", "ko": "평가위원 의견 차이 큼"}[language]
    assert cells == {
        far.consortium.name: f"35.00 σ 14.34 {flag}",
        close.consortium.name: "4.00 σ 1.63",
    }
    note = " ".join(parser.note.split())
    expected = {"en": "flagged when it exceeds 20.00 points", "ko": "20.00점(전문가 평가 항목 만점의 5분의 1)을 넘으면"}
    assert expected[language] in note


def test_export_and_api_carry_the_disagreement(programme, officer, client_for, api_for):
    phase, far, close = _phase_with_two_teams(programme)
    client = client_for(officer)
    body = client.get(reverse("evaluations:phase_export", args=[phase.pk, "csv"])).content.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(body)))
    got = {r["consortium"]: (r["reviewer_spread"], r["reviewer_stdev"], r["reviewers_disagree"]) for r in rows}
    assert got == {far.consortium.name: ("35.00", "14.34", "yes"), close.consortium.name: ("4.00", "1.63", "no")}

    book = load_workbook(io.BytesIO(client.get(reverse("evaluations:phase_export", args=[phase.pk, "xlsx"])).content))
    sheet = book.active
    header = [c.value for c in sheet[1]]
    lines = [dict(zip(header, [c.value for c in row], strict=True)) for row in sheet.iter_rows(min_row=2)]
    got = {r["consortium"]: (D(str(r["reviewer_spread"])), r["reviewers_disagree"]) for r in lines}
    assert got == {far.consortium.name: (D("35"), "yes"), close.consortium.name: (D("4"), "no")}

    data = api_for(officer).get(f"/api/v1/phases/{phase.pk}/ranking/").json()
    got = {r["application_id"]: r["disagreement"] for r in data["results"]}
    assert got == {
        far.pk: {"reviewers": 3, "spread": "35.00", "stdev": "14.34", "threshold": "20.00", "flagged": True},
        close.pk: {"reviewers": 3, "spread": "4.00", "stdev": "1.63", "threshold": "20.00", "flagged": False},
    }


def test_frozen_ranking_keeps_the_disagreement(programme, officer, client_for):
    phase, far, _close = _phase_with_two_teams(programme)
    decide_all_ties(phase, officer)
    services.phase_finalise(phase=phase, by=officer)
    html = client_for(officer).get(reverse("evaluations:phase_ranking", args=[phase.pk])).content.decode()
    assert re.search(r'data-testid="spread">35\.00<div[^>]*>σ 14\.34</div><span class="badge', html)


def _queries(client, path) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(path).status_code == 200
    return len(ctx.captured_queries)


def test_disagreement_adds_no_query_per_row(officer, client_for, api_for):
    """Page (computed and cached), API and CSV export cost the same at 10 and 120 applications."""
    client, api = client_for(officer), api_for(officer)
    counts = {}
    for size in (10, 120):
        phase = bulk_selection_phase(programme=ProgrammeFactory(), applications=size)
        page = reverse("evaluations:phase_ranking", args=[phase.pk])
        client.get(page)
        cache.clear()
        computed = _queries(client, page)
        cached = _queries(client, page)
        api_path = f"/api/v1/phases/{phase.pk}/ranking/"
        api.get(api_path)
        export = reverse("evaluations:phase_export", args=[phase.pk, "csv"])
        counts[size] = (computed, cached, _queries(api, api_path), _queries(client, export))
        html = client.get(page).content.decode()
        assert html.count('data-testid="spread">') == min(size, 50)
    assert counts[10] == counts[120], counts


def test_the_standard_deviation_is_the_exact_one_rounded_half_up():
    """Against the definition in exact fractions, on random totals with up to two places
    (and on the halfway cases the rounding decides)."""
    import math
    import random
    from fractions import Fraction

    def exact(values):
        mean = sum(map(Fraction, values)) / len(values)
        variance = sum((Fraction(v) - mean) ** 2 for v in values) / len(values)
        scaled = 4 * variance * 10**4
        return D((math.isqrt(scaled.numerator // scaled.denominator) + 1) // 2).scaleb(-2)

    rng = random.Random(18)
    cases = [[D("0"), D("1")], [D("0"), D("0.01")], [D("1E+1"), D("20")], [D("80")] * 5]
    for _ in range(2000):
        places = rng.choice([0, 1, 2])
        cases.append([D(rng.randint(0, 10000 // 10 ** (2 - places))).scaleb(-places) for _ in range(rng.randint(2, 7))])
    for values in cases:
        assert scoring.reviewer_disagreement(values, D("100")).stdev == exact(values), values
