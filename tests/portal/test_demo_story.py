"""The demo tells one coherent story (issue 19): a closed call whose proposals were submitted
before its deadline, a final selection, a stage being scored, an approved allocation; and an
open call in which the demo applicant forms a consortium and submits. A closed call's
applications are read-only, on the page and through the API."""

import re
from datetime import datetime

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from consortia.models import Application, ApplicationVersion, Consortium, Organisation
from evaluations.enums import Decision, PhaseKind, PhaseStatus
from evaluations.models import Phase, PhaseResult
from gpu_allocation.models import AllocationRun
from portal.models import Programme, User

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo():
    from portal.demo import seed

    return seed()


def test_closed_call_story_holds_together(demo):
    now = timezone.now()
    closed = Programme.objects.get(pk=demo["programme_id"])
    assert closed.closes_at < now  # the call has closed …
    versions = ApplicationVersion.objects.filter(application__programme=closed)
    assert versions.count() == 7
    assert all(v.submitted_at <= closed.closes_at for v in versions)  # … and was submitted before it
    assert all(datetime.fromisoformat(v.content["submitted_at"]) == v.submitted_at for v in versions)

    selection, stage = Phase.objects.filter(programme=closed).order_by("order")
    assert (selection.kind, selection.status) == (PhaseKind.SELECTION, PhaseStatus.FINAL)
    assert closed.closes_at < selection.scoring_opens_at < selection.scoring_closes_at < selection.published_at < now
    assert selection.published_at + timezone.timedelta(days=selection.appeal_window_days) < now  # appeals closed
    assert PhaseResult.objects.filter(phase=selection, decision=Decision.SELECTED).count() == 5
    assert (stage.kind, stage.status) == (PhaseKind.STAGE, PhaseStatus.SCORING)
    assert stage.scoring_opens_at < now < stage.scoring_closes_at

    run = AllocationRun.objects.get(pk=demo["allocation_run_id"])
    assert run.approved_at is not None and run.programme_id == closed.pk

    opened = Programme.objects.get(pk=demo["open_programme_id"])
    assert opened.opens_at < now < opened.closes_at
    assert not Consortium.objects.filter(programme=opened).exists()  # the applicant forms one

    # the demo's texts resolve their particles
    summaries = " ".join(Application.objects.values_list("summary", flat=True))
    assert "와(과)" not in summaries and "이(가)" not in summaries
    assert "한빛인공지능과 한국과학기술대학교가 함께" in summaries


def test_selected_team_of_the_closed_call_cannot_resubmit(demo, client_for, api_for):
    applicant = User.objects.get(username="applicant")
    application = Application.objects.get(programme_id=demo["programme_id"], consortium__lead_contact=applicant)
    assert PhaseResult.objects.filter(application=application, decision=Decision.SELECTED).exists()
    versions = application.versions.count()
    client = client_for(applicant)

    page = client.get(reverse("consortia:application_review", args=[application.pk]), HTTP_ACCEPT_LANGUAGE="ko")
    assert page.status_code == 200
    html = page.content.decode()
    assert "읽기 전용" in html or "마감" in html

    refused = client.post(
        reverse("consortia:application_submit", args=[application.pk]), follow=True, HTTP_ACCEPT_LANGUAGE="ko"
    )
    assert "마감" in refused.content.decode()

    api = api_for(applicant).post(f"/api/v1/applications/{application.pk}/submit/", HTTP_ACCEPT_LANGUAGE="en")
    assert api.status_code == 409
    assert "deadline" in str(api.json()).lower()
    assert application.versions.count() == versions


def test_demo_applicant_forms_a_consortium_and_submits_in_the_open_call(
    demo, client_for, api_for, django_capture_on_commit_callbacks
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from portal.pdf import render_pdf

    applicant = User.objects.get(username="applicant")
    university_contact = User.objects.get(username="applicant-uni")
    opened = Programme.objects.get(pk=demo["open_programme_id"])
    lead_org = Organisation.objects.get(affiliations__user=applicant)
    university = Organisation.objects.get(affiliations__user=university_contact)
    client = client_for(applicant)

    # the open call is offered on the consortia page; the closed one is not
    page = client.get(reverse("consortia:my_consortia")).content.decode()
    assert f'value="{opened.pk}"' in page and f'value="{demo["programme_id"]}"' not in page
    created = client.post(
        reverse("consortia:consortium_create"),
        {"programme": opened.pk, "name": "한빛 추가 공모 컨소시엄", "lead_organisation": lead_org.pk},
    )
    assert created.status_code == 302
    consortium = Consortium.objects.get(programme=opened)
    with django_capture_on_commit_callbacks(execute=True):
        invited = client.post(
            reverse("consortia:invitation_create", args=[consortium.pk]),
            {"email": university_contact.email, "role": "member"},
        )
    assert invited.status_code == 302
    link = re.search(r"/consortia/invitations/[^/\s]+/", mail.outbox[-1].body).group(0)
    assert client_for(university_contact).post(link, {"organisation": university.pk}).status_code == 302
    member = consortium.members.get(organisation=university)
    # the university's contact confirms the participation
    confirmed = client_for(university_contact).post(f"/consortia/{consortium.pk}/members/{member.pk}/confirm/")
    assert confirmed.status_code == 302

    application = Application.objects.get(consortium=consortium)
    api = api_for(applicant)
    draft = api.get(f"/api/v1/applications/{application.pk}/").json()
    fields = {
        "title": "한빛 LLM 2단계", "summary": "자체 가중치로 학습하는 한국어 모델.", "model_categories": ["LLM"],
        "technical_approach": "MoE", "data_strategy": "정제 말뭉치", "compute_plan": "H100 512장",
        "requested_gpus": 512, "requested_budget": 4_000_000_000, "team_plan": "공동 연구",
        "open_source_plan": "가중치 공개", "milestones": [{"phase": "1차 단계평가", "goal": "90%"}],
    }  # fmt: skip
    saved = api.patch(
        f"/api/v1/applications/{application.pk}/", {**fields, "revision": draft["revision"]}, format="json"
    )
    assert saved.status_code == 200, saved.json()
    pdf = render_pdf(template_name="pdf/demo_proposal.html", context={"application": application})
    uploaded = api.post(
        f"/api/v1/applications/{application.pk}/attachments/",
        {"file": SimpleUploadedFile("proposal.pdf", pdf, content_type="application/pdf"), "title": "제안서"},
        format="multipart",
    )
    assert uploaded.status_code == 201, uploaded.json()

    submitted = api.post(f"/api/v1/applications/{application.pk}/submit/")

    assert submitted.status_code == 200, submitted.json()
    assert submitted.json()["version"] == 1 and submitted.json()["receipt_number"]
