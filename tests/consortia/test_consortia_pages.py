"""Pages and API: drafts with revisions, conflicts, rules in one place, sealing, query budgets."""

from datetime import timedelta

import pytest
from django.utils import timezone

from consortia.models import Application, Organisation
from consortia.validators import business_number_check_digit, make_business_number, normalise_business_number
from portal.models import AuditEntry, Programme
from tests.factories import ProgrammeFactory, UserFactory
from tests.factories_consortia import ApplicationFactory, ConsortiumFactory, submitted_application


@pytest.mark.parametrize(
    ("text", "expected"),
    [("124-81-00998", "1248100998"), ("1248100998", "1248100998"), (" 220-81-12345 ", None), ("22081-1234", None)],
)
def test_business_number_check_digit(text, expected):
    from django.core.exceptions import ValidationError

    if expected is None:
        with pytest.raises(ValidationError):
            normalise_business_number(text)
    else:
        assert normalise_business_number(text) == expected


def test_every_wrong_check_digit_is_refused():
    from django.core.exceptions import ValidationError

    good = make_business_number("123456789")
    assert business_number_check_digit("123456789") == int(good[-1])
    for digit in "0123456789":
        if digit == good[-1]:
            continue
        with pytest.raises(ValidationError) as error:
            normalise_business_number(good[:-1] + digit)
        assert error.value.code == "business_number_check_digit"


def test_api_organisation_with_wrong_check_digit_is_refused_naming_the_field(api_for, applicant):
    response = api_for(applicant).post(
        "/api/v1/organisations/",
        {"name_ko": "테스트", "name_en": "Test", "kind": "startup", "business_number": "124-81-00997"},
        format="json",
    )
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["business_number"]
    assert Organisation.objects.count() == 0


def test_page_organisation_with_wrong_check_digit_shows_the_field_error(client_for, applicant):
    response = client_for(applicant).post(
        "/consortia/organisations/new/",
        {"name_ko": "테스트", "name_en": "Test", "kind": "sme", "business_number": "1248100997", "is_domestic": "on"},
    )
    assert response.status_code == 400
    assert "business_number" in response.context["organisation_form"].errors
    assert Organisation.objects.count() == 0


def test_applicant_creates_organisation_and_consortium_through_pages(client_for, applicant, programme):
    client = client_for(applicant)
    number = make_business_number("555812345")
    assert client.post(
        "/consortia/organisations/new/", {"name_ko": "가람AI", "name_en": "Garam AI", "kind": "startup", "business_number": number, "is_domestic": "on"}
    ).status_code == 302  # fmt: skip
    org = Organisation.objects.get(business_number=number)
    response = client.post(
        "/consortia/new/", {"programme": programme.pk, "name": "가람 컨소시엄", "lead_organisation": org.pk}
    )
    assert response.status_code == 302
    application = Application.objects.get(consortium__lead_organisation=org)
    assert client.get(f"/consortia/applications/{application.pk}/step/1/").status_code == 200
    assert client.get("/consortia/").status_code == 200


def test_stale_save_gets_a_conflict_with_both_texts_via_api(api_for, db):
    application = ApplicationFactory()
    lead = application.consortium.lead_contact
    partner = application.consortium.members.exclude(role="lead").get().contact
    revision = application.revision
    first = api_for(lead).patch(
        f"/api/v1/applications/{application.pk}/", {"summary": "리드의 요약", "revision": revision}, format="json"
    )
    assert first.status_code == 200
    assert first.json()["revision"] == revision + 1
    second = api_for(partner).patch(
        f"/api/v1/applications/{application.pk}/",
        {"summary": "파트너의 요약"},
        format="json",
        HTTP_IF_MATCH=str(revision),
    )
    assert second.status_code == 409
    body = second.json()
    assert (body["code"], body["yours"]["summary"], body["theirs"]["summary"]) == (
        "stale_revision",
        "파트너의 요약",
        "리드의 요약",
    )
    assert Application.objects.get(pk=application.pk).summary == "리드의 요약"


def test_patch_without_revision_is_refused(api_for, db):
    application = ApplicationFactory()
    response = api_for(application.consortium.lead_contact).patch(
        f"/api/v1/applications/{application.pk}/", {"title": "x"}, format="json"
    )
    assert response.status_code == 400
    assert "revision" in response.json()["errors"]


