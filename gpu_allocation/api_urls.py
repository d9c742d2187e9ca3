"""API routes of the gpu_allocation app, mounted under /api/v1/."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from gpu_allocation.api import AllocationRunViewSet, ProgrammeAllocationRunsView

router = SimpleRouter()
router.register("allocation-runs", AllocationRunViewSet, basename="allocation-run")

urlpatterns = [
    # The programmes' viewset lives in portal; this nested route is a plain path.
    path(
        "programmes/<int:programme_id>/allocation-runs/",
        ProgrammeAllocationRunsView.as_view(),
        name="programme-allocation-runs",
    ),
    *router.urls,
]
