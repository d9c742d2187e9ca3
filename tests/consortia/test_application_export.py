"""The officer's application list as CSV and XLSX (issue 19): sealed before the deadline (states
and counts, no title or contents), the evaluated versions' facts after it, formula cells
neutralised, officers only, and the same number of queries whatever the number of rows."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from consortia.exports import OPEN_HEADER, SEALED_HEADER
from consortia.models import Application
from portal.models import Programme
from tests.factories import ProgrammeFactory, UserFactory
from tests.factories_consortia import ApplicationFactory, ConsortiumFactory, submitted_application

pytestmark = pytest.mark.django_db

TRICKY_TITLE = '=HYPERLINK("http://evil.example","열기")'


def export_url(programme, fmt: str) -> str:
    return reverse("consortia:officer_applications_export", args=[fmt]) + f"?programme={programme.pk}"


def read_csv(response) -> list[dict]:
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    body = response.content.decode("utf-8")
    assert body.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(body[1:])))


def read_xlsx(response) -> dict[str, list[dict]]:
    book = load_workbook(io.BytesIO(response.content))
    sheets = {}
    for sheet in book.worksheets:
        rows = list(sheet.iter_rows(values_only=True))
        sheets[sheet.title] = [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    return sheets


@pytest.fixture
def call():
    programme = ProgrammeFactory()
    tricky = submitted_application(
        programme=programme,
        consortium=ConsortiumFactory(programme=programme, name="@악성 컨소시엄"),
        title=TRICKY_TITLE,
    )
    plain = submitted_application(
        programme=programme, title="한국어 특화 파운데이션 모델", requested_budget=3_500_000_000
    )
    draft = ApplicationFactory(consortium=ConsortiumFactory(programme=programme), empty=True)  # no version
    return programme, tricky, plain, draft


def close(programme) -> None:
    Programme.objects.filter(pk=programme.pk).update(
        opens_at=timezone.now() - timedelta(days=60), closes_at=timezone.now() - timedelta(seconds=1)
    )


def test_sealed_export_lists_states_and_counts_only(call, officer, client_for):
    programme, tricky, plain, draft = call
    client = client_for(officer)
    response = client.get(export_url(programme, "csv"))
    assert response["Content-Disposition"].startswith(f'attachment; filename="applications-{programme.pk}-sealed-')
    rows = read_csv(response)
    assert list(rows[0]) == SEALED_HEADER
    assert [(r["application_id"], r["state"], r["versions"]) for r in rows] == [
        (str(tricky.pk), "제출 완료", "1"),
        (str(plain.pk), "제출 완료", "1"),
        (str(draft.pk), "작성 중", "0"),
    ]
    assert rows[0]["consortium"] == "'@악성 컨소시엄"  # neutralised even while sealed
    body = response.content.decode()
    for secret in ("HYPERLINK", "한국어 특화 파운데이션 모델", "3500000000", plain.versions.get().receipt_number):
        assert secret not in body

    sheets = read_xlsx(client.get(export_url(programme, "xlsx")))
    assert list(sheets["applications"][0]) == SEALED_HEADER
    cells = [v for r in sheets["applications"] for v in r.values()]
    assert not any(isinstance(v, str) and ("HYPERLINK" in v or "특화" in v) for v in cells)
    counts = {r["state"]: r["count"] for r in sheets["counts"]}
    assert (counts["submitted"], counts["draft"], counts["total"]) == (2, 1, 3)


def test_open_export_carries_the_evaluated_versions(call, officer, client_for):
    programme, tricky, plain, draft = call
    close(programme)
    # The draft changed after submission: the export reads the frozen version.
    Application.objects.filter(pk=plain.pk).update(title="제출 뒤 고친 제목", requested_budget=5_000_000_000)
    client = client_for(officer)
    rows = {r["application_id"]: r for r in read_csv(client.get(export_url(programme, "csv")))}
    assert list(next(iter(rows.values()))) == SEALED_HEADER + OPEN_HEADER
    version = plain.versions.get()
    assert {k: rows[str(plain.pk)][k] for k in OPEN_HEADER} == {
        "receipt_number": version.receipt_number,
        "title": "한국어 특화 파운데이션 모델",
        "model_categories": "LLM, LMM",
        "requested_gpus": "512",
        "requested_budget_krw": "3500000000",
        "sha256": version.sha256,
    }
    assert rows[str(tricky.pk)]["title"] == "'" + TRICKY_TITLE
    assert rows[str(draft.pk)]["receipt_number"] == "" and rows[str(draft.pk)]["title"] == ""
    assert rows[str(plain.pk)]["last_submitted_at"] == timezone.localtime(version.submitted_at).strftime(
        "%Y-%m-%d %H:%M:%S KST"
    )

    sheets = read_xlsx(client.get(export_url(programme, "xlsx")))
    by_id = {r["application_id"]: r for r in sheets["applications"]}
    assert by_id[tricky.pk]["title"] == "'" + TRICKY_TITLE and by_id[tricky.pk]["consortium"] == "'@악성 컨소시엄"
    assert by_id[plain.pk]["requested_budget_krw"] == 3_500_000_000  # a number, not text
    # No cell of the workbook is a formula.
    book = load_workbook(io.BytesIO(client.get(export_url(programme, "xlsx")).content))
    assert not [c.coordinate for sheet in book for row in sheet.iter_rows() for c in row if c.data_type == "f"]


def test_only_officers_export_and_bad_input_is_404(call, client_for, officer):
    programme, tricky, _plain, _draft = call
    for user in (tricky.consortium.lead_contact, UserFactory(role="reviewer")):
        assert client_for(user).get(export_url(programme, "csv")).status_code == 404
    client = client_for(officer)
    assert client.get(export_url(programme, "pdf")).status_code == 404
    assert (
        client.get(reverse("consortia:officer_applications_export", args=["csv"]) + "?programme=999999").status_code
        == 404
    )
    page = client.get(reverse("consortia:officer_applications") + f"?programme={programme.pk}").content.decode()
    assert f'href="{export_url(programme, "csv")}"' in page and f'href="{export_url(programme, "xlsx")}"' in page


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_queries_do_not_grow_with_the_rows(officer, client_for, fmt):
    client = client_for(officer)
    counts = []
    for size in (2, 12):
        programme = ProgrammeFactory()
        for _ in range(size):
            submitted_application(programme=programme)
        close(programme)
        client.get(export_url(programme, fmt))
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(export_url(programme, fmt))
        assert response.status_code == 200
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1], counts