def test_stale_save_on_the_page_keeps_both_texts_visible(client_for, db):
    application = ApplicationFactory()
    lead = application.consortium.lead_contact
    partner = application.consortium.members.exclude(role="lead").get().contact
    url = f"/consortia/applications/{application.pk}/step/2/"
    old = application.revision
    assert (
        client_for(lead)
        .post(url, {"revision": old, "technical_approach": "리드 방법", "data_strategy": "D"})
        .status_code
        == 302
    )
    response = client_for(partner).post(
        url, {"revision": old, "technical_approach": "파트너 방법", "data_strategy": "D"}
    )
    assert response.status_code == 409
    html = response.content.decode()
    assert "리드 방법" in html and "파트너 방법" in html
    assert response.context["form"]["revision"].value() == str(old + 1)
    assert Application.objects.get(pk=application.pk).technical_approach == "리드 방법"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"requested_gpus": 100}, "requested_gpus"),
        ({"requested_gpus": 1008}, "requested_gpus"),
        ({"requested_budget": 2_999_999_999}, "requested_budget"),
    ],
)
def test_rules_refuse_bad_values_on_page_and_api_alike(client_for, api_for, db, data, field):
    application = ApplicationFactory()
    lead = application.consortium.lead_contact
    before = Application.objects.filter(pk=application.pk).values().get()
    api = api_for(lead).patch(
        f"/api/v1/applications/{application.pk}/", {**data, "revision": application.revision}, format="json"
    )
    assert api.status_code == 400
    assert list(api.json()["errors"]) == [field]
    page = client_for(lead).post(
        f"/consortia/applications/{application.pk}/step/3/",
        {"revision": application.revision, "compute_plan": "x", **data},
    )
    assert page.status_code == 400
    assert field in page.context["form"].errors
    assert api.json()["errors"][field] == page.context["form"].errors[field]
    assert Application.objects.filter(pk=application.pk).values().get() == before


def test_draft_saves_incomplete_and_shows_server_saved_time(client_for, db):
    application = ApplicationFactory(empty=True)
    client = client_for(application.consortium.lead_contact)
    response = client.post(
        f"/consortia/applications/{application.pk}/step/1/", {"revision": application.revision, "title": "제목만"}
    )
    assert response.status_code == 302
    saved = Application.objects.get(pk=application.pk)
    page = client.get(f"/consortia/applications/{application.pk}/step/1/")
    assert timezone.localtime(saved.saved_at).strftime("%Y-%m-%d %H:%M:%S") in page.content.decode()
    review = client.get(f"/consortia/applications/{application.pk}/review/")
    failing = {item.key for item in review.context["checklist"] if not item.ok}
    assert {"summary", "model_categories", "requested_gpus", "requested_budget", "milestones"} <= failing
    assert "title" not in failing


def test_after_deadline_pages_are_read_only(client_for, db):
    application = ApplicationFactory(consortium__programme=ProgrammeFactory(closed=True))
    client = client_for(application.consortium.lead_contact)
    page = client.get(f"/consortia/applications/{application.pk}/step/1/")
    assert page.context["read_only"] is True
    assert all(f.disabled for f in page.context["form"].fields.values())
    response = client.post(
        f"/consortia/applications/{application.pk}/step/1/", {"revision": application.revision, "title": "늦음"}
    )
    assert response.status_code == 409
    assert Application.objects.get(pk=application.pk).title != "늦음"


def test_page_submit_shows_the_receipt(client_for, db):
    application = ApplicationFactory()
    client = client_for(application.consortium.lead_contact)
    response = client.post(f"/consortia/applications/{application.pk}/submit/", follow=True)
    version = application.versions.get()
    assert response.redirect_chain[-1][0] == f"/consortia/applications/{application.pk}/versions/1/"
    assert version.receipt_number in response.content.decode()
    assert version.sha256 in response.content.decode()


