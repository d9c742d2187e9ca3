"""Request-size limits, enforced before the body is read and while it streams (SPEC §4, §10).

``RequestSizeLimitMiddleware`` answers **413** naming the limit

- at once, from the announced ``Content-Length``, without reading any of the body: a 30 MB
  attachment is refused before a byte of it is received;
- while the body streams in, through ``LimitedUploadHandler``, the first of Django's upload
  handlers: the moment a file part passes the limit it stops the parser without reading the
  rest, and Django closes (and so deletes) the temporary file it had begun. Nothing is stored,
  and no temporary file is left behind.

Limits: the attachment uploads (page and API) take files up to the largest per-file limit of
any programme (``Programme.attachment_max_file_mb``, 20 MB by default) — the programme's own
limit is then applied exactly once the application is known (``consortia.validators.check_pdf``,
also 413); every other request takes at most ``REQUEST_BODY_MAX_MB``.

**The body the front proxy stored.** nginx receives every body whole before it passes a
request on, writing a large one to a file of its own. For the attachment uploads it can hand
the web process that file instead of sending the bytes again over the socket
(``client_body_in_file_only``, ``X-Body-File: $request_body_file``, no body sent; see
``deploy/nginx/templates/portal.conf.template``): the web process then reads the body from
the proxy's file — the same parsing, limits, hashing and checks, without the second trip
through the socket. It is believed only when ``PROXY_BODY_DIR`` names the proxy's folder,
the file is a regular file directly inside it, and the request carries the proxy's secret
(``portal.received.from_front_proxy``); otherwise the header is ignored and the body is the
one on the socket. The file is opened for writing where that is allowed, only so that it can
be given back to the kernel once the body is read (``portal.stored_multipart``); nothing is
written into it. nginx removes its file when the
request ends.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import stat

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.files.uploadhandler import FileUploadHandler, StopUpload, TemporaryFileUploadHandler
from django.core.handlers.wsgi import LimitedStream
from django.http import JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render
from django.urls import Resolver404, resolve
from django.utils.translation import gettext as _

from portal.received import from_front_proxy
from portal.stored_multipart import FileTooLarge, read_stored_multipart

log = logging.getLogger(__name__)

MB = 1024 * 1024
#: Room for the other parts of an upload's multipart body (boundaries, headers, the title).
MULTIPART_ALLOWANCE = 64 * 1024
#: The views that take attachment uploads (their bodies are parsed here, under the guard).
ATTACHMENT_UPLOAD_VIEWS = frozenset({"consortia:application_attachments", "application-attachments"})


def attachment_file_limit_bytes() -> int:
    """The largest file any programme accepts (the exact limit is the application's programme's)."""
    from django.db.models import Max

    from portal.models import Programme

    largest = Programme.objects.aggregate(largest=Max("attachment_max_file_mb"))["largest"]
    field_default = Programme._meta.get_field("attachment_max_file_mb").default
    return (largest or field_default) * MB


def too_large_message(limit_bytes: int, *, upload: bool) -> str:
    mb = f"{limit_bytes / MB:g}"
    if upload:
        return _("The file is larger than the limit of %(mb)s MB per file. Nothing was stored.") % {"mb": mb}
    return _("The request is larger than the limit of %(mb)s MB. Nothing was changed.") % {"mb": mb}


class LimitedUploadHandler(FileUploadHandler):
    """Passes file data on to the next handlers until a file passes ``limit`` bytes, then
    stops the upload (the rest of the body is not read) and records that it did."""

    # Django reads the body in chunks of the smallest handler chunk size: 16 kB bounds how
    # far past the limit a body is read (the other handlers take 64 kB).
    chunk_size = 16 * 1024

    def __init__(self, request=None, *, limit: int, chunk_size: int | None = None):
        super().__init__(request)
        self.limit = limit
        self.exceeded = False
        if chunk_size:
            self.chunk_size = chunk_size

    def receive_data_chunk(self, raw_data, start):
        if start + len(raw_data) > self.limit:
            self.exceeded = True
            # connection_reset: Django closes the files begun (deleting temporary ones)
            # and reads no more of the body.
            raise StopUpload(connection_reset=True)
        return raw_data

    def file_complete(self, file_size):
        return None  # the next handler (memory or temporary file) makes the file


class HashingTemporaryFileUploadHandler(TemporaryFileUploadHandler):
    """Write each uploaded file to a temporary file on disk (never to memory, whatever its
    size) and compute its SHA-256 from the same pieces as they pass: the file's ``sha256``
    is known when the body has been read, without reading the file again.

    Pieces of up to 1 MB: Django's parser costs per piece, and 16 kB pieces made a 20 MB
    file 1,280 trips through it."""

    chunk_size = 1024 * 1024

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.hasher = hashlib.sha256()

    def receive_data_chunk(self, raw_data, start):
        self.hasher.update(raw_data)
        self.file.write(raw_data)

    def file_complete(self, file_size):
        uploaded = super().file_complete(file_size)
        uploaded.sha256 = self.hasher.hexdigest()
        return uploaded


def _content_length(request) -> int | None:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None  # Django itself treats it as no body


def _view_name(request) -> str:
    try:
        return resolve(request.path_info).view_name
    except Resolver404:
        return ""


def take_proxy_stored_body(request):
    """Read ``request``'s body from the file the front proxy stored it in, if the proxy
    handed one over and is believed (module docstring): the open file (the caller closes it),
    ``None`` if the body is on the socket as usual. ``OSError`` if a believed hand-over
    names a file that cannot be read (the proxy and the portal disagree about the folder)."""
    named = request.META.get("HTTP_X_BODY_FILE", "")
    folder = getattr(settings, "PROXY_BODY_DIR", "")
    if not (named and folder) or not from_front_proxy(request):
        return None
    path = os.path.realpath(named)
    if os.path.dirname(path) != os.path.realpath(folder):
        raise OSError(f"the handed-over body {named!r} is not directly inside PROXY_BODY_DIR")
    try:  # for writing, so that the body can be given back once read (portal.stored_multipart)
        fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW)
    except OSError as exc:  # a folder mounted read only, a file the proxy lets others only read
        if exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    handle = open(fd, "rb")  # noqa: SIM115 -- closed by the caller
    size = os.fstat(handle.fileno())
    if not stat.S_ISREG(size.st_mode):
        handle.close()
        raise OSError(f"the handed-over body {named!r} is not a regular file")
    request._stream = LimitedStream(handle, size.st_size)
    request.META["CONTENT_LENGTH"] = str(size.st_size)
    return handle


def _refusal(request, *, status: int, code: str, title: str, message: str, **extra):
    """The API's JSON error (``detail``, ``code`` and ``extra``) or the page saying ``title``."""
    if request.path_info.startswith("/api/"):
        return JsonResponse({"detail": message, "code": code, **extra}, status=status)
    context = {"title": title, "message": message, "back_url": request.path}
    return render(request, "portal/refused.html", context, status=status)


