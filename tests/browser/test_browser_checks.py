"""The page checks themselves catch what they are meant to catch (a guard against a silent checker)."""

from __future__ import annotations

import pytest

from tests.browser.browser_helpers import english_labels, untranslated_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BROKEN_PAGE = """<!DOCTYPE html><html lang="ko"><head><title>시험</title></head><body><main>
<h1>신청서</h1><img src="/static/missing.png"><form><input name="title"><button></button></form>
<p>Programme settings</p></main></body></html>"""


def test_axe_and_translation_checks_report_problems(browser_factory):
    visitor = browser_factory("ko", name="0-checks")
    visitor.goto("account_login")  # a page of the portal, so axe loads from our static files
    visitor.page.set_content(BROKEN_PAGE)
    blocking = {v["id"] for v in visitor.axe("broken")}
    assert {"image-alt", "button-name", "label"} <= blocking
    assert "Programme settings" in untranslated_in(visitor.page.inner_text("body"))
    with pytest.raises(AssertionError, match="image-alt"):
        visitor.check("broken", screenshot=False)


def test_catalogue_labels_skip_short_words_and_placeholders():
    labels = english_labels()
    assert "Programme settings" in labels
    assert "Save" not in labels and "KRW" not in labels  # one word: not a label
    assert not any("%(" in label for label in labels)
