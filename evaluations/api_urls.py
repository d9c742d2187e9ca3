"""API routes of the evaluations app, mounted under /api/v1/."""

from rest_framework.routers import SimpleRouter

from evaluations.api import AppealViewSet, AssignmentViewSet, PhaseViewSet, ResultViewSet

router = SimpleRouter()
router.register("phases", PhaseViewSet, basename="phase")
router.register("assignments", AssignmentViewSet, basename="assignment")
router.register("appeals", AppealViewSet, basename="appeal")
router.register("results", ResultViewSet, basename="result")

urlpatterns = router.urls
