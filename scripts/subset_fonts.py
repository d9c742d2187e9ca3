#!/usr/bin/env python
"""Subset the portal's web font (Pretendard) into small WOFF2 slices, by usage.

    .venv/bin/python scripts/subset_fonts.py          # regenerate the slices and static/css/fonts.css
    .venv/bin/python scripts/subset_fonts.py --check  # exit 1 if the project's text has
                                                      # Hangul the "ko-used" slice lacks

Pretendard's OpenType files (``static/fonts/pretendard/*.otf``, 1.5 MB each) hold every
modern Hangul syllable (11,172), Latin, Greek, Cyrillic and symbols. A page needs a few
hundred of those glyphs. The browser downloads a slice only when the page has a character
in the slice's ``unicode-range``, so the font is cut into:

* ``base``: Basic Latin, Latin-1 and every other character of the project's own text
  but Hangul (punctuation, ₩, ✓, σ, …): every page;
* ``symbols``: the rest of the punctuation, currency, arrows, shapes, CJK punctuation and
  the Hangul compatibility jamo;
* ``ko-used``: the Hangul syllables of the project's own text (templates, the Korean
  catalogue and translation table, Python sources including the demo data, scripts):
  nearly every Korean page, preloaded with ``base`` by the base template;
* ``ko-common-N``: the rest of the 2,350 syllables of KS X 1001 (the common ones, which
  cover nearly all names and free text), in slices of about 400;
* ``ko-rare-N``: the remaining syllables and the conjoining jamo, in slices of about 1,500;
* ``latin-ext``: accented Latin (Latin Extended-A/B and Additional);
* ``ext``: everything else the font has (Greek, Cyrillic, …).

Each slice is written for both weights (400, 700) as
``static/fonts/pretendard/subset/Pretendard-<Weight>-<slice>.woff2``, and the ``@font-face``
rules with their ``unicode-range`` to ``static/css/fonts.css``. The OpenType files stay for
WeasyPrint (the PDFs embed their own subset of them).

``fonts.css`` also declares a fallback face for the first paint and for text whose slice
has not arrived yet: a local Korean font scaled (``size-adjust``, ascent/descent overrides)
to Pretendard's metrics, so that the swap to the web font moves as little as possible.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTFont

ROOT = Path(__file__).resolve().parent.parent
FONT_DIR = ROOT / "static" / "fonts" / "pretendard"
OUT_DIR = FONT_DIR / "subset"
CSS = ROOT / "static" / "css" / "fonts.css"
WEIGHTS = {400: "Regular", 700: "Bold"}
FAMILY = "Pretendard"

# Where the project's own text is: what "by usage" means.
TEXT_GLOBS = [
    "templates/**/*.html",
    "templates/**/*.txt",
    "locale/ko/LC_MESSAGES/*.po",
    "locale/ko/translations.tsv",
    "portal/**/*.py",
    "consortia/**/*.py",
    "evaluations/**/*.py",
    "gpu_allocation/**/*.py",
    "static/js/*.js",
]

HANGUL_FIRST, HANGUL_LAST = 0xAC00, 0xD7A3
LATIN = [(0x0000, 0x00FF)]  # Basic Latin, Latin-1
SYMBOL_RANGES = [
    (0x0131, 0x0131),
    (0x0152, 0x0153),
    (0x02C6, 0x02C6),
    (0x02DA, 0x02DA),
    (0x02DC, 0x02DC),
    (0x2000, 0x206F),  # general punctuation
    (0x2070, 0x209F),  # superscripts and subscripts
    (0x20A0, 0x20CF),  # currency (₩)
    (0x2100, 0x21FF),  # letterlike symbols, arrows
    (0x2200, 0x23FF),  # mathematical operators, technical symbols
    (0x2460, 0x24FF),  # enclosed alphanumerics
    (0x2500, 0x25FF),  # box drawing, blocks, geometric shapes
    (0x2600, 0x27BF),  # symbols, dingbats (✓ ✗)
    (0x3000, 0x303F),  # CJK symbols and punctuation
    (0x3130, 0x318F),  # Hangul compatibility jamo
    (0xFEFF, 0xFEFF),
    (0xFF00, 0xFFEF),  # half- and full-width forms
]
# Accented Latin (European names), apart from the rest (Greek, Cyrillic, …).
LATIN_EXTENDED = [(0x0100, 0x024F), (0x1E00, 0x1EFF)]
COMMON_SLICE = 400
RARE_SLICE = 1500
CONJOINING_JAMO = [(0x1100, 0x11FF), (0xA960, 0xA97F), (0xD7B0, 0xD7FF)]

# The fallback face: a local Korean font whose metrics can be measured here (NanumGothic,
# fonts-nanum, Debian's Korean desktop font), scaled to take the room Pretendard takes.
# Without it the stack goes on to system-ui and the platform's Korean font, unscaled.
FALLBACK_FONT = Path("/usr/share/fonts/truetype/nanum/NanumGothic.ttf")
FALLBACK_LOCAL = ["NanumGothic", "나눔고딕"]
FALLBACK_SAMPLE = "포털 신청서 평가 결과 선정 컨소시엄 Application portal 2026-12-03 12:00"


def is_hangul(cp: int) -> bool:
    return HANGUL_FIRST <= cp <= HANGUL_LAST


def in_ranges(cp: int, ranges) -> bool:
    return any(lo <= cp <= hi for lo, hi in ranges)


def used_characters() -> set[int]:
    found: set[int] = set()
    for pattern in TEXT_GLOBS:
        for path in sorted(ROOT.glob(pattern)):
            if ".venv" in path.parts:
                continue
            found.update(ord(ch) for ch in path.read_text(encoding="utf-8", errors="ignore"))
    return found


def used_syllables() -> set[int]:
    return {cp for cp in used_characters() if is_hangul(cp)}


def ks_x_1001() -> set[int]:
    """The 2,350 syllables of KS X 1001 (those EUC-KR encodes in two bytes)."""
    out = set()
    for cp in range(HANGUL_FIRST, HANGUL_LAST + 1):
        try:
            if len(chr(cp).encode("euc_kr")) == 2:
                out.add(cp)
        except UnicodeEncodeError:
            pass
    return out


def chunks(items: list[int], size: int) -> list[list[int]]:
    count = max(1, round(len(items) / size))
    step = -(-len(items) // count)
    return [items[i : i + step] for i in range(0, len(items), step)]


def slices(cmap: set[int]) -> dict[str, list[int]]:
    """slice name -> sorted code points; together exactly the font's code points."""
    chars = used_characters()
    base = sorted(cp for cp in cmap if in_ranges(cp, LATIN) or (cp in chars and not is_hangul(cp)))
    symbols = sorted(cp for cp in cmap if in_ranges(cp, SYMBOL_RANGES) and cp not in set(base))
    used = sorted(cp for cp in chars if is_hangul(cp) and cp in cmap)
    common = sorted(cp for cp in ks_x_1001() if cp in cmap and cp not in set(used))
    taken = set(base) | set(symbols) | set(used) | set(common)
    rare = sorted(cp for cp in cmap if (is_hangul(cp) or in_ranges(cp, CONJOINING_JAMO)) and cp not in taken)
    taken |= set(rare)
    latin_ext = sorted(cp for cp in cmap if in_ranges(cp, LATIN_EXTENDED) and cp not in taken)
    taken |= set(latin_ext)
    ext = sorted(cp for cp in cmap if cp not in taken)
    out = {"base": base, "ko-used": used, "symbols": symbols, "latin-ext": latin_ext}
    for i, part in enumerate(chunks(common, COMMON_SLICE), 1):
        out[f"ko-common-{i}"] = part
    for i, part in enumerate(chunks(rare, RARE_SLICE), 1):
        out[f"ko-rare-{i}"] = part
    out["ext"] = ext
    return out


