"""An attachment upload's multipart body, read where the front proxy stored it.

When nginx hands over the file it kept a body in (``portal.uploads.take_proxy_stored_body``),
the body is read here in one pass instead of through Django's parser, which copies every byte
three times in Python (read, split, write). The parts' headers and text fields are read from
the mapped file; the file part goes through one small buffer, ``WINDOW`` bytes at a time: read
into it, searched for the part's end, fed to SHA-256 and written to the upload's temporary
file while it is still in the processor's cache. Each byte of the file is read from memory
once (a first version hashed the mapped file and then had the kernel copy it,
``copy_file_range``: two passes over memory the cache does not hold; measured on a 19 MB scan,
26 against 21 ms). A web worker's resident size does not grow with the files it reads.

Once the body is read, the proxy's file is given back to the kernel (``fallocate`` punching a
hole, the file keeping its size for nginx) when the handle was opened for writing: its pages
are free for the next bodies before the PDF check and the commit, and its dirty pages are
dropped instead of being written back to the proxy's disk. A handle opened read only, or a
file system that cannot punch holes, leaves the file as it is. Nothing is given back before
the whole body has been read: a body that turns out not to be of the plain shape below is
read again, whole, by Django's parser.

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
#: How much of a part is read, searched, hashed and written at a time: small enough to stay in
#: the processor's cache between the four.
WINDOW = 256 * 1024
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


def _release(fd: int, offset: int, length: int) -> bool:
    """Give ``length`` bytes of ``fd`` from ``offset`` back to the kernel; ``False`` if it
    cannot be done here (a read-only handle, a file system without holes)."""
    if _fallocate is None:
        return False
    return _fallocate(fd, PUNCH_HOLE_KEEP_SIZE, offset, length) == 0


class FileTooLarge(Exception):
    """The file part is larger than the limit (nothing was copied)."""


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


def _part_end(body, needle: bytes, start: int, *, limit: int) -> int:
    """Where the text part that begins at ``start`` in the mapped ``body`` ends (the position
    of ``needle``), or -1; ``FileTooLarge`` once the part passes ``limit``."""
    found = body.find(needle, start, min(len(body), start + limit + len(needle)))
    if found < 0 and len(body) - start > limit:
        raise FileTooLarge
    return found


def _stream_part(fd: int, needle: bytes, start: int, *, limit: int, hasher, target: int | None) -> int:
    """Read the file part that begins at ``start`` in ``fd`` ``WINDOW`` bytes at a time,
    feeding each stretch to ``hasher`` and writing it to ``target`` (module docstring); where
    the part ends (the position of ``needle``), or -1 if it never does. A needle across two
    windows is found: each read reaches ``len(needle) - 1`` bytes into the next window.
    ``FileTooLarge`` once the part passes ``limit`` (what was written is the caller's to drop)."""
    overlap = len(needle) - 1
    buffer = bytearray(WINDOW + overlap)
    position = start
    with memoryview(buffer) as view:
        while True:
            read = os.preadv(fd, [view], position)
            found = buffer.find(needle, 0, read)
            at_end = read < len(buffer)
            take = found if found >= 0 else (read if at_end else read - overlap)
            if position + take - start > limit:
                raise FileTooLarge
            hasher.update(view[:take])
            if target is not None:
                written = 0
                while written < take:
                    written += os.write(target, view[written:take])
            position += take
            if found >= 0:
                return position
            if at_end:
                return -1


def read_stored_multipart(handle, boundary: bytes, *, file_limit: int):
    """``(QueryDict, MultiValueDict)`` of the multipart body in the open file ``handle``, its
    file parts as ``TemporaryUploadedFile`` with their ``sha256``; ``None`` if the body is not
    of the plain shape (module docstring). ``FileTooLarge`` past ``file_limit``. Once read,
    the body is given back to the kernel where the handle allows it."""
    size = os.fstat(handle.fileno()).st_size
    if not boundary or size == 0:
        return None
    begun = []  # the temporary files written so far: deleted unless the whole body is read
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
            temporary = None
            if filename:  # an empty one: a file input left empty, skipped as Django's parser does
                kind, type_params = parse_header_parameters(headers.get("content-type", ""))
                temporary = TemporaryUploadedFile(filename, kind, 0, type_params.get("charset"))
                begun.append(temporary)
            target = temporary.file.fileno() if temporary is not None else None
            end = _stream_part(fd, needle, start, limit=file_limit, hasher=hasher, target=target)
            if temporary is not None:
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
