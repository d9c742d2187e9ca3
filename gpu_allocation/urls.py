"""Pages of the gpu_allocation app (namespace `gpu_allocation`)."""

from django.urls import path

from gpu_allocation import views

app_name = "gpu_allocation"

urlpatterns: list = [
    path("pool/", views.PoolView.as_view(), name="pool"),
    path("pool/new/", views.ClusterEditView.as_view(), name="cluster_create"),
    path("pool/<int:pk>/edit/", views.ClusterEditView.as_view(), name="cluster_edit"),
    path("runs/", views.RunListView.as_view(), name="run_list"),
    path("programmes/<int:programme_id>/runs/start/", views.RunStartView.as_view(), name="run_start"),
    path("runs/<int:pk>/", views.RunDetailView.as_view(), name="run_detail"),
    path("runs/<int:pk>/progress/", views.RunProgressView.as_view(), name="run_progress"),
    path("runs/<int:pk>/approve/", views.RunApproveView.as_view(), name="run_approve"),
]

# --- Award notices (gpu_allocation/notice_views.py) -----------------------------------------
from gpu_allocation import notice_views  # noqa: E402 -- kept with the block it serves

urlpatterns += [
    path("notices/", notice_views.NoticeListView.as_view(), name="notice_list"),
    path("notices/<int:pk>/pdf/", notice_views.NoticePdfView.as_view(), name="notice_pdf"),
    path("notices/runs/<int:run_id>/issue/", notice_views.NoticeIssueView.as_view(), name="notice_issue"),
    path("notices/runs/<int:run_id>/export/", notice_views.NoticeExportStartView.as_view(), name="notice_export_start"),
    path("notices/exports/<int:pk>/", notice_views.NoticeExportProgressView.as_view(), name="notice_export_progress"),
    path(
        "notices/exports/<int:pk>/zip/", notice_views.NoticeExportDownloadView.as_view(), name="notice_export_download"
    ),
]
# --- end award notices ------------------------------------------------------------------------
