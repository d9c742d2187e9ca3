"""Submission: the deadline rule, receipts, idempotency, immutability and the checklist."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from consortia.enums import ApplicationState
from consortia.models import Application, ApplicationVersion
from consortia.services import application_save, application_submit, content_digest, draft_texts
from portal.errors import DomainError
from portal.models import AuditEntry, Programme
from tests.factories import ProgrammeFactory
from tests.factories_consortia import ApplicationFactory, ConsortiumFactory, submitted_application


def _submit_url(application):
    return f"/api/v1/applications/{application.pk}/submit/"


PROXY_SECRET = "front-proxy-stamp-secret"


def _stamped(at) -> dict:
    """The headers the front proxy writes: its received-time stamp and the shared secret."""
    return {"HTTP_X_REQUEST_START": f"t={at.timestamp():.6f}", "HTTP_X_REQUEST_START_SECRET": PROXY_SECRET}


def test_submit_received_exactly_at_closes_at_is_accepted(api_for, db, settings):
    settings.RECEIVED_STAMP_SECRET = PROXY_SECRET
    programme = ProgrammeFactory(closes_at=timezone.now() - timedelta(minutes=3))  # handled 3 minutes later
    application = ApplicationFactory(consortium=ConsortiumFactory(programme=programme))
    response = api_for(application.consortium.lead_contact).post(
        _submit_url(application), **_stamped(programme.closes_at)
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["receipt_number"] == f"IAFM-{programme.year}-0001"
    assert body["version"] == 1
    assert body["sha256"] == ApplicationVersion.objects.get().sha256
    assert body["received_clock"] == "proxy"
    assert ApplicationVersion.objects.get().submitted_at == programme.closes_at


def test_submit_received_one_microsecond_late_is_refused_and_changes_nothing(api_for, db, settings):
    settings.RECEIVED_STAMP_SECRET = PROXY_SECRET
    programme = ProgrammeFactory(closes_at=timezone.now() + timedelta(minutes=3))  # handled 3 minutes early
    application = ApplicationFactory(consortium=ConsortiumFactory(programme=programme))
    stamp = _stamped(programme.closes_at + timedelta(microseconds=1))
    response = api_for(application.consortium.lead_contact).post(_submit_url(application), **stamp)
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "deadline_passed"
    deadline_kst = programme.closes_at.astimezone(timezone.get_default_timezone()).strftime("%Y-%m-%d %H:%M:%S KST")
    assert deadline_kst in body["detail"]
    assert ApplicationVersion.objects.count() == 0
    assert Programme.objects.get(pk=programme.pk).receipt_sequence == 0
    assert Application.objects.get(pk=application.pk).state == ApplicationState.DRAFT


def test_failed_submit_leaves_the_draft_byte_for_byte_unchanged(api_for, db):
    application = ApplicationFactory(summary="", requested_gpus=100)  # incomplete and against the rules
    before = Application.objects.filter(pk=application.pk).values().get()
    response = api_for(application.consortium.lead_contact).post(_submit_url(application))
    assert response.status_code == 409
    keys = {item["key"] for item in response.json()["checklist"]}
    assert keys == {"summary", "requested_gpus"}
    assert Application.objects.filter(pk=application.pk).values().get() == before
    assert ApplicationVersion.objects.count() == 0
    assert not AuditEntry.objects.filter(action="application.submit").exists()


def test_late_submit_leaves_the_draft_unchanged(api_for, db):
    application = ApplicationFactory(consortium=ConsortiumFactory(programme=ProgrammeFactory(closed=True)))
    before = Application.objects.filter(pk=application.pk).values().get()
    response = api_for(application.consortium.lead_contact).post(_submit_url(application))
    assert response.status_code == 409
    assert Application.objects.filter(pk=application.pk).values().get() == before


def test_version_digest_never_changes_when_the_draft_is_edited(db):
    application = submitted_application()
    version = application.versions.get()
    frozen = (version.sha256, dict(version.content))
    application_save(
        application=application, by=application.consortium.lead_contact, data={"title": "바뀐 제목", "requested_gpus": 8},
        revision=application.revision,
    )  # fmt: skip
    version = ApplicationVersion.objects.get(pk=version.pk)
    assert (version.sha256, version.content) == frozen
    assert content_digest(version.content) == version.sha256
    assert version.content["fields"]["title"] != "바뀐 제목"
    with pytest.raises(PermissionError):
        version.save()


def test_submit_records_receipt_mail_and_audit(db):
    application = ApplicationFactory()
    lead = application.consortium.lead_contact
    with __import__("django.test", fromlist=["TestCase"]).TestCase.captureOnCommitCallbacks(execute=True):
        result = application_submit(application=application, by=lead)
    version = result.version
    assert version.content["fields"] == draft_texts(Application.objects.get(pk=application.pk))
    assert [m.to for m in mail.outbox] == [[lead.email]]
    assert version.receipt_number in mail.outbox[0].subject
    assert AuditEntry.objects.filter(action="application.submit", object_id=str(application.pk)).count() == 1


def test_resubmit_makes_a_new_version_and_next_receipt(db):
    application = submitted_application()
    lead = application.consortium.lead_contact
    second = application_submit(application=application, by=lead).version
    assert [v.number for v in application.versions.order_by("number")] == [1, 2]
    assert second.receipt_number.endswith("-0002")


def test_withdraw_then_resubmit_before_deadline(api_for, db):
    application = submitted_application()
    client = api_for(application.consortium.lead_contact)
    response = client.post(f"/api/v1/applications/{application.pk}/withdraw/", {"reason": "재정비"}, format="json")
    assert response.status_code == 200
    assert response.json()["state"] == "withdrawn"
    assert client.post(_submit_url(application)).status_code == 200
    assert Application.objects.get(pk=application.pk).state == ApplicationState.SUBMITTED


def test_withdraw_after_deadline_is_refused(api_for, db):
    application = submitted_application()
    Programme.objects.filter(pk=application.programme_id).update(
        closes_at=timezone.now() - timedelta(seconds=1), opens_at=timezone.now() - timedelta(days=60)
    )
    response = api_for(application.consortium.lead_contact).post(f"/api/v1/applications/{application.pk}/withdraw/")
    assert response.status_code == 409
    assert Application.objects.get(pk=application.pk).state == ApplicationState.SUBMITTED


def test_submit_refused_until_every_member_confirmed(api_for, db):
    application = ApplicationFactory()
    university = application.consortium.members.exclude(role="lead").get()
    university.confirmed_at = None
    university.save()
    lead_client = api_for(application.consortium.lead_contact)
    response = lead_client.post(_submit_url(application))
    assert response.status_code == 409
    assert [i["key"] for i in response.json()["checklist"]] == ["members_confirmed"]
    confirm = api_for(university.contact).post(f"/api/v1/consortia/{application.consortium_id}/confirm/")
    assert confirm.status_code == 200
    assert lead_client.post(_submit_url(application)).status_code == 200


def test_member_changed_after_confirming_must_confirm_again(db):
    from consortia.services import member_update

    application = ApplicationFactory()
    university = application.consortium.members.exclude(role="lead").get()
    member_update(member=university, by=application.consortium.lead_contact, role="demand")
    university.refresh_from_db()
    assert university.confirmed_at is None
    with pytest.raises(DomainError) as error:
        application_submit(application=application, by=application.consortium.lead_contact)
    assert error.value.code == "incomplete"


def test_only_the_lead_contact_may_submit(api_for, db):
    application = ApplicationFactory()
    university = application.consortium.members.exclude(role="lead").get()
    response = api_for(university.contact).post(_submit_url(application))
    assert response.status_code == 404
    assert ApplicationVersion.objects.count() == 0


def test_repeated_key_returns_the_same_version(api_for, db):
    application = ApplicationFactory()
    client = api_for(application.consortium.lead_contact)
    first = client.post(_submit_url(application), HTTP_IDEMPOTENCY_KEY="k-1").json()
    again = client.post(_submit_url(application), HTTP_IDEMPOTENCY_KEY="k-1").json()
    assert {**first, "replayed": True} == again
    assert ApplicationVersion.objects.count() == 1
