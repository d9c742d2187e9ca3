"""Pages of the evaluations app (namespace `evaluations`)."""

from django.urls import path

from evaluations import dossier_views, views

app_name = "evaluations"

urlpatterns = [
    # officers
    path("phases/", views.PhaseListView.as_view(), name="phase_list"),
    path("phases/new/", views.PhaseEditView.as_view(), name="phase_create"),
    path("phases/<int:pk>/", views.PhaseDetailView.as_view(), name="phase_detail"),
    path("phases/<int:pk>/edit/", views.PhaseEditView.as_view(), name="phase_edit"),
    path("phases/<int:pk>/do/<slug:action>/", views.PhaseActionView.as_view(), name="phase_action"),
    path("phases/<int:pk>/assignments/", views.PhaseAssignmentsView.as_view(), name="phase_assignments"),
    path("phases/<int:pk>/ranking/", views.PhaseRankingView.as_view(), name="phase_ranking"),
    path("phases/<int:pk>/ranking.<str:fmt>", views.PhaseExportView.as_view(), name="phase_export"),
    path("phases/<int:pk>/gates/", views.PhaseGatesView.as_view(), name="phase_gates"),
    path("phases/<int:pk>/user-panel/", views.PanelImportView.as_view(), name="panel_import"),
    path("appeals/", views.AppealListView.as_view(), name="appeal_list"),
    path("appeals/<int:pk>/", views.AppealDecideView.as_view(), name="appeal_decide"),
    # reviewers
    path("reviews/", views.ReviewerQueueView.as_view(), name="reviewer_queue"),
    path("reviews/<int:pk>/declare/", views.DeclarationView.as_view(), name="assignment_declare"),
    path("reviews/<int:pk>/", views.ScoringView.as_view(), name="assignment_score"),
    path(
        "reviews/<int:pk>/attachments/<int:attachment>/", views.ReviewAttachmentView.as_view(), name="review_attachment"
    ),
    path("reviews/<int:pk>/dossier.zip", dossier_views.ReviewDossierView.as_view(), name="review_dossier"),
    # applicants
    path("results/", views.MyResultsView.as_view(), name="my_results"),
    path("results/<int:phase>/<int:application>/", views.ResultDetailView.as_view(), name="result_detail"),
    path("phases/<int:pk>/benchmarks/<int:application>/", views.BenchmarkSubmitView.as_view(), name="benchmarks"),
]
