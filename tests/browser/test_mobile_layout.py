"""Phone width (390 px) and Korean line breaking, in Chromium, on the demo programme.

For every role the home page, and the role's working pages (the applicant's application form,
the reviewer's queue, the officer's rankings), are opened at 390 px: the document is no wider
than the screen (no horizontal scroll; a wide table scrolls inside its own box), and no Korean
word is broken across two lines anywhere in the page (``word-break: keep-all``: "순위", never
"순/위"). The ranking keeps its decision column in view at 390 px. The headers of the tables
are checked at desktop width too.
"""

from __future__ import annotations

import io
import re
import threading

import pytest
from django.core.management import call_command

from tests.browser.journey_steps import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
PASSWORDS = {
    "applicant": "Demo-Applicant-2025!",
    "reviewer": "Demo-Reviewer-2025!",
    "officer": "Demo-Officer-2025!",
    "admin": "Demo-Admin-2025!",
}

# Each run of two or more Hangul syllables in a text node of the selected elements whose
# characters lie on more than one line: a word broken inside.
BROKEN_WORDS = """(selector) => {
  const broken = [];
  for (const element of document.querySelectorAll(selector)) {
    if (!element.getClientRects().length) { continue; }
    const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
    let node;
    while ((node = walker.nextNode())) {
      const pattern = /[\\uAC00-\\uD7A3]{2,}/g;
      let match;
      while ((match = pattern.exec(node.textContent))) {
        const range = document.createRange();
        range.setStart(node, match.index);
        range.setEnd(node, match.index + match[0].length);
        const lines = new Set(Array.from(range.getClientRects()).filter(r => r.width > 0).map(r => Math.round(r.bottom)));
        if (lines.size > 1) { broken.push(match[0]); }
      }
    }
  }
  return Array.from(new Set(broken));
}"""

DECISION_IN_VIEW = """() => {
  const cells = Array.from(document.querySelectorAll(".ranking-table tr > :last-child:not([colspan])"));
  return cells.map(cell => { const r = cell.getBoundingClientRect(); return [r.left, r.right]; });
}"""


@pytest.fixture
def demo(transactional_db):
    # In a thread of its own: Playwright's event loop runs in this one, and seeding signs the
    # demo notices with a library that starts an event loop of its own.
    failure = []

    def seed():
        from django.db import connection

        try:
            call_command("seed_demo", stdout=io.StringIO(), stderr=io.StringIO())
        except Exception as exc:  # noqa: BLE001 -- reported in the test's own thread
            failure.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=seed)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    from portal.models import User

    return {u.username: u for u in User.objects.filter(username__in=PASSWORDS)}


def links(page, pattern: str) -> list[str]:
    hrefs = page.eval_on_selector_all("main a[href]", "els => els.map(e => e.getAttribute('href'))")
    return sorted({h for h in hrefs if re.fullmatch(pattern, h)})


def assert_fits_phone(visitor, name: str) -> None:
    page = visitor.page
    page.wait_for_load_state("load")
    visitor.screenshot(f"390-{name}")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{name} ({page.url}) is {width} px wide at 390 px: it scrolls sideways"
    broken = page.evaluate(BROKEN_WORDS, "body")
    assert not broken, f"Korean words broken inside on {name} ({page.url}) at 390 px: {broken}"


def pages_of(visitor, role: str) -> list[tuple[str, str]]:
    """(name, path) of the pages a role works on, found from the pages themselves."""
    page = visitor.page
    found = [(f"{role}-home", "/")]
    if role == "applicant":
        page.goto(visitor.base_url + "/consortia/applications/")
        ids = sorted(
            {re.match(r"/consortia/applications/(\d+)/", h)[1] for h in links(page, r"/consortia/applications/\d+/.*")}
        )
        assert ids, "the demo applicant has no application"
        found += [("applicant-applications", "/consortia/applications/")]
        found += [(f"applicant-form-{i}", f"/consortia/applications/{i}/step/1/") for i in ids]
    elif role == "reviewer":
        found += [("reviewer-queue", "/evaluations/reviews/")]
    elif role == "officer":
        page.goto(visitor.base_url + "/evaluations/phases/")
        ids = sorted(
            {re.match(r"/evaluations/phases/(\d+)/", h)[1] for h in links(page, r"/evaluations/phases/\d+/.*")}
        )
        assert ids, "the demo has no phase"
        found += [("officer-phases", "/evaluations/phases/")]
        found += [(f"officer-ranking-{i}", f"/evaluations/phases/{i}/ranking/") for i in ids]
    return found


@pytest.mark.parametrize("role", ["applicant", "reviewer", "officer", "admin"])
def test_pages_fit_a_phone_and_keep_korean_words_whole(browser_factory, demo, role):
    visitor = browser_factory("ko", name=f"mobile-{role}")
    user = demo[role]
    log_in(visitor, username=role, password=PASSWORDS[role], user=user, check=False)
    targets = pages_of(visitor, role)
    visitor.page.set_viewport_size(PHONE)
    rankings = 0
    for name, path in targets:
        visitor.goto(path)
        assert "/accounts/" not in visitor.page.url, f"{path} sent {role} to {visitor.page.url}"
        assert_fits_phone(visitor, name)
        if "ranking" in name and visitor.page.locator(".ranking-table tbody tr").count():
            rankings += 1
            # The decision column is on the screen, not beyond its right edge.
            for left, right in visitor.page.evaluate(DECISION_IN_VIEW):
                assert 0 <= left and right <= PHONE["width"] + 0.5, (path, left, right)
            # Table headers at desktop width too ("순위", "미달성" on one line each).
            visitor.page.set_viewport_size(DESKTOP)
            broken = visitor.page.evaluate(BROKEN_WORDS, "th")
            assert not broken, f"Korean words broken in the headers of {path} at 1280 px: {broken}"
            word_break = visitor.page.evaluate(
                "getComputedStyle(document.querySelector('.ranking-table th')).wordBreak"
            )
            assert word_break == "keep-all"
            visitor.screenshot(f"1280-{name}")
            visitor.page.set_viewport_size(PHONE)
    if role == "officer":
        assert rankings, "no ranking with rows was checked"
    # The header's menu opens and closes at phone width (portal.js, without Bootstrap's script).
    visitor.goto("/")
    menu, button = visitor.page.locator("#main-nav"), visitor.page.locator(".navbar-toggler")
    assert not menu.is_visible()
    button.click()
    assert menu.is_visible() and button.get_attribute("aria-expanded") == "true"
    assert visitor.page.locator("#main-nav [data-nav]").first.is_visible()
    button.click()
    assert not menu.is_visible() and button.get_attribute("aria-expanded") == "false"


def test_the_checker_sees_a_broken_word(browser_factory, demo):
    """The broken-word check itself: a header squeezed with the browser's default breaking fails it."""
    visitor = browser_factory("ko", name="mobile-checker")
    visitor.goto("account_login")
    visitor.page.set_content(
        '<html lang="ko"><body><table><tr><th style="width: 1px; word-break: normal">순위</th>'
        '<th style="width: 1px">미달성</th></tr></table></body></html>'
    )
    assert visitor.page.evaluate(BROKEN_WORDS, "th") == ["순위", "미달성"]


def test_favicon_answers(client, transactional_db):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] in {"image/x-icon", "image/vnd.microsoft.icon"}
    home = client.get("/accounts/login/").content.decode()
    assert 'rel="icon"' in home and "/favicon.ico" in home