def test_officer_sees_states_and_counts_but_not_contents_before_deadline(client_for, api_for, officer, programme):
    submitted = submitted_application(programme=programme, title="비밀 제목")
    ApplicationFactory(consortium__programme=programme, title="초안 비밀")
    client = client_for(officer)
    listing = client.get(f"/consortia/officer/applications/?programme={programme.pk}")
    assert listing.context["counts"] == {"submitted": 1, "draft": 1}
    assert "비밀 제목" not in listing.content.decode()
    detail = client.get(f"/consortia/officer/applications/{submitted.pk}/")
    assert detail.context["sealed"] is True
    assert "비밀 제목" not in detail.content.decode()
    api = api_for(officer).get(f"/api/v1/applications/{submitted.pk}/").json()
    assert api["sealed"] is True and "title" not in api and api["state"] == "submitted"
    assert api_for(officer).get(f"/api/v1/applications/{submitted.pk}/versions/").status_code == 404
    assert client.get(f"/consortia/applications/{submitted.pk}/step/1/").status_code == 404
    # After the deadline the contents open to officers.
    Programme.objects.filter(pk=programme.pk).update(closes_at=timezone.now() - timedelta(seconds=1))
    detail = client.get(f"/consortia/officer/applications/{submitted.pk}/")
    assert detail.context["sealed"] is False and "비밀 제목" in detail.content.decode()
    assert api_for(officer).get(f"/api/v1/applications/{submitted.pk}/").json()["title"] == "비밀 제목"


def test_administrator_may_look_with_a_reason_and_it_is_audited(client_for, officer, admin_user, programme):
    submitted = submitted_application(programme=programme, title="비밀 제목")
    url = f"/consortia/officer/applications/{submitted.pk}/"
    assert client_for(officer).post(url, {"reason": "궁금"}).status_code == 404
    assert client_for(admin_user).post(url, {"reason": ""}).status_code == 400
    response = client_for(admin_user).post(url, {"reason": "이의 신청 조사"})
    assert response.status_code == 200 and "비밀 제목" in response.content.decode()
    entry = AuditEntry.objects.get(action="application.unsealed_view")
    assert (entry.actor, entry.reason, entry.object_id) == (admin_user, "이의 신청 조사", str(submitted.pk))


def _make_rows(n, programme, lead):
    first = ConsortiumFactory(programme=programme, lead_contact=lead)
    ApplicationFactory(consortium=first)
    for _ in range(n - 1):
        submitted_application(programme=programme)


@pytest.mark.parametrize("n", [3, 30])
def test_list_pages_and_api_cost_constant_queries(client_for, api_for, officer, django_assert_max_num_queries, n):
    programme = ProgrammeFactory()
    lead = UserFactory(role="applicant")
    _make_rows(n, programme, lead)
    officer_client, officer_api = client_for(officer), api_for(officer)
    lead_client, lead_api = client_for(lead), api_for(lead)
    with django_assert_max_num_queries(12):
        assert officer_client.get(f"/consortia/officer/applications/?programme={programme.pk}").status_code == 200
    with django_assert_max_num_queries(8):
        assert len(officer_api.get("/api/v1/applications/").json()["results"]) == n
    with django_assert_max_num_queries(10):
        assert len(officer_api.get("/api/v1/consortia/").json()["results"]) == n
    with django_assert_max_num_queries(8):
        assert officer_api.get("/api/v1/organisations/").status_code == 200
    with django_assert_max_num_queries(10):
        assert lead_client.get("/consortia/applications/").status_code == 200
    with django_assert_max_num_queries(12):
        assert lead_client.get("/consortia/").status_code == 200
    with django_assert_max_num_queries(8):
        assert lead_api.get("/api/v1/applications/").status_code == 200


def test_api_filters_applications_by_state(api_for, officer, programme):
    submitted = submitted_application(programme=programme)
    ApplicationFactory(consortium__programme=programme)
    rows = api_for(officer).get(f"/api/v1/applications/?programme={programme.pk}&state=submitted").json()["results"]
    assert [row["id"] for row in rows] == [submitted.pk]


def test_api_counts_for_officers_only(api_for, officer, applicant, programme):
    submitted_application(programme=programme)
    ApplicationFactory(consortium__programme=programme)
    body = api_for(officer).get(f"/api/v1/applications/counts/?programme={programme.pk}").json()
    assert body == {"programme": programme.pk, "total": 2, "counts": {"draft": 1, "submitted": 1}}
    assert api_for(applicant).get(f"/api/v1/applications/counts/?programme={programme.pk}").status_code == 404


def test_version_freezes_every_field_of_the_proposal(db):
    from consortia.rules_application import CONTENT_FIELDS

    application = submitted_application()
    content = application.versions.get().content
    assert set(content["fields"]) == set(CONTENT_FIELDS)
    assert {"receipt_number", "submitted_at", "consortium", "attachments", "requested_gpus", "requested_budget"} <= set(
        content
    )
    assert [m["kind"] for m in content["consortium"]["members"]] == ["startup", "university"]