def _refuse(request, limit_bytes: int, *, upload: bool):
    return _refusal(
        request, status=413, code="attachment_too_large" if upload else "too_large", title=_("Too large"),
        message=too_large_message(limit_bytes, upload=upload), limit_bytes=limit_bytes,
    )  # fmt: skip


def _unreadable(request):
    return _refusal(
        request, status=502, code="upload_unreadable", title=_("Upload not received"),
        message=_("The upload could not be received. Nothing was stored; please send it again in a few minutes."),
    )  # fmt: skip


class RequestSizeLimitMiddleware:
    """See the module docstring. Placed before anything that reads the body (CSRF does, in
    its ``process_view``, which runs after every middleware's request phase)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method not in ("POST", "PUT", "PATCH"):
            return self.get_response(request)
        upload = _view_name(request) in ATTACHMENT_UPLOAD_VIEWS
        stored = None
        if upload:
            try:
                stored = take_proxy_stored_body(request)
            except OSError as exc:
                log.error("upload refused: %s (check PROXY_BODY_DIR against the proxy's folder)", exc)
                return _unreadable(request)
        try:
            return self._limited(request, upload, stored)
        finally:
            if stored is not None:
                stored.close()

    def _limited(self, request, upload: bool, stored):
        if upload:
            file_limit = attachment_file_limit_bytes()
            body_limit = file_limit + MULTIPART_ALLOWANCE
        else:
            file_limit = body_limit = settings.REQUEST_BODY_MAX_MB * MB
        length = _content_length(request)
        if length is not None and length > body_limit:
            return _refuse(request, file_limit, upload=upload)
        if stored is not None and request.method == "POST" and request.content_type == "multipart/form-data":
            # The proxy's file, read in place (portal/stored_multipart.py); an unusual body
            # goes on to Django's parser below.
            boundary = request.content_params.get("boundary", "")
            try:
                parsed = read_stored_multipart(stored, boundary.encode("ascii", "replace"), file_limit=file_limit)
            except FileTooLarge:
                return _refuse(request, file_limit, upload=True)
            if parsed is not None:
                request._post, request._files = parsed
                request._read_started = True  # the body is read: DRF takes request.POST and FILES
                return self.get_response(request)
            stored.seek(0)
        guard = None
        if request.content_type == "multipart/form-data":
            if upload:  # attachments: streamed to disk and hashed on the way (none held in memory)
                # Pieces of 1/64 of the limit, at most 1 MB: few trips through the parser for a
                # large file, and at most 1/64 of the limit read past it before the guard stops.
                store = HashingTemporaryFileUploadHandler(request)
                store.chunk_size = max(16 * 1024, min(store.chunk_size, file_limit // 64))
                guard = LimitedUploadHandler(request, limit=file_limit, chunk_size=store.chunk_size)
                request.upload_handlers = [guard, store]
            else:
                guard = LimitedUploadHandler(request, limit=file_limit)
                request.upload_handlers.insert(0, guard)
            if upload and request.method == "POST":
                try:
                    request.FILES  # noqa: B018 -- parse now, under the guard, before any view code runs
                except (MultiPartParserError, RequestDataTooBig):  # malformed, too many parts or fields
                    if not request.path_info.startswith("/api/"):
                        raise  # Django's own 400 page
                    message = _(
                        "The multipart body could not be read (malformed, or too many parts). Nothing was stored."
                    )
                    return JsonResponse({"detail": message, "code": "parse_error"}, status=400)
                if guard.exceeded:
                    return _refuse(request, file_limit, upload=True)
        response = self.get_response(request)
        if guard is not None and guard.exceeded:
            # A body parsed later (by a view) ran into the limit: the view saw no file.
            return _refuse(request, file_limit, upload=upload)
        return response
