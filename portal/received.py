"""The time the portal received a request: one clock for every web process (SPEC §4).

A submission is judged by the moment the portal *received* it, not by when a web process
got round to it, and never by a web process's own clock (two processes, or two machines,
may disagree by minutes). That moment comes from one of two clocks, both shared by every
web process:

- **the front proxy's stamp**: nginx writes ``X-Request-Start: t=<seconds since the epoch>``
  (its ``$msec``, to the millisecond; ``t=<seconds>.<microseconds>`` is read exactly too)
  and ``X-Request-Start-Secret: <RECEIVED_STAMP_SECRET>`` on every request it passes on
  (``deploy/nginx/templates/portal.conf.template``), replacing whatever a client sent under
  those names. The stamp is believed only when ``RECEIVED_STAMP_SECRET`` is set and the
  request carries it, and — when ``RECEIVED_STAMP_PROXIES`` lists addresses — only from
  one of them. The time a request waited for a free web worker is then inside the stamp:
  nobody is refused for waiting in the portal's own queue.
- otherwise **the database's clock** (``clock_timestamp()``) read by
  ``ReceivedTimeMiddleware`` as the first thing the portal does with the request, before
  sessions, authentication or the body are touched.

A stamp from a client (no secret, a wrong one, or from an address not listed) is ignored
and the database's clock is used. Only requests that change something (POST, PUT, PATCH,
DELETE) are stamped: reading pages costs no query for it.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import connection

PROXY = "proxy"
DATABASE = "database"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Received:
    """When the portal received a request, and which clock said so (``proxy`` or ``database``)."""

    at: datetime
    clock: str


def database_now() -> datetime:
    """The database server's clock now (``clock_timestamp()``, not the transaction's start)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT clock_timestamp()" if connection.vendor == "postgresql" else "SELECT NULL")
        value = cursor.fetchone()[0]
    if value is None:  # SQLite (local development only) has no server clock: the process's own
        from django.utils import timezone

        return timezone.now()
    return value


def parse_stamp(raw: str) -> datetime | None:
    """``t=1754038800.123`` (seconds, any number of decimals) as an aware UTC datetime,
    read exactly (no binary floating point); ``None`` for anything else."""
    value = raw.strip().removeprefix("t=")
    if not value or len(value) > 32:
        return None
    try:
        seconds = Decimal(value)
    except InvalidOperation:
        return None
    if not seconds.is_finite() or seconds <= 0 or seconds > 10**11:
        return None
    micros = int(seconds.scaleb(6).to_integral_value())
    return _EPOCH + timedelta(microseconds=micros)


def from_front_proxy(request) -> bool:
    """Whether ``request`` came through the portal's own front proxy: it carries
    ``RECEIVED_STAMP_SECRET`` (and, when ``RECEIVED_STAMP_PROXIES`` lists addresses, comes
    from one of them). Only then are the headers the proxy writes believed."""
    secret = getattr(settings, "RECEIVED_STAMP_SECRET", "")
    if not secret:
        return False
    sent = request.META.get("HTTP_X_REQUEST_START_SECRET", "")
    if not hmac.compare_digest(sent.encode(), secret.encode()):
        return False
    proxies = getattr(settings, "RECEIVED_STAMP_PROXIES", [])
    return not proxies or request.META.get("REMOTE_ADDR") in proxies


def proxy_stamp(request) -> datetime | None:
    """The front proxy's stamp of ``request``, if it is believed (see the module docstring)."""
    if not from_front_proxy(request):
        return None
    return parse_stamp(request.META.get("HTTP_X_REQUEST_START", ""))


def stamp(request) -> Received:
    at = proxy_stamp(request)
    if at is not None:
        return Received(at=at, clock=PROXY)
    return Received(at=database_now(), clock=DATABASE)


def received(request) -> Received:
    """The received time of ``request`` (stamped by the middleware; stamped now if it was not)."""
    value = getattr(request, "portal_received", None)
    if value is None:
        value = stamp(request)
        request.portal_received = value
    return value


class ReceivedTimeMiddleware:
    """Stamp every request that changes something with its received time, first of all.

    Placed right after the health answer, before any middleware that reads the session, the
    user or the body, so that the database's clock is read when handling begins."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method in UNSAFE_METHODS:
            request.portal_received = stamp(request)
        return self.get_response(request)
