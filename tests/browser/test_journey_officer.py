"""Journey 3, the programme officer: 2FA log-in, automatic reviewer assignment, progress,
finalise and publish the phase, then an allocation run watched to 100% and approved.

With ``REDIS_URL`` set the run executes on a real Celery worker and the page polls its
progress; without it, tasks run in-process and the run has finished when the page opens.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.browser.journey_steps import log_in, reauthenticate, require_page
from tests.factories import ProgrammeFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Officer-Desk-2025!x"
# Points per expert criterion (technology 40, capability 30, impact 30) for the three
# applications: distinct totals (85, 80, 75), all above the pass threshold, so no tie.
POINTS = [("35", "25", "25"), ("33", "24", "23"), ("30", "23", "22")]


def reviewers_score_everything(phase) -> None:
    """What the three reviewers do in their own browsers (journey 2 covers those pages)."""
    from evaluations import services
    from evaluations.models import Assignment

    order = {
        app_id: i for i, app_id in enumerate(sorted(set(phase.assignments.values_list("application_id", flat=True))))
    }
    for assignment in Assignment.objects.filter(phase=phase).select_related("reviewer"):
        services.assignment_declare(assignment=assignment, by=assignment.reviewer, has_conflict=False)
        technology, capability, impact = POINTS[order[assignment.application_id]]
        services.assignment_save_scores(
            assignment=assignment,
            by=assignment.reviewer,
            scores={"technology": technology, "capability": capability, "impact": impact},
            submit=True,
        )


def test_officer_journey(browser_factory, task_worker):
    require_page("evaluations:phase_list")
    require_page("gpu_allocation:run_list")
    from allauth.mfa.totp.internal.auth import TOTP

    from evaluations.models import PhaseReviewer
    from tests.factories_allocation import demo_pool
    from tests.factories_evaluations import reviewers, selection_phase, submitted_application

    programme = ProgrammeFactory(closes_at=timezone.now() - timedelta(days=2))
    officer = UserFactory(role="officer", username="minji")
    officer.set_password(PASSWORD)
    officer.save()
    TOTP.activate(officer, "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
    phase = selection_phase(programme=programme, reviewers_per_application=3)
    for title in ("한빛-1 한국어 LLM", "누리-2 멀티모달", "바다-3 행동 모델"):
        submitted_application(programme=programme, title=title)
    for reviewer in reviewers(3):
        PhaseReviewer.objects.create(phase=phase, reviewer=reviewer)
    demo_pool(programme)

    visitor = browser_factory("ko", name="3-officer")
    page = visitor.page
    log_in(visitor, username="minji", password=PASSWORD, user=officer)
    visitor.check("home")

    # Programme settings.
    page.locator("[data-nav='portal:programme_list']").click()
    page.wait_for_url("**/programmes/")
    visitor.check("programmes")
    page.locator(f"a[href$='/programmes/{programme.pk}/edit/']").click()
    page.wait_for_url(f"**/programmes/{programme.pk}/edit/")
    visitor.check("programme-settings")

    # The phase: assign reviewers automatically.
    page.locator("[data-nav='evaluations:phase_list']").click()
    page.wait_for_url("**/evaluations/phases/")
    visitor.check("phases")
    page.locator(f"a[href$='/phases/{phase.pk}/']").first.click()
    page.wait_for_url(f"**/phases/{phase.pk}/")
    visitor.check("phase")
    page.locator(f"a[href$='/phases/{phase.pk}/assignments/']").click()
    page.wait_for_url("**/assignments/")
    visitor.check("assignments")
    with page.expect_navigation():
        page.locator("form:has(input[name=what][value=auto]) button").click()
    assert page.locator(".alert-success").count() == 1
    assert phase.assignments.count() == 9
    visitor.check("assignments-done")

    # Follow progress: nothing submitted yet, then everything.
    page.locator(f"a[href$='/phases/{phase.pk}/']").first.click()
    page.wait_for_url(f"**/phases/{phase.pk}/")
    progress = page.locator(".col-lg-7 > p.small")  # "submitted of assigned · conflicts"
    assert sorted(map(int, re.findall(r"\d+", progress.inner_text()))) == [0, 0, 9]
    reviewers_score_everything(phase)
    page.reload()
    assert sorted(map(int, re.findall(r"\d+", progress.inner_text()))) == [0, 9, 9]
    visitor.check("progress-complete")

    # Finalise, look at the ranking, publish.
    with page.expect_navigation():
        page.locator("form[action$='/do/finalise/'] button").click()
    visitor.check("confirm-finalise")  # what will happen, what cannot be undone
    with page.expect_navigation():
        page.locator("[data-testid=confirm-button]").click()
    assert page.locator(".alert-danger").count() == 0, page.locator(".alert-danger").inner_text()
    page.locator(f"a[href$='/phases/{phase.pk}/ranking/']").click()
    page.wait_for_url("**/ranking/")
    visitor.check("ranking")
    page.locator(f"a[href$='/phases/{phase.pk}/']").first.click()
    page.wait_for_url(f"**/phases/{phase.pk}/")
    with page.expect_navigation():
        page.locator("form[action$='/do/publish/'] button").click()
    visitor.check("confirm-publish")
    with page.expect_navigation():
        page.locator("[data-testid=confirm-button]").click()
    assert page.locator(".alert-danger").count() == 0, page.locator(".alert-danger").inner_text()
    visitor.check("published")
    visitor.switch_language()
    visitor.check("published")
    visitor.switch_language()

    # The applications list (contents stay sealed to officers) and the GPU pool.
    page.locator("[data-nav='consortia:officer_applications']").click()
    page.wait_for_url("**/officer/applications/**")
    visitor.check("applications")
    page.locator("[data-nav='gpu_allocation:pool']").click()
    page.wait_for_url("**/allocation/pool/**")
    visitor.check("gpu-pool")

    # An allocation run: start it, watch the bar reach 100 %, approve it.
    page.locator("[data-nav='gpu_allocation:run_list']").click()
    page.wait_for_url("**/allocation/runs/**")
    visitor.check("runs")
    with page.expect_navigation():
        page.locator("[data-testid=start-run]").click()
    reauthenticate(visitor, password=PASSWORD, check="reauthenticate")  # approving below needs no second time
    page.wait_for_selector("[data-testid=run-progress][data-status=succeeded]", timeout=60_000)
    bar = page.locator("[data-testid=run-progress] [role=progressbar]")
    assert bar.get_attribute("aria-valuenow") == "100"
    visitor.check("run-finished")
    page.fill("[name=reason]", "1차 선정 결과에 따른 배분")
    with page.expect_navigation():
        page.locator("[data-testid=approve]").click()
    # The results were just published: the appeal window is open, and the page says so.
    assert page.locator("[data-testid=confirm-warning]").count() == 1
    visitor.check("confirm-approve")
    with page.expect_navigation():
        page.locator("[data-testid=confirm-button]").click()
    assert page.locator(".alert-success").count() == 1
    assert page.locator("[data-testid=approve]").count() == 0
    visitor.check("run-approved")
