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

# --- Award notices (gpu_allocation/notice_api.py) -------------------------------------------
from gpu_allocation.notice_api import AwardNoticeViewSet, NoticeExportViewSet  # noqa: E402 -- kept with its block

notice_router = SimpleRouter()
notice_router.register("award-notices", AwardNoticeViewSet, basename="award-notice")
notice_router.register("notice-exports", NoticeExportViewSet, basename="notice-export")
urlpatterns += notice_router.urls
# --- end award notices ------------------------------------------------------------------------
