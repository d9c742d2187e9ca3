"""Award-notice PDFs: content read back from the real PDF, the embedded Korean font,
escaping of names, issuing (idempotent) and superseding."""

from __future__ import annotations

import hashlib
import io
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pypdf import PdfReader

from awards.services import notice_issue_for_run, notice_number, verification_code_new
from gpu_allocation.models import AwardNotice
from portal.errors import DomainError
from portal.models import AuditEntry
from tests.factories_notices import approve, approved_run, rerun_same_teams


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def pdf_fonts(data: bytes) -> set[str]:
    names = set()
    for page in PdfReader(io.BytesIO(data)).pages:
        for font in page["/Resources"].get("/Font", {}).values():
            names.add(str(font.get_object()["/BaseFont"]))
    return names


def stored_pdf(notice: AwardNotice) -> bytes:
    with notice.pdf.open("rb") as handle:
        return handle.read()


def test_notice_number_and_verification_code_have_their_shapes():
    assert notice_number(prefix="IAFM", year=2025, sequence=1) == "IAFM-2025-AN-0001"
    codes = {verification_code_new() for _ in range(200)}
    assert len(codes) == 200
    assert all(re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){4}", c) for c in codes)


@pytest.mark.django_db
def test_issued_notice_pdf_shows_team_number_budget_and_embeds_pretendard():
    setup = approved_run(teams=2)

    notices = notice_issue_for_run(run=setup.run, by=setup.officer)

    assert [n.allocation_id for n in notices] == [a.pk for a in setup.allocations]
    first = notices[0]
    data = stored_pdf(first)
    text = pdf_text(data)
    assert first.number == f"IAFM-{setup.programme.year}-AN-0001"
    assert notices[1].number == f"IAFM-{setup.programme.year}-AN-0002"
    for expected in (
        "한빛 파운데이션 컨소시엄",  # Korean consortium name
        first.number,
        "3,000,000,000원",
        "30억 원",
        "과학기술정보통신부",
        "Ministry of Science and ICT",
        "광주 AI 데이터센터 A",
        "H100",
        "B200",
        "1차 선정평가",
        first.verification_code,
    ):
        assert expected in text, expected
    assert hashlib.sha256(data).hexdigest() == first.sha256
    assert first.size == len(data)
    assert len(PdfReader(io.BytesIO(data)).pages) == 1
    fonts = pdf_fonts(data)
    assert any(name.endswith("Pretendard") or "Pretendard-" in name for name in fonts), fonts
    assert all("Pretendard" in name for name in fonts), fonts  # no fallback system font was needed
    assert AuditEntry.objects.filter(action="award_notice.issue").count() == 2


@pytest.mark.django_db
def test_second_team_budget_is_written_both_ways():
    setup = approved_run(teams=2)
    notices = notice_issue_for_run(run=setup.run, by=setup.officer)
    text = pdf_text(stored_pdf(notices[1]))
    assert "3,500,000,000원" in text
    assert "35억 원" in text
    assert "누리 AI 연합" in text


@pytest.mark.django_db
def test_issuing_twice_returns_the_same_notices_and_writes_nothing():
    setup = approved_run(teams=2)
    first = notice_issue_for_run(run=setup.run, by=setup.officer)
    audit_count = AuditEntry.objects.count()

    again = notice_issue_for_run(run=setup.run, by=setup.officer)

    assert [(n.pk, n.sha256) for n in again] == [(n.pk, n.sha256) for n in first]
    assert AwardNotice.objects.count() == 2
    assert AuditEntry.objects.count() == audit_count


@pytest.mark.django_db
def test_unapproved_run_gets_no_notices():
    setup = approved_run(teams=1, approved=False)
    with pytest.raises(DomainError) as refused:
        notice_issue_for_run(run=setup.run, by=setup.officer)
    assert refused.value.code == "run_not_in_force"
    assert AwardNotice.objects.count() == 0


@pytest.mark.django_db
def test_reissue_after_new_approval_supersedes_old_notices():
    setup = approved_run(teams=2)
    old = notice_issue_for_run(run=setup.run, by=setup.officer)
    new_run = rerun_same_teams(setup, budget_delta=500_000_000)
    approve(new_run, setup.officer)

    with pytest.raises(DomainError):
        notice_issue_for_run(run=setup.run, by=setup.officer)  # the old run is no longer in force
    new = notice_issue_for_run(run=new_run, by=setup.officer)

    old = [AwardNotice.objects.get(pk=n.pk) for n in old]
    assert [o.superseded_by_id for o in old] == [n.pk for n in new]
    assert all(o.superseded_at is not None for o in old)
    assert [n.superseded_at for n in new] == [None, None]
    assert "35억 원" in pdf_text(stored_pdf(new[0]))
    assert new[0].number.endswith("-0003")


@pytest.mark.django_db
def test_team_dropped_from_new_run_has_its_notice_lapse():
    setup = approved_run(teams=2)
    old = notice_issue_for_run(run=setup.run, by=setup.officer)
    new_run = rerun_same_teams(setup)
    new_run.allocations.filter(rank=2).delete()
    approve(new_run, setup.officer)

    notice_issue_for_run(run=new_run, by=setup.officer)

    dropped = AwardNotice.objects.get(pk=old[1].pk)
    assert dropped.superseded_at is not None
    assert dropped.superseded_by is None


class _Recorder(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 -- the http.server API
        self.server.hits.append(self.path)
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args):
        return


@pytest.mark.django_db
def test_injected_names_print_as_text_and_fetch_nothing():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.hits = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        evil_consortium = "<img src=file:///etc/passwd>악성 컨소시엄"
        evil_lead = f"<link rel=stylesheet href=http://127.0.0.1:{server.server_port}/x.css>악성기관"
        setup = approved_run(teams=1, names=[evil_consortium])
        lead = setup.allocations[0].consortium.lead_organisation
        lead.name_ko = evil_lead
        lead.save()

        notice = notice_issue_for_run(run=setup.run, by=setup.officer)[0]
        text = pdf_text(stored_pdf(notice))
    finally:
        server.shutdown()
        server.server_close()

    flat = text.replace("\n", "")
    assert "<img src=file:///etc/passwd>악성 컨소시엄" in flat
    assert f"<link rel=stylesheet href=http://127.0.0.1:{server.server_port}/x.css>악성기관" in flat
    assert server.hits == []


@pytest.mark.django_db
def test_issue_task_issues_the_runs_notices():
    from awards.tasks import notice_issue_for_run_task

    setup = approved_run(teams=1)
    result = notice_issue_for_run_task.apply(kwargs={"run_id": setup.run.pk, "by_id": setup.officer.pk})
    notice = AwardNotice.objects.get()
    assert result.get() == [notice.number]
    assert notice.issued_by == setup.officer
