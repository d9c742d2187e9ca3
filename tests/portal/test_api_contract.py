"""The API contract (docs/api.md), asserted from the client's side: one schema whatever the
language, the schema says what is served, strict writes (unknown and read-only fields,
JSON types, datetimes with an offset), writes that change nothing, one datetime form and
one error shape. Every refused write is checked to have changed nothing."""

from __future__ import annotations

import json
import re
import unicodedata
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from consortia.models import Attachment, Organisation
from portal.models import AuditEntry, Programme
from tests.factories import ProgrammeFactory
from tests.factories_consortia import ApplicationFactory, ConsortiumFactory, pdf_bytes
from tests.factories_evaluations import assign, reviewers, selection_phase, submitted_application

pytestmark = pytest.mark.django_db

#: The one datetime form of the API.
API_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}\+09:00$")
HANGUL = re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]")


def _schema(client, language: str) -> bytes:
    response = client.get("/api/schema/?format=json", HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    return response.content


def _draft(**fields):
    application = ApplicationFactory(**fields)
    return application, application.consortium.lead_contact


def _state(application) -> tuple:
    """What a refused draft write must leave as it was."""
    application.refresh_from_db()
    return (
        application.revision,
        application.saved_at,
        application.title,
        application.requested_gpus,
        application.requested_budget,
        AuditEntry.objects.filter(action="application.save").count(),
    )


def _patch(api, application, body: str):
    """A PATCH with a raw JSON text, so numbers like ``1e3`` reach the server as written."""
    return api.patch(f"/api/v1/applications/{application.pk}/", body, content_type="application/json")


def assert_error(response, status: int, *, code: str | None = None, fields: list[str] | None = None):
    """The one error shape: ``detail`` and ``code`` strings; ``errors`` naming the fields."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"].strip(), body
    assert isinstance(body["code"], str) and body["code"], body
    if code is not None:
        assert body["code"] == code, body
    if fields is not None:
        assert sorted(body["errors"]) == sorted(fields), body
    return body


# ----------------------------------------------------------------------------- one schema


def test_the_schema_is_the_same_in_korean_and_english(client):
    korean, english = _schema(client, "ko"), _schema(client, "en")
    assert korean == english
    schema = json.loads(korean)

    def walk(node, key=""):
        if isinstance(node, dict):
            for k, v in node.items():
                assert not HANGUL.search(k), k
                walk(v, k)
        elif isinstance(node, list):
            for v in node:
                walk(v, key)
        elif isinstance(node, str) and key not in ("description", "example"):
            assert not HANGUL.search(node), (key, node)

    walk(schema)
    assert all(name.isascii() for name in schema["components"]["schemas"])
    # Korean lives in descriptions: each enum value's Korean label next to its English one.
    states = schema["components"]["schemas"]["ApplicationStateEnum"]
    assert states["enum"] == ["draft", "submitted", "withdrawn"]
    assert all(HANGUL.search(line) for line in states["description"].splitlines()), states["description"]


def test_bare_array_lists_are_documented_as_bare_arrays_and_drafts_may_have_no_submission(client):
    schema = json.loads(_schema(client, "en"))
    for name in ("attachments", "checklist", "versions"):
        operation = schema["paths"][f"/api/v1/applications/{{id}}/{name}/"]["get"]
        answer = operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert answer["type"] == "array", (name, answer)
        assert [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"] == [], name
    application = schema["components"]["schemas"]["Application"]["properties"]
    assert application["last_submitted_at"].get("nullable") is True
    assert "id" not in schema["components"]["schemas"]["ApplicationCreateRequest"]["properties"]


def test_every_error_answer_in_the_schema_is_the_error_shape(client):
    schema = json.loads(_schema(client, "en"))
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["detail", "code"] and "errors" in error["properties"]
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            for status, answer in operation["responses"].items():
                if status.startswith("4"):
                    ref = answer["content"]["application/json"]["schema"]["$ref"]
                    assert ref == "#/components/schemas/Error", (method, path, status)


def test_live_answers_match_the_documented_arrays(api_for):
    application, lead = _draft()
    api = api_for(lead)
    for name in ("attachments", "checklist", "versions"):
        response = api.get(f"/api/v1/applications/{application.pk}/{name}/")
        assert response.status_code == 200 and isinstance(response.json(), list), name
    assert api.get(f"/api/v1/applications/{application.pk}/").json()["last_submitted_at"] is None


# ----------------------------------------------------------------------------- bodies: JSON only


def test_a_form_encoded_body_is_refused_with_415_and_changes_nothing(api_for):
    application, lead = _draft()
    before = _state(application)
    response = api_for(lead).patch(
        f"/api/v1/applications/{application.pk}/",
        f"title=x&revision={application.revision}",
        content_type="application/x-www-form-urlencoded",
    )
    assert_error(response, 415, code="unsupported_media_type")
    assert _state(application) == before


def test_an_upload_must_be_multipart(api_for):
    application, lead = _draft()
    count = Attachment.objects.count()
    response = api_for(lead).post(
        f"/api/v1/applications/{application.pk}/attachments/", {"title": "x", "file": "JVBERi0="}, format="json"
    )
    assert_error(response, 415, code="unsupported_media_type")
    assert Attachment.objects.count() == count


# ----------------------------------------------------------------------------- strict writes


def test_a_patch_with_an_unknown_field_is_refused_naming_it_and_changes_nothing(api_for):
    application, lead = _draft()
    before = _state(application)
    response = _patch(api_for(lead), application, json.dumps({"summry": "typo", "revision": application.revision}))
    body = assert_error(response, 400, code="invalid", fields=["summry"])
    assert "summry" in body["detail"]
    assert _state(application) == before


@pytest.mark.parametrize("field", ["id", "state", "sealed", "version_count"])
def test_a_patch_with_a_read_only_field_is_refused_naming_it(api_for, field):
    application, lead = _draft()
    before = _state(application)
    response = _patch(
        api_for(lead), application, json.dumps({field: 1, "title": "새 제목", "revision": application.revision})
    )
    assert_error(response, 400, fields=[field])
    assert _state(application) == before


def test_unknown_and_read_only_fields_are_refused_on_other_writes(api_for, officer, programme):
    application, lead = _draft()
    api = api_for(lead)
    organisations = Organisation.objects.count()
    response = api.post("/api/v1/organisations/", {"id": 9, "name_ko": "가", "name_en": "A", "kind": "university"})
    assert_error(response, 400, fields=["id"])
    assert Organisation.objects.count() == organisations
    response = api.post(f"/api/v1/applications/{application.pk}/withdraw/", {"reson": "typo"})
    assert_error(response, 400, fields=["reson"])
    application.refresh_from_db()
    assert application.withdrawn_at is None
    programmes = Programme.objects.count()
    response = api_for(officer).patch(f"/api/v1/programmes/{programme.pk}/", {"max_team": 3})
    assert_error(response, 400, fields=["max_team"])
    assert Programme.objects.count() == programmes


def test_the_same_text_saved_again_changes_no_revision_and_writes_no_audit_entry(api_for):
    application, lead = _draft()
    api = api_for(lead)
    first = _patch(api, application, json.dumps({"title": "새 제목", "revision": application.revision}))
    assert first.status_code == 200
    revision, saved_at = first.json()["revision"], first.json()["saved_at"]
    audits = AuditEntry.objects.filter(action="application.save").count()
    again = _patch(api, application, json.dumps({"title": "새 제목", "revision": revision}))
    assert again.status_code == 200
    assert (again.json()["revision"], again.json()["saved_at"]) == (revision, saved_at)
    assert AuditEntry.objects.filter(action="application.save").count() == audits
    empty = _patch(api, application, json.dumps({"revision": revision}))
    assert (empty.status_code, empty.json()["revision"]) == (200, revision)
    changed = _patch(api, application, json.dumps({"title": "다른 제목", "revision": revision}))
    assert changed.json()["revision"] == revision + 1
    assert AuditEntry.objects.filter(action="application.save").count() == audits + 1


# ----------------------------------------------------------------------------- strict types


@pytest.mark.parametrize(
    ("field", "raw"),
    [
        ("requested_gpus", "1e3"),
        ("requested_gpus", "1000.0"),
        ("requested_gpus", '"1000"'),
        ("requested_gpus", "true"),
        ("requested_budget", "3e9"),
        ("requested_budget", "4000000000.0"),
        ("requested_budget", '"4000000000"'),
        ("revision", '"1"'),
    ],
)
def test_counts_and_budgets_must_be_json_integers(api_for, field, raw):
    application, lead = _draft()
    before = _state(application)
    body = {"title": "바뀐 제목", "revision": application.revision}
    text = json.dumps(body)[:-1] + f', "{field}": {raw}}}'
    assert_error(_patch(api_for(lead), application, text), 400, fields=[field])
    assert _state(application) == before


def test_json_integers_are_taken(api_for):
    application, lead = _draft()
    text = f'{{"requested_gpus": 256, "requested_budget": 3000000000, "revision": {application.revision}}}'
    response = _patch(api_for(lead), application, text)
    assert response.status_code == 200, response.json()
    application.refresh_from_db()
    assert (application.requested_gpus, application.requested_budget) == (256, 3_000_000_000)


@pytest.mark.parametrize("raw", ['"10"', "8.25", "true", '"8.5"'])
def test_scores_must_be_numbers_with_at_most_one_decimal(api_for, programme, raw):
    phase = selection_phase(programme=programme)
    (me,) = reviewers(1)
    assignment = assign(phase, submitted_application(programme=programme), me)
    response = api_for(me).put(
        f"/api/v1/assignments/{assignment.pk}/scores/",
        f'{{"scores": {{"technology": {raw}}}}}',
        content_type="application/json",
    )
    body = assert_error(response, 400, fields=["scores"])
    assert "technology" in body["detail"]
    assert assignment.scores.count() == 0


def test_scores_as_json_numbers_are_taken(api_for, programme):
    phase = selection_phase(programme=programme)
    (me,) = reviewers(1)
    assignment = assign(phase, submitted_application(programme=programme), me)
    response = api_for(me).put(
        f"/api/v1/assignments/{assignment.pk}/scores/",
        '{"scores": {"technology": 35.5, "capability": 20, "impact": 1e1}}',
        content_type="application/json",
    )
    assert response.status_code == 200, response.json()
    assert {s["criterion"]: s["value"] for s in response.json()["scores"]} == {
        "technology": "35.5", "capability": "20.0", "impact": "10.0",
    }  # fmt: skip


PROGRAMME = {
    "name": "시험 사업", "name_en": "Trial programme", "year": 2027, "receipt_prefix": "TRY",
    "opens_at": "2027-01-05T09:00:00+09:00", "closes_at": "2027-03-31T18:00:00+09:00",
}  # fmt: skip


@pytest.mark.parametrize("naive", ["2027-03-31T18:00:00", "2027-03-31 18:00", "2027-03-31"])
def test_a_datetime_without_an_offset_is_refused_naming_the_field(api_for, officer, naive):
    count = Programme.objects.count()
    response = api_for(officer).post("/api/v1/programmes/", {**PROGRAMME, "closes_at": naive})
    body = assert_error(response, 400, fields=["closes_at"])
    assert "+09:00" in body["errors"]["closes_at"][0]
    assert Programme.objects.count() == count


def test_a_datetime_with_an_offset_is_taken_and_answered_in_kst(api_for, officer):
    response = api_for(officer).post("/api/v1/programmes/", {**PROGRAMME, "closes_at": "2027-03-31T09:00:00Z"})
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["closes_at"] == "2027-03-31T18:00:00.000000+09:00"
    assert body["opens_at"] == "2027-01-05T09:00:00.000000+09:00"


def test_an_uploaded_file_name_is_stored_in_nfc(api_for):
    application, lead = _draft()
    name = unicodedata.normalize("NFD", "한글 계획서.pdf")
    assert name != unicodedata.normalize("NFC", name)
    response = api_for(lead).post(
        f"/api/v1/applications/{application.pk}/attachments/",
        {"file": SimpleUploadedFile(name, pdf_bytes(), content_type="application/pdf"), "title": name},
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    attachment = Attachment.objects.get(pk=response.json()["id"])
    assert attachment.original_name == response.json()["original_name"] == "한글 계획서.pdf"
    assert unicodedata.is_normalized("NFC", attachment.title)


# ----------------------------------------------------------------------------- one datetime form


def test_every_datetime_answered_is_rfc_3339_in_kst(api_for):
    programme = ProgrammeFactory()
    application = ApplicationFactory(consortium=ConsortiumFactory(programme=programme))
    api = api_for(application.consortium.lead_contact)
    saved = _patch(api, application, json.dumps({"title": "시각", "revision": application.revision})).json()
    submitted = api.post(f"/api/v1/applications/{application.pk}/submit/").json()
    versions = api.get(f"/api/v1/applications/{application.pk}/versions/").json()
    invited = api.post(f"/api/v1/consortia/{application.consortium_id}/invite/", {"email": "new@example.com"}).json()
    read = api.get(f"/api/v1/applications/{application.pk}/").json()
    stamps = [saved["saved_at"], submitted["submitted_at"], versions[0]["submitted_at"], invited["expires_at"],
              read["saved_at"], read["last_submitted_at"]]  # fmt: skip
    assert all(API_DATETIME.match(s) for s in stamps), stamps
    assert submitted["submitted_at"] == versions[0]["submitted_at"] == read["last_submitted_at"]
    assert API_DATETIME.match(submitted["received_at"]), submitted
    # Judged by the received time (the database's clock here): long after the deadline, late.
    Programme.objects.filter(pk=programme.pk).update(closes_at=programme.opens_at + timedelta(seconds=1))
    late = api.post(f"/api/v1/applications/{application.pk}/submit/")
    body = assert_error(late, 409, code="deadline_passed")
    assert API_DATETIME.match(body["deadline"]) and API_DATETIME.match(body["server_time"]), body
    assert API_DATETIME.match(body["received_at"]), body


# ----------------------------------------------------------------------------- one error shape


def test_each_4xx_has_the_one_error_shape_in_the_callers_language(api_for, client):
    application, lead = _draft()
    api = api_for(lead)
    assert_error(client.get("/api/v1/applications/"), 403, code="not_authenticated")
    assert_error(api.get("/api/v1/applications/999999/"), 404, code="not_found")
    assert_error(api.put(f"/api/v1/applications/{application.pk}/", {}), 405, code="method_not_allowed")
    ko = assert_error(_patch(api, application, '{"summry": 1}'), 400, code="invalid", fields=["summry"])
    api_en = api_for(lead)
    en = api_en.patch(
        f"/api/v1/applications/{application.pk}/", '{"summry": 1}', content_type="application/json",
        HTTP_ACCEPT_LANGUAGE="en",
    )  # fmt: skip
    en = assert_error(en, 400, code="invalid", fields=["summry"])
    assert en["errors"]["summry"] == ["Unknown field: this request does not accept it."]
    assert ko["errors"]["summry"] != en["errors"]["summry"] and HANGUL.search(ko["errors"]["summry"][0])
    malformed = api.patch(f"/api/v1/applications/{application.pk}/", "{not json", content_type="application/json")
    assert_error(malformed, 400, code="parse_error")
    stale = _patch(api, application, json.dumps({"title": "x", "revision": application.revision + 5}))
    body = assert_error(stale, 409, code="stale_revision")
    assert body["current_revision"] == application.revision


def test_fields_served_as_null_are_nullable_in_the_schema(client, api_for):
    schema = json.loads(_schema(client, "en"))["components"]["schemas"]
    assert schema["Member"]["properties"]["contact"].get("nullable") is True
    assert schema["Consortium"]["properties"]["application"].get("nullable") is True
    assert schema["Application"]["properties"]["requested_gpus"].get("nullable") is True
    application, lead = _draft()
    member = application.consortium.members.exclude(contact=lead).first() or application.consortium.members.first()
    type(member).objects.filter(pk=member.pk).update(contact=None)
    body = api_for(lead).get(f"/api/v1/consortia/{application.consortium_id}/").json()
    assert None in [m["contact"] for m in body["members"]]


def test_a_programme_patch_that_changes_nothing_writes_no_audit_entry(api_for, officer, programme):
    api = api_for(officer)
    audits = AuditEntry.objects.filter(object_type__icontains="programme").count()
    same = api.patch(f"/api/v1/programmes/{programme.pk}/", {"max_teams": programme.max_teams})
    assert same.status_code == 200, same.json()
    assert AuditEntry.objects.filter(object_type__icontains="programme").count() == audits


def test_a_body_sent_to_an_operation_that_takes_none_is_refused_and_nothing_is_done(api_for, officer, programme):
    from evaluations.enums import PhaseStatus

    phase = selection_phase(programme=programme)
    api = api_for(officer)
    body = assert_error(api.post(f"/api/v1/phases/{phase.pk}/finalise/", {"force": True}), 400, fields=["force"])
    assert "force" in body["detail"]
    assert_error(api.post(f"/api/v1/phases/{phase.pk}/publish/", [1]), 400, fields=["non_field_errors"])
    phase.refresh_from_db()
    assert (phase.status, phase.finalised_at, phase.published_at) == (PhaseStatus.SCORING, None, None)


def test_error_answers_django_gives_before_any_view_keep_the_shape_under_api(client, api_for):
    application, lead = _draft()
    assert_error(api_for(lead).get("/api/v1/no-such-resource/"), 404, code="not_found")
    assert_error(client.get("/api/v1/programmes/", HTTP_HOST="not-this-portal.example"), 400, code="bad_request")
    page = client.get("/no-such-page/")
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")
