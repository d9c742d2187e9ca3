"""API routes of the consortia app, mounted under /api/v1/."""

from rest_framework.routers import SimpleRouter

from consortia.api import ApplicationViewSet, ConsortiumViewSet, OrganisationViewSet

router = SimpleRouter()
router.register("organisations", OrganisationViewSet, basename="organisation")
router.register("consortia", ConsortiumViewSet, basename="consortium")
router.register("applications", ApplicationViewSet, basename="application")

urlpatterns = router.urls