def unicode_range(cps: list[int]) -> str:
    """``U+AC00-AC01, U+AC04``: consecutive code points joined into ranges."""
    parts, start, prev = [], None, None
    for cp in sorted(cps):
        if start is None:
            start = prev = cp
        elif cp == prev + 1:
            prev = cp
        else:
            parts.append((start, prev))
            start = prev = cp
    if start is not None:
        parts.append((start, prev))
    return ", ".join(f"U+{a:X}" if a == b else f"U+{a:X}-{b:X}" for a, b in parts)


def write_subset(source: Path, cps: list[int], target: Path) -> None:
    options = subset.Options()
    options.flavor = "woff2"
    options.layout_features = ["*"]  # keep kerning and the Hangul/Latin features
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.notdef_outline = True
    options.hinting = False  # CFF hints add size; browsers ignore most of them
    options.desubroutinize = True  # compresses better in WOFF2
    font = subset.load_font(str(source), options)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=cps)
    subsetter.subset(font)
    target.parent.mkdir(parents=True, exist_ok=True)
    subset.save_font(font, str(target), options)


def fallback_metrics(regular: TTFont) -> dict[str, str]:
    """size-adjust and ascent/descent overrides that make NanumGothic take Pretendard's room."""
    nanum = FALLBACK_FONT
    upm = regular["head"].unitsPerEm
    ascent = regular["hhea"].ascent / upm
    descent = -regular["hhea"].descent / upm
    adjust = 1.0
    if nanum.exists():
        other = TTFont(str(nanum))
        width_p = _advance(regular, FALLBACK_SAMPLE)
        width_n = _advance(other, FALLBACK_SAMPLE)
        adjust = width_p / width_n
    # The overrides are relative to the adjusted size: divide so the line box stays Pretendard's.
    return {
        "size-adjust": f"{adjust * 100:.2f}%",
        "ascent-override": f"{ascent / adjust * 100:.2f}%",
        "descent-override": f"{descent / adjust * 100:.2f}%",
        "line-gap-override": "0%",
    }


