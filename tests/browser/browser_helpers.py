"""What every journey does on every page: axe-core, the translation check, a screenshot.

A :class:`Visitor` wraps one Playwright page in its own browser context. ``visitor.check(name)``
is called on each page a journey reaches; it fails the test with a readable message when

* axe-core reports a *serious* or *critical* violation (WCAG 2.1 A/AA rules and best practices);
* the page is shown in Korean and contains, verbatim, an English string of the project's own
  catalogue (``locale/ko/LC_MESSAGES/django.po``) that is long enough to be a label rather
  than a code or a unit (two words or more and eight letters or more);
* the page raised a JavaScript error or the browser reported a Content-Security-Policy violation.

It then saves a full-page screenshot under ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import ast
import os
import re
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from django.urls import reverse

from tests.visible_text import codes_in

ROOT = Path(__file__).resolve().parents[2]
FILE_NAME = re.compile(r"[\w.-]+\.(?:json|md|csv|pdf|zip|xlsx|txt)\b")
PO_FILE = ROOT / "locale" / "ko" / "LC_MESSAGES" / "django.po"
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
AXE_URL = "/static/vendor/axe/axe.min.js"
BLOCKING_IMPACTS = ("serious", "critical")

# English strings of the catalogue that may legitimately appear on a Korean page: proper
# nouns and brand names that are written in Latin letters in Korean too.
TRANSLATION_EXEMPT = {
    "IAFM Portal",
    "IAFM Portal API",
    "Swagger UI",
}

_PLACEHOLDER = re.compile(r"%(?:\(\w+\))?[-+ #0]*\d*(?:\.\d+)?[sdfirxXeEgGc%]|\{[\w.]*\}|<[^>]+>")
_LETTER = re.compile(r"[A-Za-z]")

# Run axe-core and keep what a report needs (the full result is large).
_AXE_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
    nodes: v.nodes.map(n => ({target: n.target.join(" "), html: n.html.slice(0, 160), summary: n.failureSummary}))
  }));
}"""


# Whether the focused element shows where the focus is (WCAG 2.4.7): an outline or a focus ring.
_FOCUS_STYLE = """() => {
  const style = getComputedStyle(document.activeElement);
  return {
    outline: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0,
    shadow: style.boxShadow !== "none",
  };
}"""


def _parse_po(path: Path) -> list[tuple[str, str]]:
    """(msgid, msgstr) pairs of a .po file (singular forms; plural msgids counted as msgids)."""
    pairs: list[tuple[str, str]] = []
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        key, parts = None, {}
        for line in block.splitlines():
            if line.startswith("#") or not line.strip():
                continue
            if line.startswith('"'):
                if key:
                    parts[key].append(ast.literal_eval(line))
                continue
            key, _, rest = line.partition(" ")
            parts[key] = [ast.literal_eval(rest)]
        msgid = "".join(parts.get("msgid", []))
        if not msgid:
            continue
        msgstr = "".join(parts.get("msgstr", parts.get("msgstr[0]", [])))
        pairs.append((msgid, msgstr))
        if "msgid_plural" in parts:
            pairs.append(("".join(parts["msgid_plural"]), "".join(parts.get("msgstr[1]", parts.get("msgstr[0]", [])))))
    return pairs


def _is_label(text: str) -> bool:
    return len(text.split()) >= 2 and len(_LETTER.findall(text)) >= 8


_SOURCE_STRING = re.compile(
    r"""\{%\s*trans(?:late)?\s+(?:"([^"]+)"|'([^']+)')"""  # {% translate "..." %}
    r"""|\b(?:_|gettext|gettext_lazy|pgettext_lazy\(\s*"[^"]*",)\(\s*(?:"([^"]+)"|'([^']+)')\s*[,)]"""  # _("...")
)
SOURCE_GLOBS = [
    "templates/**/*.html",
    "portal/**/*.py",
    "consortia/**/*.py",
    "evaluations/**/*.py",
    "gpu_allocation/**/*.py",
]


def _source_strings() -> set[str]:
    """Strings marked for translation in the project's own templates and code.

    The catalogue is the reference, but a string added to a template after the catalogue
    was last extracted is missing from it; reading the sources as well catches those.
    """
    found = set()
    for pattern in SOURCE_GLOBS:
        for path in ROOT.glob(pattern):
            if "migrations" in path.parts or path.parts[-2:-1] == ("pdf",):
                continue
            for match in _SOURCE_STRING.finditer(path.read_text(encoding="utf-8")):
                found.add(next(group for group in match.groups() if group))
    return found


@lru_cache(maxsize=1)
def english_labels() -> tuple[str, ...]:
    """English fragments of the project's strings that must not appear on a Korean page.

    The strings are the catalogue's msgids plus those marked in the sources. Placeholders
    and HTML tags split a message into fragments; each fragment that is itself label-like
    is checked. Messages whose Korean text repeats the English (a proper noun) and the
    documented exemptions are left out.
    """
    labels = set()
    catalogue = dict(_parse_po(PO_FILE))
    messages = {**{s: "" for s in _source_strings()}, **catalogue}
    for msgid, msgstr in messages.items():
        if msgid in TRANSLATION_EXEMPT or msgid == msgstr:
            continue
        for fragment in _PLACEHOLDER.split(msgid):
            fragment = " ".join(fragment.split()).strip(" .,:;·()–-")
            if _is_label(fragment) and fragment not in msgstr:
                labels.add(fragment)
    # Longest first so a report names the whole label, not a piece of it.
    return tuple(sorted(labels, key=len, reverse=True))


