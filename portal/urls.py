from django.contrib import admin
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from portal import views
from portal.api import ProgrammeViewSet
from portal.language import set_language

router = DefaultRouter()
router.register("programmes", ProgrammeViewSet, basename="programme")

portal_patterns = [
    path("", views.HomeView.as_view(), name="home"),
    path("audit/", views.AuditLogView.as_view(), name="audit_log"),
    path("access-log/", views.AccessLogView.as_view(), name="access_log"),
    path("programmes/", views.ProgrammeListView.as_view(), name="programme_list"),
    path("programmes/new/", views.ProgrammeEditView.as_view(), name="programme_create"),
    path("programmes/<int:pk>/edit/", views.ProgrammeEditView.as_view(), name="programme_edit"),
]

# /allocation/: the allocation pages and the award notices' pages, one namespace, the names
# they have always had (the access log and the navigation store them).
allocation_patterns = [
    path("", include("gpu_allocation.urls")),
    path("", include("awards.urls")),
]

urlpatterns = [
    path("", include((portal_patterns, "portal"))),
    path("accounts/", include("allauth.urls")),
    path("i18n/setlang/", set_language, name="set_language"),  # records a signed-in person's choice too
    path("i18n/", include("django.conf.urls.i18n")),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(router.urls)),
    path("api/v1/", include("consortia.api_urls")),
    path("api/v1/", include("evaluations.api_urls")),
    path("api/v1/", include("gpu_allocation.api_urls")),
    path("api/v1/", include("awards.api_urls")),
    path("api/v1/", include("results.api_urls")),
    path("api/v1/", include("reporting.api_urls")),
    path("consortia/", include("consortia.urls")),
    path("evaluations/", include("evaluations.urls")),
    path("allocation/", include((allocation_patterns, "gpu_allocation"))),
    path("verify/", include("awards.verify_urls")),
    path("reports/", include("reporting.urls")),
    path("", include("results.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
]

# The database unreachable or the media disk full: 503/507 with a retry message and an
# incident id instead of the bare 500 page (portal/outage.py).
handler500 = "portal.outage.server_error"
# Under /api/ the error answers keep the API's one shape (docs/api.md).
handler400 = "portal.api.api_or_page_bad_request"
handler404 = "portal.api.api_or_page_not_found"
