"""Each object type is invisible (404) to another consortium, through pages and API alike."""

import pytest

from consortia.models import Invitation
from consortia.services import invitation_create
from tests.factories import UserFactory
from tests.factories_consortia import ApplicationFactory, OrganisationFactory, pdf_bytes, submitted_application


@pytest.fixture
def mine_and_theirs(db):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from consortia.services import attachment_add

    mine = submitted_application()
    theirs = submitted_application()
    lead = theirs.consortium.lead_contact
    attachment = attachment_add(application=theirs, by=lead, uploaded=SimpleUploadedFile("p.pdf", pdf_bytes()))
    return mine, theirs, attachment


def test_api_objects_of_another_consortium_are_404(api_for, mine_and_theirs):
    mine, theirs, _attachment = mine_and_theirs
    client = api_for(mine.consortium.lead_contact)
    urls = [
        f"/api/v1/organisations/{theirs.consortium.lead_organisation_id}/",
        f"/api/v1/consortia/{theirs.consortium_id}/",
        f"/api/v1/applications/{theirs.pk}/",
        f"/api/v1/applications/{theirs.pk}/versions/",
        f"/api/v1/applications/{theirs.pk}/attachments/",
        f"/api/v1/applications/{theirs.pk}/checklist/",
    ]
    assert [client.get(url).status_code for url in urls] == [404] * len(urls)
    posts = [
        f"/api/v1/applications/{theirs.pk}/submit/",
        f"/api/v1/applications/{theirs.pk}/withdraw/",
        f"/api/v1/consortia/{theirs.consortium_id}/invite/",
        f"/api/v1/consortia/{theirs.consortium_id}/confirm/",
    ]
    assert [client.post(url, {"email": "x@example.kr"}, format="json").status_code for url in posts] == [404] * len(
        posts
    )
    assert (
        client.patch(
            f"/api/v1/applications/{theirs.pk}/", {"title": "x", "revision": theirs.revision}, format="json"
        ).status_code
        == 404
    )
    assert client.post("/api/v1/applications/", {"consortium": theirs.consortium_id}, format="json").status_code == 404


def test_api_lists_show_only_own_objects(api_for, mine_and_theirs):
    mine, theirs, _ = mine_and_theirs
    client = api_for(mine.consortium.lead_contact)
    assert [a["id"] for a in client.get("/api/v1/applications/").json()["results"]] == [mine.pk]
    assert [c["id"] for c in client.get("/api/v1/consortia/").json()["results"]] == [mine.consortium_id]
    orgs = {o["id"] for o in client.get("/api/v1/organisations/").json()["results"]}
    assert orgs == set(mine.consortium.members.values_list("organisation_id", flat=True))


def test_pages_of_another_consortium_are_404(client_for, mine_and_theirs):
    mine, theirs, attachment = mine_and_theirs
    client = client_for(mine.consortium.lead_contact)
    pk = theirs.pk
    member = theirs.consortium.members.exclude(role="lead").get()
    urls = [
        f"/consortia/{theirs.consortium_id}/",
        *[f"/consortia/applications/{pk}/step/{n}/" for n in (1, 2, 3, 4)],
        f"/consortia/applications/{pk}/attachments/",
        f"/consortia/applications/{pk}/attachments/{attachment.pk}/download/",
        f"/consortia/applications/{pk}/review/",
        f"/consortia/applications/{pk}/versions/",
        f"/consortia/applications/{pk}/versions/1/",
        f"/consortia/officer/applications/{pk}/",
    ]
    assert [client.get(url).status_code for url in urls] == [404] * len(urls)
    posts = [
        f"/consortia/applications/{pk}/step/1/",
        f"/consortia/applications/{pk}/submit/",
        f"/consortia/applications/{pk}/withdraw/",
        f"/consortia/applications/{pk}/attachments/{attachment.pk}/remove/",
        f"/consortia/{theirs.consortium_id}/invite/",
        f"/consortia/{theirs.consortium_id}/members/{member.pk}/remove/",
        f"/consortia/{theirs.consortium_id}/members/{member.pk}/confirm/",
    ]
    assert [client.post(url, {"revision": 1, "title": "x"}).status_code for url in posts] == [404] * len(posts)


def test_reviewer_sees_none_of_it(api_for, client_for, mine_and_theirs):
    mine, _, _ = mine_and_theirs
    reviewer = UserFactory(role="reviewer")
    assert api_for(reviewer).get(f"/api/v1/applications/{mine.pk}/").status_code == 404
    assert api_for(reviewer).get("/api/v1/applications/").json()["results"] == []
    assert client_for(reviewer).get(f"/consortia/applications/{mine.pk}/step/1/").status_code == 404
    assert client_for(reviewer).get("/consortia/officer/applications/").status_code == 404


def test_invitation_link_works_once_and_joins_the_organisation(client_for, db):
    from django.utils import timezone

    application = ApplicationFactory()
    lead = application.consortium.lead_contact
    invitation = invitation_create(
        consortium=application.consortium, by=lead, email="new@lab.example.kr", base_url="http://testserver/"
    )
    joiner = UserFactory(role="applicant")
    org = OrganisationFactory(kind="research_institute")
    org.affiliations.create(user=joiner)
    client = client_for(joiner)
    url = f"/consortia/invitations/{invitation.token}/"
    assert client.get(url).status_code == 200
    response = client.post(url, {"organisation": org.pk})
    assert response.status_code == 302
    member = application.consortium.members.get(organisation=org)
    assert (member.contact, member.confirmed_at) == (joiner, None)
    assert Invitation.objects.get(pk=invitation.pk).state == "accepted"
    assert client.post(url, {"organisation": org.pk}).status_code == 409
    # An expired link is refused.
    late = invitation_create(
        consortium=application.consortium, by=lead, email="late@lab.example.kr", base_url="http://testserver/"
    )
    Invitation.objects.filter(pk=late.pk).update(expires_at=timezone.now())
    other_org = OrganisationFactory(kind="research_institute")
    other_org.affiliations.create(user=joiner)
    assert client.post(f"/consortia/invitations/{late.token}/", {"organisation": other_org.pk}).status_code == 409


