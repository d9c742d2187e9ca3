"""Inspect an uploaded PDF in a separate, resource-limited process (SPEC §4, §10).

``python -I portal/pdf_inspect.py MEMORY_MB CPU_SECONDS MAX_OBJECTS < file.pdf`` prints one
JSON object. ``python -I portal/pdf_inspect.py --server MEMORY_MB CPU_SECONDS MAX_OBJECTS
WALL_SECONDS`` stays running with pypdf imported and forks one such limited child per file
(``serve``): a check then costs the parse, not a new interpreter importing pypdf (0.3 s of CPU). The process caps its own address space and CPU time before it reads a byte
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

import contextlib
import io
import json
import os
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


#: The inspection server's niceness (``os.nice``): above the web processes', never so far
#: that a check waits past its wall-clock limit on a busy machine.
CHECK_NICENESS = 5

_STREAM_START = re.compile(rb"stream(?:\r\n|\n|\r)")


#: ``bytes.find`` switches to its two-way search for haystacks of 30,000 bytes and more, which
#: for a short needle in a picture's random bytes is slower than its plain search by about
#: 40 % (4.9 against 3.4 ms over a 12.6 MB scan); ``find_in_steps`` keeps every search below.
FIND_STEP = 29_000


def find_in_steps(data, needle: bytes, start: int, end: int | None = None) -> int:
    """``data.find(needle, start, end)``, the same answer, searched ``FIND_STEP`` bytes at a time
    (each step overlapping the next by the needle's length less one)."""
    end = len(data) if end is None else end
    overlap = len(needle) - 1
    position = start
    while position < end:
        found = data.find(needle, position, min(end, position + FIND_STEP + overlap))
        if found >= 0:
            return found
        position += FIND_STEP
    return -1


def outside_streams(data):
    """The parts of ``data`` (bytes or an mmap) between the streams: the objects' own syntax,
    without the streams' contents (an image's compressed bytes hold every 3-byte sequence,
    ``/JS`` too, and are no name; what a stream holds that matters, pypdf reads)."""
    position, end = 0, len(data)
    while position < end:
        start = _STREAM_START.search(data, position)
        if start is None:
            yield data[position:]
            return
        yield data[position : start.start()]
        closing = find_in_steps(data, b"endstream", start.end())
        if closing < 0:
            return
        position = closing + len(b"endstream")


def scan_raw_names(data) -> set[str]:
    """Active-content names written anywhere in the file's object syntax (escapes undone),
    outside the streams' contents."""
    found = set()
    for part in outside_streams(data):
        found |= _scan_names(part)
    return found


def _scan_names(data: bytes) -> set[str]:
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


class Unreadable(Exception):
    """An object could not be read (``walk_objects(..., skip_unreadable=False)``)."""


def walk_objects(reader, *, max_objects: int, skip_unreadable: bool = True) -> set[str]:
    """Every object of the document — from the trailer down, and every object of the
    cross-reference table — looked at once, at most ``max_objects`` of them. An object that
    cannot be read is passed over (the rest is still looked at), or, with
    ``skip_unreadable=False``, ends the walk with ``Unreadable``."""
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
            except Exception as exc:  # noqa: BLE001 -- one unreadable object: the rest is still looked at
                if not skip_unreadable:
                    raise Unreadable from exc
                continue
        if isinstance(item, DictionaryObject):  # stream objects too (their dictionary)
            _inspect_dictionary(item, found)
            stack.extend(dict.values(item))
        elif isinstance(item, ArrayObject):
            stack.extend(list.__iter__(item))
    return found


def inspect_pdf(data, *, max_objects: int) -> dict:
    """Inspect ``data``: the file's bytes, or an mmap of the file (read in place, not copied)."""
    from pypdf import PdfReader
    from pypdf.errors import LimitReachedError

    try:
        source = io.BytesIO(data) if isinstance(data, bytes) else _MmapFile(data)
        reader = PdfReader(source, strict=False)
        if reader.is_encrypted:
            return {"status": "encrypted"}
        pages = len(reader.pages)
        # Touch every page so a truncated body is found now rather than by a reviewer.
        for page in reader.pages:
            page.get_contents()
        if pages == 0:
            return {"status": "no_pages"}
        active = _walk(reader, source, data, max_objects=max_objects) | scan_raw_names(data)
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


def _walk(reader, source, data, *, max_objects: int) -> set[str]:
    """``walk_objects`` over a mapped file with the streams' data lent, not copied (the walk
    looks at dictionaries; an image's megabytes were copied only to be dropped). Should any
    object not be read from a lent view, the walk is done again as before, copying, so the
    answer is the same either way."""
    from pypdf import PdfReader

    if not isinstance(source, _MmapFile):
        return walk_objects(reader, max_objects=max_objects)
    source.lend = True
    try:
        return walk_objects(reader, max_objects=max_objects, skip_unreadable=False)
    except Unreadable:
        return walk_objects(PdfReader(_MmapFile(data), strict=False), max_objects=max_objects)
    finally:
        source.release()


class _MmapFile(io.RawIOBase):
    """A read-only file over an mmap, for pypdf: it seeks and reads pieces, never the whole.
    Once ``lend`` is set, a read of ``LEND_FROM`` bytes or more (a stream's data) answers a
    read-only view of the mapping instead of a copy; ``release`` ends every view lent."""

    LEND_FROM = 1024 * 1024

    def __init__(self, mapped):
        self._map, self._pos = mapped, 0
        self.lend, self._lent = False, []

    def release(self) -> None:
        for view in reversed(self._lent):  # the pieces, then the whole they were cut from
            view.release()
        self._lent.clear()

    def readable(self):
        return True

    def seekable(self):
        return True

    def seek(self, offset, whence=io.SEEK_SET):
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: len(self._map)}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self):
        return self._pos

    def read(self, size=-1):
        end = len(self._map) if size is None or size < 0 else min(len(self._map), self._pos + size)
        if self.lend and end - self._pos >= self.LEND_FROM:
            if not self._lent:
                self._lent.append(memoryview(self._map))
            chunk = self._lent[0][self._pos : end]
            self._lent.append(chunk)
        else:
            chunk = self._map[self._pos : end]
        self._pos = max(self._pos, end)
        return chunk

    def readinto(self, buffer):
        chunk = self.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def inspect_file(path: str, *, max_objects: int) -> dict:
    """``inspect_pdf`` on the file at ``path``, mapped into memory rather than read into it."""
    import mmap

    with open(path, "rb") as handle:
        if handle.seek(0, io.SEEK_END) == 0:
            return {"status": "damaged"}
        mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        try:
            return inspect_pdf(mapped, max_objects=max_objects)
        finally:
            # A piece pypdf cut from a lent view keeps the mapping open until it is collected.
            with contextlib.suppress(BufferError):
                mapped.close()


