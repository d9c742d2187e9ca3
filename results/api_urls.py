"""API routes of the results app, mounted under /api/v1/."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from results.api import BenchmarkImportViewSet, ObjectiveMappingView, ReferenceModelViewSet

router = SimpleRouter()
router.register("benchmark-imports", BenchmarkImportViewSet, basename="benchmark-import")
router.register("reference-models", ReferenceModelViewSet, basename="reference-model")

urlpatterns = [
    path("phases/<int:pk>/objective-mapping/", ObjectiveMappingView.as_view(), name="objective-mapping"),
    *router.urls,
]
