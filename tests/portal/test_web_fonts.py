"""The web font's WOFF2 slices (scripts/subset_fonts.py): together they hold every character of
Pretendard, each file holds every character its unicode-range declares, every file is small, the
project's own Korean text is in the preloaded slice, and the pages link the slices, not the
1.5 MB OpenType files (which stay for the PDFs)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse
from fontTools.ttLib import TTFont

ROOT = Path(__file__).resolve().parents[2]
CSS = ROOT / "static" / "css" / "fonts.css"
FONTS = ROOT / "static" / "fonts" / "pretendard"
FACE = re.compile(r'font-weight: (\d+);[^}]*url\("\.\./fonts/pretendard/subset/([^"]+)"\)[^}]*unicode-range: ([^;]+);')


def code_points(ranges: str) -> set[int]:
    out: set[int] = set()
    for part in ranges.split(","):
        lo, _, hi = part.strip().removeprefix("U+").partition("-")
        out.update(range(int(lo, 16), int(hi or lo, 16) + 1))
    return out


def faces() -> list[tuple[int, str, set[int]]]:
    return [(int(w), name, code_points(r)) for w, name, r in FACE.findall(CSS.read_text(encoding="utf-8"))]


@pytest.mark.parametrize(("weight", "source"), [(400, "Pretendard-Regular.otf"), (700, "Pretendard-Bold.otf")])
def test_slices_hold_every_character_of_the_font_once_and_nothing_else(weight, source):
    full = set(TTFont(str(FONTS / source)).getBestCmap())
    declared: set[int] = set()
    for face_weight, name, cps in faces():
        if face_weight != weight:
            continue
        path = FONTS / "subset" / name
        assert path.stat().st_size < 130 * 1024, f"{name} is {path.stat().st_size} bytes"
        assert not declared & cps, f"{name} overlaps another slice"
        declared |= cps
        # Every declared character is in the file (layout features may keep a few more glyphs).
        assert cps & full <= set(TTFont(str(path)).getBestCmap()), name
    assert declared == full


def test_the_projects_korean_text_is_in_the_preloaded_slice():
    result = subprocess.run(
        [sys.executable, "scripts/subset_fonts.py", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    # A new message may bring a syllable or two the slice lacks (it still renders, from a
    # later slice); a page of new text means the slices should be made again.
    missing = re.match(r"(\d+) syllable", result.stdout)
    assert result.returncode == 0 or int(missing[1]) <= 20, result.stdout


def test_pages_preload_the_slices_and_never_load_the_opentype_files(client, db):
    html = client.get(reverse("account_login")).content.decode()
    for name in ("Regular-base", "Regular-ko-used", "Bold-base", "Bold-ko-used"):
        assert (
            f'href="/static/fonts/pretendard/subset/Pretendard-{name}.woff2" as="font" type="font/woff2" crossorigin'
            in html
        )
    assert ".otf" not in html
    assert ".otf" not in (ROOT / "static" / "css" / "portal.css").read_text(encoding="utf-8")
    assert '.otf")' not in CSS.read_text(encoding="utf-8")
    # Scripts never hold up the first paint.
    scripts = re.findall(r"<script [^>]*>", html)
    assert scripts and all(" defer" in tag for tag in scripts), scripts
