"""API routes of award notices, mounted under /api/v1/: ``award-notices/`` and ``notice-exports/``."""

from rest_framework.routers import SimpleRouter

from awards.api import AwardNoticeViewSet, NoticeExportViewSet

router = SimpleRouter()
router.register("award-notices", AwardNoticeViewSet, basename="award-notice")
router.register("notice-exports", NoticeExportViewSet, basename="notice-export")

urlpatterns = router.urls
