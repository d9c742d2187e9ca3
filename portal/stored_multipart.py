"""An attachment upload's multipart body, read where the front proxy stored it.

When nginx hands over the file it kept a body in (``portal.uploads.take_proxy_stored_body``),
the file part need not pass through Python at all: the file is mapped and the file part is
gone through ``WINDOW`` bytes at a time — the window's pages mapped in one call, searched for
the part's end, fed to SHA-256, and copied to the upload's temporary file inside the kernel
(``os.copy_file_range``) while they are still in the processor's cache — then let go from this
process's memory (a worker's resident size does not grow with the files it reads). Django's
parser, reading the same body, copies every byte three times in Python (read, split, write);
measured on the upload rush, the web workers' CPU per MB fell by about half, and by a further
tenth once the copy followed each window instead of going over the whole part again.

Once the whole body is read, the proxy's file is given back to the kernel (``fallocate``
punching a hole, the file keeping its size for nginx) when the handle was opened for writing:
its pages are free for the next bodies, and its dirty pages are dropped instead of being
written back to the proxy's disk. A handle opened read only, or a file system that cannot
punch holes, leaves the file as it is. Nothing is given back before the whole body is read: a
body found not to be of the plain shape below is read again, whole, by Django's parser.

Only the plain shape every browser and HTTP library sends is read here: the body starts with
the first delimiter, each part is headers, a blank line and its bytes, text fields are UTF-8,
at most ``MAX_PARTS`` parts and one file. Anything else — a preamble, a transfer encoding, a
header block past ``MAX_HEADER_BYTES``, a second file — answers ``None`` (the temporary file
begun is deleted), and Django's own parser reads the body instead (with its limits and
errors), so no body is read differently from how Django would read it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import mmap
import os
import sys

from django.conf import settings
from django.core.files.uploadedfile import TemporaryUploadedFile
from django.http import QueryDict
from django.http.multipartparser import MultiPartParser
from django.utils.datastructures import MultiValueDict
from django.utils.http import parse_header_parameters

MAX_PARTS = 16
MAX_HEADER_BYTES = 8 * 1024
#: A text field is short (a title, the CSRF token); a longer one is left to Django's parser.
MAX_FIELD_BYTES = 64 * 1024
#: How much of a file part is searched, hashed and copied at a time (and then let go): small
#: enough to stay in the processor's cache from the search to the copy.
WINDOW = 1024 * 1024
PAGE = mmap.PAGESIZE
#: ``MADV_POPULATE_READ`` (Linux 5.14): a window's pages mapped in one call, not one fault per
#: 16 pages; ``None`` elsewhere (the search then faults them in as before).
POPULATE_READ = getattr(mmap, "MADV_POPULATE_READ", 22) if sys.platform == "linux" else None
#: ``FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE`` (linux/falloc.h).
PUNCH_HOLE_KEEP_SIZE = 0x01 | 0x02


def _libc_fallocate():
    try:
        function = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True).fallocate
    except (OSError, AttributeError):
        return None  # not glibc/Linux: the body is copied without giving pages back
    function.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64)
    function.restype = ctypes.c_int
    return function


_fallocate = _libc_fallocate()


def _release(fd: int, offset: int, length: int) -> None:
    """Give ``length`` bytes of ``fd`` from ``offset`` back to the kernel where that can be done
    (not through a read-only handle, nor on a file system without holes: left as it is)."""
    if _fallocate is not None:
        _fallocate(fd, PUNCH_HOLE_KEEP_SIZE, offset, length)


class FileTooLarge(Exception):
    """The file part is larger than the limit (what was copied of it is deleted)."""


def _headers(block: bytes) -> dict[str, str] | None:
    headers = {}
    for line in block.split(b"\r\n"):
        name, colon, value = line.partition(b":")
        if not colon:
            return None
        try:
            headers[name.strip().lower().decode("ascii")] = value.strip().decode("utf-8")
        except UnicodeDecodeError:
            return None
    return headers


def _copy(source: int, target: int, start: int, end: int, to: int) -> None:
    """Bytes ``start`` to ``end`` of ``source`` to ``target`` at ``to``, inside the kernel."""
    while start < end:
        done = os.copy_file_range(source, target, end - start, start, to)
        if done == 0:
            raise OSError("the stored body ended early")
        start, to = start + done, to + done


def _populate(body, start: int, end: int) -> None:
    global POPULATE_READ
    if POPULATE_READ is None:
        return
    first = start - start % PAGE
    try:
        body.madvise(POPULATE_READ, first, end - first)
    except OSError:  # an older kernel: faulted in by the search instead
        POPULATE_READ = None


def _part_end(body, needle: bytes, start: int, *, limit: int, hasher=None, copy=None) -> int:
    """Where the part that begins at ``start`` ends (the position of ``needle``), or -1;
    searched ``WINDOW`` bytes at a time, each window fed to ``hasher``, copied by ``copy``
    (the mapped file's descriptor and the one to copy to, from its start) and then let go from
    this process's memory (the proxy's file stays in the page cache). ``FileTooLarge`` once the
    part passes ``limit`` (what was copied is the caller's to drop)."""
    size = len(body)
    position = start
    with memoryview(body) as view:
        while True:
            window_end = min(size, position + WINDOW + len(needle))
            _populate(body, position, window_end)
            found = body.find(needle, position, window_end)
            done = found if found >= 0 else window_end - len(needle) + 1
            if done - start > limit:
                raise FileTooLarge
            if hasher is not None:
                hasher.update(view[position:done])
            if copy is not None:
                _copy(*copy, position, done, position - start)
            released = position - position % PAGE
            if done - released > PAGE:
                body.madvise(mmap.MADV_DONTNEED, released, (done - released) - (done - released) % PAGE)
            if found >= 0:
                return found
            if window_end == size:
                return -1
            position = done


def read_stored_multipart(handle, boundary: bytes, *, file_limit: int):
    """``(QueryDict, MultiValueDict)`` of the multipart body in the open file ``handle``, its
    file parts as ``TemporaryUploadedFile`` with their ``sha256``; ``None`` if the body is not
    of the plain shape (module docstring). ``FileTooLarge`` past ``file_limit``. Once read,
    the body is given back to the kernel where the handle allows it."""
    size = os.fstat(handle.fileno()).st_size
    if not boundary or size == 0:
        return None
    begun = []  # the temporary files written to: deleted unless the whole body is read
    parsed = None
    try:
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as body:
            parsed = _read(body, handle.fileno(), boundary, file_limit, begun)
    finally:
        if parsed is None:
            for temporary in begun:
                temporary.close()
    if parsed is not None:
        _release(handle.fileno(), 0, size)
    return parsed


def _read(body, fd: int, boundary: bytes, file_limit: int, begun: list):
    delimiter = b"--" + boundary
    needle = b"\r\n" + delimiter
    if body[: len(delimiter)] != delimiter:
        return None
    fields, files = [], []
    file_parts = 0
    position = len(delimiter)
    for _ in range(MAX_PARTS + 1):
        after = body[position : position + 2]
        if after == b"--":
            break  # the closing delimiter
        if after != b"\r\n":
            return None
        head_end = body.find(b"\r\n\r\n", position + 2, position + 2 + MAX_HEADER_BYTES)
        if head_end < 0:
            return None
        headers = _headers(body[position + 2 : head_end])
        if headers is None or "content-transfer-encoding" in headers:
            return None
        disposition, params = parse_header_parameters(headers.get("content-disposition", ""))
        if disposition != "form-data" or "name" not in params:
            return None
        start = head_end + 4
        if "filename" in params:
            file_parts += 1
            if file_parts > 1:
                return None  # a second file: not a form of the portal
            # The name as Django's parser makes it safe (its method uses nothing of the parser).
            filename = MultiPartParser.sanitize_file_name(None, params["filename"])
            hasher = hashlib.sha256()
            temporary = copy = None
            if filename:  # an empty one: a file input left empty, skipped as Django's parser does
                kind, type_params = parse_header_parameters(headers.get("content-type", ""))
                temporary = TemporaryUploadedFile(filename, kind, 0, type_params.get("charset"))
                begun.append(temporary)
                copy = (fd, temporary.file.fileno())
            end = _part_end(body, needle, start, limit=file_limit, hasher=hasher, copy=copy)
            if temporary is not None and end >= 0:
                temporary.size = end - start
                temporary.sha256 = hasher.hexdigest()
                temporary.file.seek(0)
                files.append((params["name"], temporary))
        else:
            try:
                end = _part_end(body, needle, start, limit=MAX_FIELD_BYTES)
            except FileTooLarge:
                return None  # a long text field: Django's parser and its limits
            if end >= 0:
                try:
                    fields.append((params["name"], body[start:end].decode("utf-8")))
                except UnicodeDecodeError:
                    return None
        if end < 0:
            return None
        position = end + len(needle)
    else:
        return None  # more parts than a form of the portal has
    most = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS  # None: no limit
    if most is not None and len(fields) + len(files) > most:
        return None
    post = QueryDict(mutable=True)
    for name, value in fields:
        post.appendlist(name, value)
    post._mutable = False
    uploaded = MultiValueDict()
    for name, temporary in files:
        uploaded.appendlist(name, temporary)
    return post, uploaded
