#!/usr/bin/env python
"""Refresh the Korean catalogue: extract strings, then fill them from translations.tsv.

    .venv/bin/python scripts/translate.py          # extract + fill + report missing
    .venv/bin/python scripts/translate.py --check  # exit 1 if any string lacks a translation

``locale/ko/translations.tsv`` holds one ``English<TAB>Korean`` pair per line (the
English text exactly as in the source, ``\\n`` for line breaks). Keeping the pairs in
one reviewable file means a re-extraction never loses a translation.
"""

import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "locale" / "ko" / "LC_MESSAGES" / "django.po"
JS_PO = ROOT / "locale" / "ko" / "LC_MESSAGES" / "djangojs.po"
TSV = ROOT / "locale" / "ko" / "translations.tsv"
PLACEHOLDER = re.compile(r"%\(\w+\)[sdif]|%[sdif]")


def load_pairs() -> dict[str, str]:
    pairs = {}
    for line in TSV.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        english, _, korean = line.partition("\t")
        pairs[english.replace("\\n", "\n")] = korean.replace("\\n", "\n")
    return pairs


def po_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'


def parse_string(lines: list[str]) -> str:
    return "".join(ast.literal_eval(line) for line in lines)


def fill(path: Path, pairs: dict[str, str]) -> list[str]:
    blocks = path.read_text(encoding="utf-8").split("\n\n")
    out, missing = [], []
    for index, block in enumerate(blocks):
        lines = block.strip("\n").splitlines()
        if index == 0:
            header = block.replace("#, fuzzy\n", "").replace('"Language: \\n"', '"Language: ko\\n"')
            out.append(header.strip("\n"))
            continue
        comments = [ln for ln in lines if ln.startswith("#") and not ln.startswith("#, fuzzy")]
        keyed: dict[str, list[str]] = {}
        current = None
        for ln in lines:
            if ln.startswith("#"):
                continue
            if ln.startswith('"'):
                keyed[current].append(ln)
                continue
            key, _, rest = ln.partition(" ")
            current = key
            keyed[current] = [rest]
        if "msgid" not in keyed:
            continue
        msgid = parse_string(keyed["msgid"])
        if not PLACEHOLDER.search(msgid):
            # NOTE: xgettext guesses "python-format" from any '%' (e.g. "95% of");
            # such strings are never %-formatted, so the flag would only make msgfmt
            # reject a translation that writes "95%)".
            comments = [c for c in comments if c.strip() != "#, python-format"]
        context = parse_string(keyed["msgctxt"]) if "msgctxt" in keyed else None
        lookup = f"{context}\x04{msgid}" if context else msgid
        translation = pairs.get(lookup, pairs.get(msgid, ""))
        if not translation:
            missing.append(msgid)
        entry = [*comments]
        if context is not None:
            entry.append(f"msgctxt {po_quote(context)}")
        entry.append(f"msgid {po_quote(msgid)}")
        if "msgid_plural" in keyed:
            entry.append(f"msgid_plural {po_quote(parse_string(keyed['msgid_plural']))}")
            entry.append(f"msgstr[0] {po_quote(translation)}")
        else:
            entry.append(f"msgstr {po_quote(translation)}")
        out.append("\n".join(entry))
    path.write_text("\n\n".join(out) + "\n", encoding="utf-8")
    return missing


def po_translations(path: Path) -> dict[str, str]:
    """The translations already in a catalogue, so a re-extraction keeps them even when
    translations.tsv lacks the pair (the TSV still wins where it has one)."""
    pairs: dict[str, str] = {}
    if not path.exists():
        return pairs
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        keyed: dict[str, list[str]] = {}
        current = None
        for ln in block.strip("\n").splitlines():
            if ln.startswith("#"):
                continue
            if ln.startswith('"'):
                if current:
                    keyed[current].append(ln)
                continue
            current, _, rest = ln.partition(" ")
            keyed[current] = [rest]
        strings = keyed.get("msgstr") or keyed.get("msgstr[0]")
        if "msgid" not in keyed or not strings:
            continue
        msgid, translation = parse_string(keyed["msgid"]), parse_string(strings)
        if msgid and translation:
            context = parse_string(keyed["msgctxt"]) if "msgctxt" in keyed else None
            pairs[f"{context}\x04{msgid}" if context else msgid] = translation
    return pairs


def main() -> int:
    check = "--check" in sys.argv
    kept = po_translations(PO)
    if not check:
        subprocess.run(
            [sys.executable, "manage.py", "makemessages", "-l", "ko", "--no-wrap", "--no-location", "--no-obsolete",
             "--ignore=.venv*", "--ignore=var", "--ignore=static", "--ignore=tests", "--ignore=bench", "-v0"],
            cwd=ROOT, check=True,
        )  # fmt: skip
    pairs = {**kept, **load_pairs()}
    missing = fill(PO, pairs)
    for text in missing:
        print(f"untranslated: {text!r}")
    return 1 if (missing and check) else 0


if __name__ == "__main__":
    sys.exit(main())
