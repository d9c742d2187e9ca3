"""The text a person sees on a page: what a browser renders, without tags, scripts, styles or attributes."""

from __future__ import annotations

import re
from html.parser import HTMLParser

# A code that should never reach a person: snake_case words (``auth_login``, ``assignment_score``) and
# namespaced route or action names (``evaluations:assignment_score``, ``auth.login``).
SNAKE_CASE = re.compile(r"\b[a-z][a-z0-9]*_[a-z0-9_]+\b")
ROUTE_NAME = re.compile(r"\b[a-z_]+:[a-z_]+\b")
DOTTED_ACTION = re.compile(r"\b(?:auth|access|phase|assignment|application|allocation_run|award_notice)\.[a-z_]+\b")


class _Text(HTMLParser):
    SKIP = {"script", "style", "head", "template", "noscript"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.depth = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self.depth += 1

    def handle_endtag(self, tag):
        if tag in self.SKIP and self.depth:
            self.depth -= 1

    def handle_data(self, data):
        if not self.depth:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return re.sub(r"\s+", " ", " ".join(parser.parts)).strip()


def codes_in(text: str) -> list[str]:
    """Every code-looking token of ``text`` (empty for a page fit for people)."""
    return SNAKE_CASE.findall(text) + ROUTE_NAME.findall(text) + DOTTED_ACTION.findall(text)
