"""An attachment upload's multipart body, read where the front proxy stored it.

When nginx hands over the file it kept a body in (``portal.uploads.take_proxy_stored_body``),
the file part need not pass through Python at all: the file is mapped, the end of each part is
found with one search, the file's SHA-256 is computed over the mapped bytes, and its bytes are
copied to the upload's temporary file inside the kernel (``os.copy_file_range``). Django's
parser, reading the same body, copies every byte three times in Python (read, split, write);
measured on the upload rush, the web workers' CPU per MB fell by about half.

While the file part is copied, the stretch of the proxy's file already copied is given back
to the kernel (``fallocate`` punching a hole, the file keeping its size) when the handle was
opened for writing: the pages the copy then writes are the ones just freed, not fresh ones,
and the proxy's dirty pages are dropped instead of being written back to its disk. A handle
opened read only, or a file system that cannot punch holes, is copied whole just the same.

Only the plain shape every browser and HTTP library sends is read here: the body starts with
the first delimiter, each part is headers, a blank line and its bytes, text fields are UTF-8,
at most ``MAX_PARTS`` parts and one file. Anything else — a preamble, a transfer encoding, a
header block past ``MAX_HEADER_BYTES``, a second file — answers ``None``, and Django's own
parser reads the body instead (with its limits and errors), so no body is read differently
from how Django would read it.
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
#: How much of a file part is searched and hashed at a time (and then let go).
WINDOW = 4 * 1024 * 1024
PAGE = mmap.PAGESIZE
#: How much is copied between two releases of the proxy's pages.
COPY_CHUNK = 2 * 1024 * 1024
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


def _copy_into(source: int, target: int, offset: int, length: int) -> None:
    """``length`` bytes of ``source`` from ``offset`` to ``target``'s start, inside the kernel,
    releasing ``source``'s pages before ``offset`` and behind the copy as it goes (module
    docstring) — once that fails, the rest is copied without."""
    copied = 0
    released = 0
    releasing = True
    while copied < length:
        done = os.copy_file_range(source, target, min(COPY_CHUNK, length - copied), offset + copied)
        if done == 0:
            raise OSError("the stored body ended early")
        copied += done
        behind = (offset + copied) // PAGE * PAGE
        if releasing and behind > released:
            releasing = _release(source, released, behind - released)
            released = behind


def _part_end(body, needle: bytes, start: int, *, limit: int, hasher=None) -> int:
    """Where the part that begins at ``start`` ends (the position of ``needle``), or -1;
    searched ``WINDOW`` bytes at a time, each window fed to ``hasher`` and then let go from
    this process's memory (the proxy's file stays in the page cache; a worker's resident size
    does not grow with the files it is reading). ``FileTooLarge`` once the part passes ``limit``."""
    size = len(body)
    position = start
    with memoryview(body) as view:
        while True:
            window_end = min(size, position + WINDOW + len(needle))
            found = body.find(needle, position, window_end)
            done = found if found >= 0 else window_end - len(needle) + 1
            if done - start > limit:
                raise FileTooLarge
            if hasher is not None:
                hasher.update(view[position:done])
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
    of the plain shape (module docstring). ``FileTooLarge`` past ``file_limit``."""
    size = os.fstat(handle.fileno()).st_size
    if not boundary or size == 0:
        return None
    delimiter = b"--" + boundary
    needle = b"\r\n" + delimiter
    with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as body:
        if body[: len(delimiter)] != delimiter:
            return None
        fields, files = [], []
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
                if files:
                    return None  # a second file: not a form of the portal
                hasher = hashlib.sha256()
                end = _part_end(body, needle, start, limit=file_limit, hasher=hasher)
                files.append((params["name"], params["filename"], headers.get("content-type", ""), start, end, hasher))
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
        for name, filename, content_type, start, end, hasher in files:
            # The name as Django's parser makes it safe (its method uses nothing of the parser).
            filename = MultiPartParser.sanitize_file_name(None, filename)
            if not filename:
                continue  # a file input left empty, as Django's parser treats it
            kind, type_params = parse_header_parameters(content_type)
            temporary = TemporaryUploadedFile(filename, kind, end - start, type_params.get("charset"))
            temporary.sha256 = hasher.hexdigest()
            _copy_into(handle.fileno(), temporary.file.fileno(), start, end - start)
            temporary.file.seek(0)
            uploaded.appendlist(name, temporary)
    return post, uploaded
