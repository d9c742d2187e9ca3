"""Pages of the gpu_allocation app (namespace `gpu_allocation`)."""

from django.urls import path  # noqa: F401 -- patterns are added below

app_name = "gpu_allocation"

urlpatterns: list = []
