"""The answer to a request the portal cannot serve because the database or the media disk
failed: a short retry message with an incident id, never Django's bare 500 page.

``handler500`` (``portal/urls.py``) runs for any uncaught exception, raised by a view or by
a middleware (a session or user read), while the exception is still being handled, so it
can look at it:

* the database unreachable (``OperationalError``, ``InterfaceError``): 503 with
  ``Retry-After``;
* the media disk full (``ENOSPC``, ``EDQUOT``): 507; the storage removed its partial file
  and the transaction rolled the row back (``portal/storage.py``);
* anything else: Django's own 500 page.

Each answer carries an incident id that is also in the log line at ERROR, so a report from
a user can be matched with the log. The page renders without the request's context (no
user, no session, no database) and in plain words, Korean first.
"""

from __future__ import annotations

import errno
import logging
import secrets
import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.template import loader
from django.views import defaults

log = logging.getLogger(__name__)

DATABASE_ERRORS = (OperationalError, InterfaceError)
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
RETRY_AFTER_SECONDS = 30

_MESSAGES = {
    "database_unavailable": {
        "status": 503,
        "title_ko": "잠시 후 다시 시도해 주십시오",
        "message_ko": "데이터베이스에 연결할 수 없어 요청을 처리하지 못했습니다. 저장된 내용은 그대로이며, "
        "이 요청으로 바뀐 것은 없습니다. 30초쯤 뒤에 다시 시도해 주십시오.",
        "title_en": "Please try again shortly",
        "message_en": "The portal could not reach its database, so this request was not carried out. "
        "Nothing already saved was lost and nothing was changed. Please try again in about 30 seconds.",
    },
    "storage_full": {
        "status": 507,
        "title_ko": "파일을 저장하지 못했습니다",
        "message_ko": "파일 저장 공간이 가득 차 업로드를 저장하지 못했습니다. 아무것도 저장되지 않았습니다. "
        "잠시 후 다시 시도하시고, 계속되면 사업 담당자에게 사건 번호를 알려 주십시오.",
        "title_en": "The file could not be stored",
        "message_en": "The file storage is full, so the upload was not stored and nothing was saved. "
        "Please try again later; if it persists, give the programme office the incident id.",
    },
}


def incident_new() -> str:
    return secrets.token_hex(6)


def _answer(request, code: str, incident: str) -> HttpResponse:
    text = _MESSAGES[code]
    if request.path.startswith("/api/"):
        response = JsonResponse(
            {"detail": f"{text['message_ko']} / {text['message_en']}", "code": code, "incident": incident},
            status=text["status"],
        )
    else:
        body = loader.get_template("portal/outage.html").render({**text, "incident": incident})
        response = HttpResponse(body, status=text["status"])
    if text["status"] == 503:
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["X-Incident-Id"] = incident
    return response


def outage_kind(exc: BaseException | None) -> str | None:
    """``database_unavailable``, ``storage_full`` or ``None`` (another error)."""
    seen = set()
    while exc is not None and id(exc) not in seen:  # the cause may be wrapped (a storage or template error)
        seen.add(id(exc))
        if isinstance(exc, DATABASE_ERRORS):
            return "database_unavailable"
        if isinstance(exc, OSError) and exc.errno in DISK_FULL:
            return "storage_full"
        exc = exc.__cause__ or exc.__context__
    return None


def server_error(request, *args, **kwargs):
    """``handler500``: 503 or 507 for the outages above, Django's 500 page otherwise."""
    exc = sys.exc_info()[1]
    kind = outage_kind(exc)
    if kind is None:
        return defaults.server_error(request, *args, **kwargs)
    incident = incident_new()
    log.error(
        "incident %s: %s on %s %s (%s: %s)",
        incident,
        kind,
        request.method,
        request.path,
        exc.__class__.__name__,
        str(exc).strip().splitlines()[0] if str(exc).strip() else "",
    )
    return _answer(request, kind, incident)
