"""Pages of the consortia app (namespace `consortia`)."""

from django.urls import path  # noqa: F401 -- patterns are added below

app_name = "consortia"

urlpatterns: list = []
