"""A confirmation step before what cannot be undone (issue 19): a reviewer's submit, the
officer's finalise, publish and approve. The first post shows a page naming what will happen
and what cannot be undone and changes nothing irreversible; posting that page's own form
(hidden fields included, no JavaScript) acts. Approving or issuing notices while an appeal
window is open carries a warning."""

from __future__ import annotations

import html as html_lib
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from evaluations.enums import AppealStatus, AssignmentStatus, PhaseStatus
from evaluations.models import Appeal
from gpu_allocation.models import AllocationRun
from tests.factories import ProgrammeFactory
from tests.factories_evaluations import assign, reviewers, selection_phase, submit_scores, submitted_application
from tests.factories_notices import approved_run

pytestmark = pytest.mark.django_db


def confirm_form(response) -> tuple[str, dict]:
    """The confirmation page's form: its action and every field it posts (hidden inputs and the button)."""
    page = response.content.decode()
    form = re.search(r'<form method="post" action="([^"]+)"[^>]*data-testid="confirm-form">(.*?)</form>', page, re.S)
    assert form, "no confirmation form on the page"
    fields: dict[str, list[str]] = {}
    for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form.group(2)):
        if name != "csrfmiddlewaretoken":
            fields.setdefault(html_lib.unescape(name), []).append(html_lib.unescape(value))
    button = re.search(r'<button [^>]*name="([^"]+)"', form.group(2))
    if button:
        fields.setdefault(button.group(1), []).append("")
    return html_lib.unescape(form.group(1)), fields


def page_text(response) -> str:
    page = response.content.decode()
    main = page[page.index("<main") : page.index("</main>")]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", main))


def scored_phase(programme, *, teams=2):
    phase = selection_phase(programme=programme, name_en="Selection evaluation")
    pool = reviewers(2)
    for quality in range(teams):
        application = submitted_application(programme=programme)
        for reviewer in pool:
            submit_scores(
                assign(phase, application, reviewer), {"technology": 30 + quality, "capability": 25, "impact": 20}
            )
    return phase


def test_a_reviewer_confirms_before_the_sheet_is_submitted(programme, client_for):
    phase = selection_phase(programme=programme)
    (me,) = reviewers(1)
    assignment = assign(phase, submitted_application(programme=programme), me)
    client = client_for(me)
    url = reverse("evaluations:assignment_score", args=[assignment.pk])
    scores = {"score_technology": "35.5", "score_capability": "20", "score_impact": "20.1", "comment": "총평"}

    asked = client.post(url, {**scores, "submit": "1"}, HTTP_ACCEPT_LANGUAGE="en")
    assert asked.status_code == 200
    text = page_text(asked)
    assert "Submit this review?" in text and "What will happen" in text
    assert "This cannot be undone: After submitting you can no longer change your scores." in text
    assert "35.5 / 40.0" in text and "Total 75.6 / 100.0" in text
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.ACTIVE  # nothing submitted yet: the scores are a saved draft
    assert sorted(str(s.value) for s in assignment.scores.all()) == ["20.0", "20.1", "35.5"]
    korean = page_text(client.post(url, {**scores, "submit": "1"}, HTTP_ACCEPT_LANGUAGE="ko"))
    assert "되돌릴 수 없습니다" in korean

    action, fields = confirm_form(asked)
    assert action == url and fields["confirm"] == ["yes"] and fields["comment"] == ["총평"]
    done = client.post(action, fields)
    assert done.status_code == 302 and done["Location"] == reverse("evaluations:reviewer_queue")
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.SUBMITTED and assignment.comment == "총평"


def test_finalise_and_publish_are_confirmed_on_a_page_first(programme, client_for, officer):
    phase = scored_phase(programme)
    client = client_for(officer)
    finalise = reverse("evaluations:phase_action", args=[phase.pk, "finalise"])

    asked = client.post(finalise, HTTP_ACCEPT_LANGUAGE="en")
    assert asked.status_code == 200
    text = page_text(asked)
    assert "Finalise this phase?" in text
    assert "The scores and the ranking of the 2 applications are frozen" in text
    assert "A finalised phase is not re-opened" in text
    phase.refresh_from_db()
    assert phase.status == PhaseStatus.SCORING

    action, fields = confirm_form(asked)
    assert client.post(action, fields).status_code == 302
    phase.refresh_from_db()
    assert phase.status == PhaseStatus.FINALISED

    publish = reverse("evaluations:phase_action", args=[phase.pk, "publish"])
    asked = client.post(publish, {"next": reverse("portal:home")}, HTTP_ACCEPT_LANGUAGE="en")
    text = page_text(asked)
    assert "Publish the results?" in text and f"The appeal window of {phase.appeal_window_days} days opens now" in text
    assert "Published results cannot be withdrawn" in text
    phase.refresh_from_db()
    assert phase.status == PhaseStatus.FINALISED
    action, fields = confirm_form(asked)
    assert fields["next"] == [reverse("portal:home")]
    done = client.post(action, fields)
    assert done.status_code == 302 and done["Location"] == reverse("portal:home")
    phase.refresh_from_db()
    assert phase.status == PhaseStatus.PUBLISHED


