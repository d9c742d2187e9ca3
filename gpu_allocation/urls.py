"""Pages of the gpu_allocation app (namespace `gpu_allocation`)."""

from django.urls import path  # noqa: F401 -- patterns are added below

app_name = "gpu_allocation"

urlpatterns: list = []

# --- Award notices (gpu_allocation/notice_views.py) -----------------------------------------
from gpu_allocation import notice_views  # noqa: E402 -- kept with the block it serves

urlpatterns += [
    path("notices/", notice_views.NoticeListView.as_view(), name="notice_list"),
    path("notices/<int:pk>/pdf/", notice_views.NoticePdfView.as_view(), name="notice_pdf"),
    path("notices/runs/<int:run_id>/issue/", notice_views.NoticeIssueView.as_view(), name="notice_issue"),
    path("notices/runs/<int:run_id>/export/", notice_views.NoticeExportStartView.as_view(), name="notice_export_start"),
    path("notices/exports/<int:pk>/", notice_views.NoticeExportProgressView.as_view(), name="notice_export_progress"),
    path("notices/exports/<int:pk>/zip/", notice_views.NoticeExportDownloadView.as_view(), name="notice_export_download"),
]
# --- end award notices ------------------------------------------------------------------------