def _advance(font: TTFont, text: str) -> float:
    cmap = font.getBestCmap()
    hmtx = font["hmtx"]
    upm = font["head"].unitsPerEm
    total = 0
    for ch in text:
        glyph = cmap.get(ord(ch))
        if glyph is not None:
            total += hmtx[glyph][0]
    return total / upm


def write_css(parts: dict[str, list[int]], metrics: dict[str, str]) -> None:
    lines = [
        "/* Generated by scripts/subset_fonts.py from static/fonts/pretendard/*.otf: do not edit. */",
        "/* Pretendard in WOFF2 slices by usage; a slice is downloaded only for a page with a",
        "   character in its unicode-range. The base template preloads base and ko-used. */",
    ]
    for weight, name in WEIGHTS.items():
        for slice_name, cps in parts.items():
            lines.append(
                f'@font-face {{ font-family: "{FAMILY}"; font-style: normal; font-weight: {weight}; font-display: swap; '
                f'src: url("../fonts/pretendard/subset/{FAMILY}-{name}-{slice_name}.woff2") format("woff2"); '
                f"unicode-range: {unicode_range(cps)}; }}"
            )
    local = ", ".join(f'local("{n}")' for n in FALLBACK_LOCAL)
    overrides = " ".join(f"{k}: {v};" for k, v in metrics.items())
    for weight in WEIGHTS:
        lines.append(
            f'@font-face {{ font-family: "{FAMILY} Fallback"; font-weight: {weight}; src: {local}; {overrides} }}'
        )
    CSS.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only check that ko-used covers the project's text")
    args = parser.parse_args()
    regular = TTFont(str(FONT_DIR / "Pretendard-Regular.otf"))
    cmap = set(regular.getBestCmap())
    if args.check:
        css = CSS.read_text(encoding="utf-8")
        match = re.search(r"Regular-ko-used\.woff2\"\) format\(\"woff2\"\); unicode-range: ([^;]+);", css)
        declared = set()
        for part in (match[1] if match else "").split(","):
            lo, _, hi = part.strip().removeprefix("U+").partition("-")
            if lo:
                declared.update(range(int(lo, 16), int(hi or lo, 16) + 1))
        missing = sorted(cp for cp in used_syllables() if cp in cmap and cp not in declared)
        if missing:
            print(f"{len(missing)} syllable(s) of the project's text are not in ko-used: {''.join(map(chr, missing))}")
            print("They still render (from a ko-common or ko-rare slice); run scripts/subset_fonts.py to regroup.")
            sys.exit(1)
        print("ko-used covers the project's text.")
        return
    parts = slices(cmap)
    for old in OUT_DIR.glob("*.woff2"):
        old.unlink()
    for name in WEIGHTS.values():
        source = FONT_DIR / f"{FAMILY}-{name}.otf"
        for slice_name, cps in parts.items():
            write_subset(source, cps, OUT_DIR / f"{FAMILY}-{name}-{slice_name}.woff2")
    write_css(parts, fallback_metrics(regular))
    total = sum(p.stat().st_size for p in OUT_DIR.glob("*.woff2"))
    for slice_name, cps in parts.items():
        size = (OUT_DIR / f"{FAMILY}-Regular-{slice_name}.woff2").stat().st_size
        print(f"  {slice_name:<12} {len(cps):>5} code points  {size / 1024:>6.1f} KiB (regular)")
    print(f"{len(parts)} slices × {len(WEIGHTS)} weights, {total / 1024:.0f} KiB in all -> {OUT_DIR.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