def test_organisation_cannot_join_two_consortia_of_one_programme(client_for, programme):
    first = ApplicationFactory(consortium__programme=programme)
    second = ApplicationFactory(consortium__programme=programme)
    taken = first.consortium.members.exclude(role="lead").get()
    invitation = invitation_create(
        consortium=second.consortium, by=second.consortium.lead_contact, email="u@example.kr", base_url="http://t/"
    )
    response = client_for(taken.contact).post(
        f"/consortia/invitations/{invitation.token}/", {"organisation": taken.organisation_id}
    )
    assert response.status_code == 409
    assert not second.consortium.members.filter(organisation=taken.organisation).exists()


def test_invitation_email_carries_the_expiring_link(client_for, db, django_capture_on_commit_callbacks):
    from django.core import mail

    application = ApplicationFactory()
    client = client_for(application.consortium.lead_contact)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/consortia/{application.consortium_id}/invite/", {"email": "Partner@Lab.example.kr", "role": "supplier"}
        )
    assert response.status_code == 302
    invitation = Invitation.objects.get()
    assert (invitation.email, invitation.role, invitation.state) == ("partner@lab.example.kr", "supplier", "pending")
    assert mail.outbox[0].to == ["partner@lab.example.kr"]
    assert f"http://testserver/consortia/invitations/{invitation.token}/" in mail.outbox[0].body
    assert 6 <= (invitation.expires_at - invitation.created_at).days <= 7


def test_only_the_lead_contact_manages_membership(client_for, db):
    application = ApplicationFactory()
    member = application.consortium.members.exclude(role="lead").get()
    url = f"/consortia/{application.consortium_id}/members/{member.pk}/"
    assert client_for(member.contact).post(url + "role/", {"role": "demand"}).status_code == 404
    assert (
        client_for(member.contact)
        .post(f"/consortia/{application.consortium_id}/invite/", {"email": "a@b.kr", "role": "member"})
        .status_code
        == 404
    )
    lead = client_for(application.consortium.lead_contact)
    assert lead.post(url + "role/", {"role": "demand"}).status_code == 302
    member.refresh_from_db()
    assert (member.role, member.confirmed_at) == ("demand", None)
    assert client_for(member.contact).post(url + "confirm/").status_code == 302
    member.refresh_from_db()
    assert member.confirmed_at is not None
    assert lead.post(url + "remove/").status_code == 302
    assert not application.consortium.members.filter(pk=member.pk).exists()


def test_api_membership_is_managed_by_the_lead_contact_only(api_for, db):
    application = ApplicationFactory()
    consortium = application.consortium
    member = consortium.members.exclude(role="lead").get()
    url = f"/api/v1/consortia/{consortium.pk}/members/{member.pk}/"
    assert api_for(member.contact).patch(url, {"role": "demand"}, format="json").status_code == 404
    response = api_for(consortium.lead_contact).patch(url, {"role": "demand"}, format="json")
    assert response.status_code == 200
    assert (response.json()["role"], response.json()["confirmed_at"]) == ("demand", None)
    lead_member = consortium.members.get(role="lead")
    assert (
        api_for(consortium.lead_contact)
        .delete(f"/api/v1/consortia/{consortium.pk}/members/{lead_member.pk}/")
        .status_code
        == 409
    )
    assert api_for(consortium.lead_contact).delete(url).status_code == 204
    assert not consortium.members.filter(pk=member.pk).exists()


def test_api_attachment_removal_keeps_the_file_for_versions(api_for, db):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from consortia.models import Attachment
    from consortia.services import attachment_add

    application = ApplicationFactory(proposal_document=False)
    lead = application.consortium.lead_contact
    attachment = attachment_add(application=application, by=lead, uploaded=SimpleUploadedFile("p.pdf", pdf_bytes()))
    url = f"/api/v1/applications/{application.pk}/attachments/{attachment.pk}/"
    other = ApplicationFactory().consortium.lead_contact
    assert api_for(other).delete(url).status_code == 404
    assert api_for(lead).delete(url).status_code == 204
    attachment = Attachment.objects.get(pk=attachment.pk)
    assert attachment.removed_at is not None and attachment.file.storage.exists(attachment.file.name)
    assert api_for(lead).get(f"/api/v1/applications/{application.pk}/attachments/").json() == []


def test_api_invitation_cannot_make_a_second_lead(api_for, db):
    application = ApplicationFactory()
    client = api_for(application.consortium.lead_contact)
    response = client.post(
        f"/api/v1/consortia/{application.consortium_id}/invite/",
        {"email": "x@lab.example.kr", "role": "lead"},
        format="json",
    )
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["role"]
    assert not Invitation.objects.exists()
    ok = client.post(
        f"/api/v1/consortia/{application.consortium_id}/invite/", {"email": "x@lab.example.kr"}, format="json"
    )
    assert ok.status_code == 201
    assert Invitation.objects.get().role == "member"


def test_api_schema_has_no_warnings_for_consortia():
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "manage.py", "spectacular", "--file", "/dev/null", "--fail-on-warn"],
        capture_output=True, text=True, timeout=120, cwd=__import__("pathlib").Path(__file__).resolve().parents[2],
        env={**__import__("os").environ, "DJANGO_SETTINGS_MODULE": "portal.settings.test"},
    )  # fmt: skip
    assert "consortia" not in result.stderr and "role" not in result.stderr, result.stderr
