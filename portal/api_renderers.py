"""The API's one datetime form, written by the JSON renderer (``docs/api.md``).

Kept apart from ``portal.api`` because DRF imports its renderer classes while its views
module loads; this module imports neither views nor models.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.encoders import JSONEncoder

from portal.formatting import KST


def api_datetime(value: dt.datetime) -> str:
    """The API's one datetime form: RFC 3339 in Korea Standard Time with microseconds,
    ``2027-03-31T18:00:00.000000+09:00`` (Korea keeps no daylight saving time)."""
    if timezone.is_naive(value):
        value = timezone.make_aware(value, dt.UTC)
    return value.astimezone(KST).isoformat(timespec="microseconds")


class PortalJSONEncoder(JSONEncoder):
    """DRF's encoder with every datetime, from a serializer field or a raw answer, in the
    API's one form (serializer fields hand their datetimes over: ``DATETIME_FORMAT = None``)."""

    def default(self, obj):
        if isinstance(obj, dt.datetime):
            return api_datetime(obj)
        return super().default(obj)


class PortalJSONRenderer(JSONRenderer):
    encoder_class = PortalJSONEncoder
