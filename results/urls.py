"""Pages of the results app (namespace ``results``): evidence under /evidence/, the public
pages and open data under /open/ (no login)."""

from django.urls import path

from results import views

app_name = "results"

urlpatterns = [
    # teams: results files
    path("evidence/phases/<int:pk>/teams/<int:application>/import/", views.ImportView.as_view(), name="import"),
    path("evidence/imports/<int:pk>/", views.ImportDetailView.as_view(), name="import_detail"),
    path("evidence/imports/<int:pk>/file/", views.ImportFileView.as_view(), name="import_file"),
    # officers: mapping and reference models
    path("evidence/phases/<int:pk>/mapping/", views.MappingView.as_view(), name="mapping"),
    path("evidence/phases/<int:pk>/reference-models/", views.ReferenceModelsView.as_view(), name="reference_models"),
    # public
    path("open/", views.PublicIndexView.as_view(), name="public_index"),
    path("open/verify/", views.PublicVerifyView.as_view(), name="public_verify"),
    path("open/schema/results.schema.json", views.PublicSchemaView.as_view(), name="public_schema"),
    path("open/programmes/<int:pk>/", views.PublicProgrammeView.as_view(), name="public_programme"),
    path("open/programmes/<int:pk>/phases/<int:phase>/", views.PublicPhaseView.as_view(), name="public_phase"),
    path(
        "open/programmes/<int:pk>/<str:name>",
        views.PublicExportView.as_view(),
        name="public_export",
    ),
]
