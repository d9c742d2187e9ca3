"""The public results pages and the import page in Chromium (issue 21): axe-core finds no
serious or critical violation, Korean pages carry no untranslated label, the attainment
charts are images with a name and a description, and the verification form works from the
keyboard. Screenshots are kept under test-artifacts/screenshots/."""

from __future__ import annotations

import pytest

from tests.browser.browser_helpers import SCREENSHOTS
from tests.browser.journey_steps import log_in
from tests.results.builders import HARNESS_FILE, SELECTED_NAMES
from tests.results.test_public_pages import published_world

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_public_results_and_attainment_charts_in_the_browser(browser_factory, programme, officer):
    world = published_world(programme, officer, unpublished_stage=False)
    ko = browser_factory("ko", name="21-public")
    ko.goto("results:public_index")
    ko.check("index")
    ko.page.get_by_role("link", name=programme.name).click()
    ko.page.wait_for_load_state("load")
    ko.check("programme")
    assert ko.page.locator("main h1").inner_text() == programme.name
    teams = ko.page.locator("[data-testid=teams] tbody tr")
    assert teams.count() == 3 and SELECTED_NAMES[0] in teams.first.inner_text()
    ko.goto("results:public_phase", programme.pk, world.selection.pk)
    ko.check("selection")
    ko.goto("results:public_phase", programme.pk, world.published_stage.pk)
    ko.check("stage")
    charts = ko.page.locator("figure[data-testid=attainment-chart] svg[role=img]")
    assert charts.count() == 3
    first = charts.first
    title_id, desc_id = first.get_attribute("aria-labelledby").split()
    assert ko.page.locator(f"#{title_id}").text_content().endswith("기준 모델 대비 벤치마크 달성도")
    assert "목표 95.0 %" in ko.page.locator(f"#{desc_id}").text_content()
    assert first.locator("rect").count() == 2 and first.locator("line[stroke-dasharray='5 4']").count() == 1
    first.screenshot(path=str(SCREENSHOTS / "21-public-attainment-chart-ko.png"))
    # Landmarks: one main, the navigation named, every table with header cells.
    assert ko.page.locator("main").count() == 1 and ko.page.locator("nav[aria-label]").count() >= 2
    assert ko.page.locator("table").count() == ko.page.locator("table:has(th[scope=col])").count()
    # The award-notice verification page is reached by keyboard from the public page.
    ko.goto("results:public_programme", programme.pk)
    ko.tab_to("#verify-code", max_presses=150)
    ko.page.keyboard.type("AB12-CD34")
    with ko.page.expect_navigation():
        ko.page.keyboard.press("Enter")
    assert ko.page.url.endswith("/verify/AB12-CD34/")
    en = browser_factory("en", name="21-public")
    en.goto("results:public_phase", programme.pk, world.published_stage.pk)
    en.check("stage")
    assert "Benchmark attainment against the reference models" in en.page.inner_text("main")
    en.page.locator("figure[data-testid=attainment-chart]").nth(1).screenshot(
        path=str(SCREENSHOTS / "21-public-attainment-chart-en.png")
    )


def test_team_import_and_officer_evidence_pages_in_the_browser(browser_factory, programme, officer):
    from tests.results.builders import World

    world = World(programme, officer)
    world.add_references()
    team = world.teams[0]
    visitor = browser_factory("ko", name="21-import")
    log_in(visitor, username=team.consortium.lead_contact.username, password="Correct-Horse-42!", check=False)
    visitor.goto("results:import", world.stage.pk, team.pk)
    visitor.check("import")
    visitor.page.set_input_files("input[name=file]", str(HARNESS_FILE))
    with visitor.page.expect_navigation():
        visitor.page.locator("[data-testid=import-form] button[type=submit]").click()
    report = visitor.page.locator("[data-testid=import-report]")
    assert "76.8000" in report.inner_text() and "55.8000" in report.inner_text()
    visitor.check("import-report")
    visitor.page.set_input_files(
        "input[name=file]", {"name": "broken.json", "mimeType": "application/json", "buffer": b"{"}
    )
    with visitor.page.expect_navigation():
        visitor.page.locator("[data-testid=import-form] button[type=submit]").click()
    assert "올바른 JSON이 아닙니다" in visitor.page.locator("[data-testid=import-error]").inner_text()
    visitor.check("import-refused")
    staff = browser_factory("ko", name="21-officer")
    log_in(staff, username=officer.username, password="Correct-Horse-42!", user=officer, check=False)
    staff.goto("results:mapping", world.stage.pk)
    staff.check("mapping")
    staff.goto("results:reference_models", world.stage.pk)
    staff.check("reference-models")
