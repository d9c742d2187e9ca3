"""API routes of the reporting app, mounted under /api/v1/."""

from rest_framework.routers import SimpleRouter

from reporting.api import GpuReclaimViewSet, ProgressReportViewSet

router = SimpleRouter()
router.register("reports", ProgressReportViewSet, basename="report")
router.register("reclaims", GpuReclaimViewSet, basename="reclaim")

urlpatterns = router.urls
