"""API routes of the gpu_allocation app, mounted under /api/v1/."""

from rest_framework.routers import SimpleRouter

router = SimpleRouter()

urlpatterns = router.urls

# --- Award notices (gpu_allocation/notice_api.py) -------------------------------------------
from gpu_allocation.notice_api import AwardNoticeViewSet, NoticeExportViewSet  # noqa: E402 -- kept with its block

notice_router = SimpleRouter()
notice_router.register("award-notices", AwardNoticeViewSet, basename="award-notice")
notice_router.register("notice-exports", NoticeExportViewSet, basename="notice-export")
urlpatterns += notice_router.urls
# --- end award notices ------------------------------------------------------------------------