def serve(memory_mb: int, cpu_seconds: int, max_objects: int, wall_seconds: float) -> int:
    """``--server``: one long-lived process per web worker, with pypdf already imported, that
    forks a child for each file to look at — the child limits its own memory and CPU time
    first, exactly as the one-shot process does, and is killed after ``wall_seconds``.

    Requests on stdin, one JSON object a line: ``{"id": 7, "path": "/tmp/upload.pdf"}``, with
    the limits of that check if they differ from the server's (``memory_mb``, ``cpu_seconds``,
    ``max_objects``, ``wall_seconds``);
    answers on stdout, one a line: ``7 {"status": "ok", ...}`` (each line shorter than a pipe's
    atomic write, so children write them directly). Ends when stdin closes.
    """
    import select
    import signal
    import time

    running: dict[int, tuple[int, float, float]] = {}  # child pid -> (request id, started, wall limit)

    def answer(request_id: int, result: dict) -> None:
        os.write(1, f"{request_id} {json.dumps(result)}\n".encode())

    def reap() -> None:
        while running:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            request_id, _started, _limit = running.pop(pid, (None, 0, 0))
            if request_id is not None and not (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0):
                # Killed past its CPU limit (SIGXCPU, SIGKILL) or out of memory before it could answer.
                reason = "time" if os.WIFSIGNALED(status) else "memory"
                answer(request_id, {"status": "too_complex", "reason": reason})

    pending = b""
    while True:
        readable, _, _ = select.select([0], [], [], 0.05)
        if readable:
            chunk = os.read(0, 65536)
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                if not line.strip():
                    continue
                request = json.loads(line)
                limits = (
                    int(request.get("memory_mb", memory_mb)), int(request.get("cpu_seconds", cpu_seconds)),
                    int(request.get("max_objects", max_objects)), float(request.get("wall_seconds", wall_seconds)),
                )  # fmt: skip
                pid = os.fork()
                if pid == 0:  # the child: limits first, then the file
                    code = 1
                    try:
                        _limit_resources(limits[0], limits[1])
                        answer(request["id"], inspect_file(request["path"], max_objects=limits[2]))
                        code = 0
                    finally:
                        os._exit(code)
                running[pid] = (request["id"], time.monotonic(), limits[3])
        reap()
        now = time.monotonic()
        for pid, (request_id, started, limit) in list(running.items()):
            if now - started > limit:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                running.pop(pid)
                answer(request_id, {"status": "too_complex", "reason": "time"})
    for pid in list(running):
        os.kill(pid, signal.SIGKILL)
    return 0


def _limit_resources(memory_mb: int, cpu_seconds: int) -> None:
    import resource

    memory = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    # The soft limit ends the process with SIGXCPU; the hard one a second later with SIGKILL.
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))


def _warm_up() -> None:
    """Before the server forks its first child: look at one blank page, so that what pypdf
    imports and builds on first use is in the server already (each child otherwise does it
    again: 9 of a tiny file's 14 ms of CPU), then move everything the server holds to the
    collector's permanent generation, so a child's collections do not walk, and so copy, the
    pages it shares with the server."""
    import gc

    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    blank = io.BytesIO()
    writer.write(blank)
    inspect_pdf(blank.getvalue(), max_objects=100)
    gc.collect()
    gc.freeze()


def main(argv: list[str]) -> int:
    server = argv[1:2] == ["--server"]
    if server:
        argv = argv[1:]
    memory_mb, cpu_seconds, max_objects = (int(a) for a in argv[1:4])
    import logging

    import pypdf  # noqa: F401 -- imported before the limits: its import is not the file's cost

    logging.disable(logging.CRITICAL)  # pypdf's warnings about a damaged file are not the answer
    if server:
        # Checks yield the processor to the web processes: in an upload rush the pages (and
        # the uploads' own bodies) are served first, and the checks take what is left.
        os.nice(CHECK_NICENESS)
        _warm_up()
        return serve(memory_mb, cpu_seconds, max_objects, float(argv[4]))
    _limit_resources(memory_mb, cpu_seconds)
    data = sys.stdin.buffer.read()
    sys.stdout.write(json.dumps(inspect_pdf(data, max_objects=max_objects)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
