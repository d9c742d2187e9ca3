"""Journey 2, the reviewer: log in, declare conflicts, score with the rubric in view, submit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.browser.journey_steps import require_page
from tests.factories import ProgrammeFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Review-Panel-2025!x"


def test_reviewer_journey(browser_factory):
    require_page("evaluations:reviewer_queue")
    from evaluations.enums import AssignmentStatus
    from evaluations.models import Assignment
    from tests.factories_evaluations import assign, selection_phase, submitted_application

    programme = ProgrammeFactory(closes_at=timezone.now() - timedelta(days=1))
    reviewer = UserFactory(role="reviewer", username="seojun")
    reviewer.set_password(PASSWORD)
    reviewer.save()
    phase = selection_phase(programme=programme)
    clean = submitted_application(programme=programme, title="한빛-1 한국어 파운데이션 모델")
    conflicted = submitted_application(programme=programme, title="누리-2 멀티모달 모델")
    to_score = assign(phase, clean, reviewer, declared=False)
    to_decline = assign(phase, conflicted, reviewer, declared=False)

    visitor = browser_factory("ko", name="2-reviewer")
    page = visitor.page

    # Log in with the keyboard alone: Tab to each field, type, Enter on the button.
    visitor.goto("account_login")
    visitor.check("login")
    with page.expect_navigation():
        visitor.keyboard_fill(
            [("input[name=login]", "seojun"), ("input[name=password]", PASSWORD)],
            submit="main form button[type=submit]",
        )
    assert "/accounts/login" not in page.url
    visitor.check("home")

    # The queue lists both assignments, each waiting for a declaration.
    page.locator("[data-nav='evaluations:reviewer_queue']").click()
    page.wait_for_url("**/evaluations/reviews/")
    visitor.check("queue")
    declare_links = page.locator("a[href*='/declare/']")
    assert declare_links.count() == 2

    # A conflict on one application: it leaves the queue.
    page.locator(f"a[href$='/reviews/{to_decline.pk}/declare/']").click()
    page.wait_for_url(f"**/reviews/{to_decline.pk}/declare/")
    visitor.check("declaration")
    page.check("input[name=has_conflict][value='1']")
    page.fill("textarea[name=reason]", "2023년까지 해당 컨소시엄 주관기관 자문위원으로 활동했습니다.")
    with page.expect_navigation():
        page.locator("main form [type=submit]").click()
    page.wait_for_url("**/evaluations/reviews/")
    assert page.locator(f"a[href*='/reviews/{to_decline.pk}/']").count() == 0
    visitor.check("queue-after-conflict")
    assert Assignment.objects.get(pk=to_decline.pk).status == AssignmentStatus.CONFLICTED

    # No conflict on the other, declared with the keyboard alone (link, radio button, submit):
    # the application and the scoring form open, the rubric beside each criterion.
    with page.expect_navigation():
        visitor.tab_to(f"a[href$='/reviews/{to_score.pk}/declare/']")
        page.keyboard.press("Enter")
    visitor.tab_to("input[name=has_conflict][value='0']")
    page.keyboard.press("Space")
    assert page.locator("input[name=has_conflict][value='0']").is_checked()
    with page.expect_navigation():
        visitor.tab_to("main form [type=submit]")
        page.keyboard.press("Enter")
    page.wait_for_url(f"**/reviews/{to_score.pk}/")
    for criterion in phase.criteria.all():
        assert page.locator(f"#rubric-{criterion.key}").inner_text().strip() == criterion.rubric
    visitor.check("scoring")
    page.fill("#score-technology", "34.5")
    page.fill("#comment-technology", "자체 토크나이저 설계가 구체적입니다.")
    page.fill("#score-capability", "25")
    with page.expect_navigation():
        page.locator("button[name=save]").click()
    assert page.locator("#score-technology").input_value() == "34.5"  # the draft kept the scores
    visitor.check("scoring-draft-saved")
    page.fill("#score-impact", "26")
    page.fill("#overall-comment", "공공 개방 계획이 우수합니다.")
    with page.expect_navigation():
        page.locator("button[name=submit]").click()
    visitor.check("confirm-submit")  # the scores, their total, and that they cannot be changed afterwards
    with page.expect_navigation():
        page.locator("[data-testid=confirm-button]").click()
    page.wait_for_url("**/evaluations/reviews/")
    visitor.check("queue-after-submit")
    visitor.switch_language()
    visitor.check("queue-after-submit")
    assert Assignment.objects.get(pk=to_score.pk).status == AssignmentStatus.SUBMITTED
