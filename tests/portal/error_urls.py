"""The portal's URLs plus views that fail on purpose, for the error-page tests."""

from django.core.exceptions import PermissionDenied
from django.db import OperationalError
from django.urls import path

from portal.urls import handler400, handler404, handler500, urlpatterns  # noqa: F401 -- the same handlers


def refused(request):
    raise PermissionDenied


def broken(request):
    raise RuntimeError("a programming error")


def database_gone(request):
    raise OperationalError("connection refused")


urlpatterns = [
    path("test-errors/403/", refused),
    path("test-errors/500/", broken),
    path("test-errors/503/", database_gone),
    *urlpatterns,
]
