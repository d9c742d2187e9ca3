"""Pages of the evaluations app (namespace `evaluations`)."""

from django.urls import path  # noqa: F401 -- patterns are added below

app_name = "evaluations"

urlpatterns: list = []