def test_approving_during_an_open_appeal_window_warns_and_asks_to_confirm(client_for, officer):
    setup = approved_run(teams=2, approved=False, officer=officer)
    phase = setup.phase
    phase.status, phase.published_at = PhaseStatus.PUBLISHED, timezone.now() - timedelta(days=1)
    phase.save(update_fields=["status", "published_at"])
    Appeal.objects.create(
        phase=phase, application=setup.allocations[0].application, grounds="administrative", text="합산 오류",
        filed_by=setup.allocations[0].consortium.lead_contact, status=AppealStatus.OPEN,
    )  # fmt: skip
    client = client_for(officer)
    url = reverse("gpu_allocation:run_approve", args=[setup.run.pk])

    asked = client.post(url, {"reason": "1차 선정 결과 반영"}, HTTP_ACCEPT_LANGUAGE="en")
    assert asked.status_code == 200
    text = page_text(asked)
    assert "Approve this allocation?" in text
    assert f"Run #{setup.run.pk} becomes the approved allocation" in text and "2 teams" in text
    assert "Warning: The appeal window of phase “Selection evaluation” is open until" in text
    assert "(1 appeals open)" in text
    assert "An approval is not withdrawn" in text
    assert AllocationRun.objects.get(pk=setup.run.pk).approved_at is None

    action, fields = confirm_form(asked)
    assert fields["reason"] == ["1차 선정 결과 반영"]
    assert client.post(action, fields).status_code == 302
    assert AllocationRun.objects.get(pk=setup.run.pk).approved_at is not None


def test_approving_outside_an_appeal_window_is_confirmed_without_a_warning(client_for, officer):
    setup = approved_run(teams=2, approved=False, officer=officer)
    asked = client_for(officer).post(
        reverse("gpu_allocation:run_approve", args=[setup.run.pk]), HTTP_ACCEPT_LANGUAGE="ko"
    )
    assert asked.status_code == 200
    assert 'data-testid="confirm-warning"' not in asked.content.decode()
    assert "되돌릴 수 없습니다" in page_text(asked)


def test_issuing_notices_during_an_open_appeal_window_asks_to_confirm(client_for, officer):
    setup = approved_run(teams=2, officer=officer)
    phase = setup.phase
    phase.status, phase.published_at = PhaseStatus.PUBLISHED, timezone.now()
    phase.save(update_fields=["status", "published_at"])
    asked = client_for(officer).post(
        reverse("gpu_allocation:notice_issue", args=[setup.run.pk]), HTTP_ACCEPT_LANGUAGE="en"
    )
    assert asked.status_code == 200
    text = page_text(asked)
    assert "Issue the award notices?" in text and "The appeal window of phase" in text
    assert not setup.run.allocations.filter(notice__isnull=False).exists()


def test_the_api_keeps_its_semantics_a_call_is_the_confirmation(api_for, officer):
    phase = scored_phase(ProgrammeFactory())
    response = api_for(officer).post(f"/api/v1/phases/{phase.pk}/finalise/", format="json")
    assert response.status_code == 200
    phase.refresh_from_db()
    assert phase.status == PhaseStatus.FINALISED


def test_the_run_page_warns_of_an_open_appeal_window_before_approve_is_pressed(client_for, officer):
    from gpu_allocation.services import allocation_run_execute, allocation_run_start
    from tests.factories_allocation import allocation_setup

    setup = allocation_setup()
    run = allocation_run_start(programme=setup.programme, by=officer, enqueue=False)
    run = allocation_run_execute(run_id=run.pk, sleep=lambda s: None)
    client = client_for(officer)
    url = reverse("gpu_allocation:run_detail", args=[run.pk])
    assert 'data-testid="approve-warning"' not in client.get(url).content.decode()
    phase = setup.phase
    phase.status, phase.published_at = PhaseStatus.PUBLISHED, timezone.now()
    phase.save(update_fields=["status", "published_at"])
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert 'data-testid="approve-warning"' in page and "이의신청 기간이" in page
