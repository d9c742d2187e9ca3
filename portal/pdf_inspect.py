"""Inspect an uploaded PDF in a separate, resource-limited process (SPEC §4, §10).

``python -I portal/pdf_inspect.py MEMORY_MB CPU_SECONDS MAX_OBJECTS < file.pdf`` prints one
JSON object. The process caps its own address space and CPU time before it reads a byte
(``resource.setrlimit``), so a hostile file — a decompression bomb, a reference maze, a
parser hang — costs at most that much and never the web worker's memory or time; the caller
(``consortia.validators.check_pdf``) also kills it after a wall-clock timeout.

Only the standard library and pypdf are imported: no Django, no database, no settings.

Answers (``status``):

- ``ok``: ``pages`` (the page count) and ``active``: the active content found, as a sorted
  list of keys of ``ACTIVE_CONTENT`` (empty for a plain document);
- ``encrypted``, ``no_pages``, ``damaged`` (pypdf cannot read it, or a page is truncated);
- ``too_complex``: more objects than ``MAX_OBJECTS`` to look through, or pypdf's own limits
  on decompressed data reached (``reason`` says which: "objects", "decompression", "memory").
"""

from __future__ import annotations

import io
import json
import re
import sys

#: What counts as active content, and the PDF names that carry it.
ACTIVE_CONTENT = {
    "javascript": "/JavaScript, /JS",
    "open_action": "/OpenAction",
    "launch": "/Launch",
    "embedded_files": "/EmbeddedFiles",
    "xfa": "/XFA",
    "rich_media": "/RichMedia",
}
# Names that reveal active content wherever they stand in the raw bytes (objects pypdf
# would never reach — an unreferenced object, a broken cross-reference — are still looked at).
_RAW_NAMES = {
    b"JavaScript": "javascript",
    b"JS": "javascript",
    b"Launch": "launch",
    b"EmbeddedFiles": "embedded_files",
    b"EmbeddedFile": "embedded_files",
    b"XFA": "xfa",
    b"RichMedia": "rich_media",
    b"RichMediaContent": "rich_media",
}
# A PDF name: a solidus and regular characters, with #xx escapes (/J#61vaScript is /JavaScript).
_NAME = re.compile(rb"/((?:[A-Za-z0-9_.+\-]|#[0-9A-Fa-f]{2})+)")
_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
_ACTIONS = {"/JavaScript": "javascript", "/Launch": "launch"}


def scan_raw_names(data: bytes) -> set[str]:
    """Active-content names written anywhere in the file's bytes (escapes undone)."""
    found = set()
    for match in _NAME.finditer(data):
        name = match.group(1)
        if b"#" in name:
            name = _ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), name)
        key = _RAW_NAMES.get(name)
        if key:
            found.add(key)
    return found


def _resolved(value):
    from pypdf.generic import IndirectObject

    for _ in range(32):  # a chain of references, not a cycle
        if not isinstance(value, IndirectObject):
            return value
        value = value.get_object()
    return None


def _inspect_dictionary(d, found: set[str]) -> None:
    keys = set(d.keys())
    if "/JS" in keys or "/JavaScript" in keys:
        found.add("javascript")
    kind = _resolved(dict.get(d, "/S"))
    if kind in _ACTIONS:
        found.add(_ACTIONS[kind])
    if "/Launch" in keys:
        found.add("launch")
    if "/EmbeddedFiles" in keys or "/EF" in keys or _resolved(dict.get(d, "/Type")) == "/EmbeddedFile":
        found.add("embedded_files")
    if "/XFA" in keys:
        found.add("xfa")
    if _resolved(dict.get(d, "/Subtype")) == "/RichMedia" or "/RichMediaContent" in keys:
        found.add("rich_media")
    if "/OpenAction" in keys:
        action = _resolved(dict.get(d, "/OpenAction"))
        if hasattr(action, "keys") and ("/JS" in action.keys() or _resolved(dict.get(action, "/S")) in _ACTIONS):
            found.add("open_action")


class TooComplex(Exception):
    pass


def walk_objects(reader, *, max_objects: int) -> set[str]:
    """Every object of the document — from the trailer down, and every object of the
    cross-reference table — looked at once, at most ``max_objects`` of them."""
    from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject

    found: set[str] = set()
    seen: set[tuple[int, int]] = set()
    stack: list = [reader.trailer]
    for generation, table in reader.xref.items():
        stack.extend(IndirectObject(number, generation, reader) for number in table)
    stack.extend(IndirectObject(number, 0, reader) for number in reader.xref_objStm)
    visited = 0
    while stack:
        item = stack.pop()
        visited += 1
        if visited > max_objects:
            raise TooComplex("objects")
        if isinstance(item, IndirectObject):
            key = (item.idnum, item.generation)
            if key in seen:
                continue
            seen.add(key)
            try:
                item = item.get_object()
            except Exception:  # noqa: BLE001, S112 -- one unreadable object: the rest is still looked at
                continue
        if isinstance(item, DictionaryObject):  # stream objects too (their dictionary)
            _inspect_dictionary(item, found)
            stack.extend(dict.values(item))
        elif isinstance(item, ArrayObject):
            stack.extend(list.__iter__(item))
    return found


def inspect_pdf(data: bytes, *, max_objects: int) -> dict:
    from pypdf import PdfReader
    from pypdf.errors import LimitReachedError

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            return {"status": "encrypted"}
        pages = len(reader.pages)
        # Touch every page so a truncated body is found now rather than by a reviewer.
        for page in reader.pages:
            page.get_contents()
        if pages == 0:
            return {"status": "no_pages"}
        active = walk_objects(reader, max_objects=max_objects) | scan_raw_names(data)
    except TooComplex as exc:
        return {"status": "too_complex", "reason": str(exc)}
    except LimitReachedError:
        return {"status": "too_complex", "reason": "decompression"}
    except MemoryError:
        return {"status": "too_complex", "reason": "memory"}
    except RecursionError:
        return {"status": "too_complex", "reason": "objects"}
    except Exception:  # noqa: BLE001 -- whatever pypdf raises, the file cannot be read
        return {"status": "damaged"}
    return {"status": "ok", "pages": pages, "active": sorted(active)}


def _limit_resources(memory_mb: int, cpu_seconds: int) -> None:
    import resource

    memory = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    # The soft limit ends the process with SIGXCPU; the hard one a second later with SIGKILL.
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))


def main(argv: list[str]) -> int:
    memory_mb, cpu_seconds, max_objects = (int(a) for a in argv[1:4])
    import logging

    import pypdf  # noqa: F401 -- imported before the limits: its import is not the file's cost

    logging.disable(logging.CRITICAL)  # pypdf's warnings about a damaged file are not the answer
    _limit_resources(memory_mb, cpu_seconds)
    data = sys.stdin.buffer.read()
    sys.stdout.write(json.dumps(inspect_pdf(data, max_objects=max_objects)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