def untranslated_in(text: str) -> list[str]:
    visible = " ".join(text.split())
    return [label for label in english_labels() if label in visible]


def format_violations(page_name: str, url: str, violations: list[dict]) -> str:
    lines = [f"axe-core: {len(violations)} serious/critical violation(s) on {page_name} ({url}):"]
    for v in violations:
        lines.append(f"  [{v['impact']}] {v['id']}: {v['help']} ({v['helpUrl']})")
        for node in v["nodes"][:5]:
            lines.append(f"      at {node['target']}: {node['html']}")
            if node.get("summary"):
                lines.append("        " + node["summary"].replace("\n", "\n        "))
    return "\n".join(lines)


@dataclass
class Visitor:
    """One person at one browser: a context, its page and the checks run on each page."""

    context: object
    base_url: str
    journey: str
    report: dict
    page: object = None
    errors: list = field(default_factory=list)
    shots: int = 0

    def __post_init__(self):
        self.page = self.context.new_page()
        self.page.on("pageerror", lambda exc: self.errors.append(f"JavaScript error: {exc}"))
        self.page.on("console", self._console)

    def _console(self, message):
        if message.type == "error" and "Content Security Policy" in message.text:
            self.errors.append(f"CSP violation: {message.text}")

    # -- navigation ------------------------------------------------------------------------
    def url(self, name: str, *args, **kwargs) -> str:
        return self.base_url + reverse(name, args=args or None, kwargs=kwargs or None)

    def goto(self, name_or_path: str, *args, **kwargs):
        target = (
            self.base_url + name_or_path if name_or_path.startswith("/") else self.url(name_or_path, *args, **kwargs)
        )
        response = self.page.goto(target)
        assert response is not None and response.status < 400, f"{target} answered {response and response.status}"
        return response

    @property
    def lang(self) -> str:
        return self.page.evaluate("document.documentElement.lang")

    # -- checks ----------------------------------------------------------------------------
    def axe(self, name: str) -> list[dict]:
        """Serious and critical axe-core violations of the current page (all are recorded)."""
        if not self.page.evaluate("typeof window.axe !== 'undefined'"):
            # A <script src> from our own static files: allowed by the page's CSP, unlike
            # inline script content, so pages are checked with their real policy.
            self.page.add_script_tag(url=self.base_url + AXE_URL)
        violations = self.page.evaluate(_AXE_RUN)
        self.report[f"{self.journey}: {name} [{self.lang}]"] = {
            "url": self.page.url.removeprefix(self.base_url),
            "violations": {v["id"]: {"impact": v["impact"], "nodes": len(v["nodes"])} for v in violations},
        }
        return [v for v in violations if v["impact"] in BLOCKING_IMPACTS]

    def check(self, name: str, *, screenshot: bool = True) -> None:
        """Run every page check on the current page, then keep a screenshot."""
        self.page.wait_for_load_state("load")
        lang = self.lang
        if screenshot:
            self.screenshot(name)
        blocking = self.axe(name)
        assert not blocking, format_violations(name, self.page.url, blocking)
        if lang == "ko":
            found = untranslated_in(self.page.inner_text("body"))
            message = f"untranslated English on the Korean page {name} ({self.page.url}): {found}"
            if found and os.environ.get("BROWSER_TRANSLATION_CHECK") == "warn":  # while writing a journey
                print(message, file=sys.stderr)
            else:
                assert not found, message
            # Identifiers a person reads as such (a benchmark's metric names, shown in <code>) are data.
            shown_as_code = self.page.evaluate(
                "() => Array.from(document.querySelectorAll('code, kbd, samp, pre'), e => e.innerText)"
            )
            # So are file names people uploaded (lm_eval_results.json).
            text = FILE_NAME.sub(" ", self.page.inner_text("body"))
            codes = [c for c in codes_in(text) if not any(c in t for t in shown_as_code)]
            assert not codes, f"codes shown to a person on the Korean page {name} ({self.page.url}): {codes}"
        assert not self.errors, f"errors on {name} ({self.page.url}): {self.errors}"

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.shots += 1
        path = SCREENSHOTS / f"{self.journey}-{self.shots:02d}-{name}-{self.lang}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    # -- keyboard --------------------------------------------------------------------------
    def tab_to(self, selector: str, *, max_presses: int = 60) -> None:
        """Press Tab until the element matching ``selector`` has the focus."""
        for _ in range(max_presses):
            self.page.keyboard.press("Tab")
            if self.page.evaluate("(s) => !!document.activeElement && document.activeElement.matches(s)", selector):
                style = self.page.evaluate(_FOCUS_STYLE)
                assert style["outline"] or style["shadow"], f"{selector} shows no focus indicator on {self.page.url}"
                return
        raise AssertionError(f"{selector} cannot be reached with the Tab key on {self.page.url}")

    def keyboard_fill(self, fields: list[tuple[str, str]], *, submit: str | None = None) -> None:
        """Fill ``(selector, text)`` fields and press Enter on ``submit`` using only the keyboard.

        Starts from the top of the page (the body has the focus after a navigation), so the
        fields must be reachable, in order, by Tab alone.
        """
        for selector, text in fields:
            self.tab_to(selector)
            self.page.keyboard.press("Control+A")
            self.page.keyboard.type(text)
        if submit:
            self.tab_to(submit)
            self.page.keyboard.press("Enter")

    # -- switching language ----------------------------------------------------------------
    def switch_language(self) -> None:
        """Press the language button in the header (Korean <-> English)."""
        before = self.lang
        with self.page.expect_navigation():
            self.page.locator("form[action$='/i18n/setlang/'] button[name=language]").click()
        assert self.lang != before
