"""Pages of award notices, mounted at /allocation/notices/ in the namespace ``gpu_allocation``
that they share with the allocation pages (``portal/urls.py``): their names
(``gpu_allocation:notice_list``…) are the ones the access log and the navigation record."""

from django.urls import path

from awards import views

urlpatterns = [
    path("notices/", views.NoticeListView.as_view(), name="notice_list"),
    path("notices/<int:pk>/pdf/", views.NoticePdfView.as_view(), name="notice_pdf"),
    path("notices/runs/<int:run_id>/issue/", views.NoticeIssueView.as_view(), name="notice_issue"),
    path("notices/runs/<int:run_id>/export/", views.NoticeExportStartView.as_view(), name="notice_export_start"),
    path("notices/exports/<int:pk>/", views.NoticeExportProgressView.as_view(), name="notice_export_progress"),
    path("notices/exports/<int:pk>/zip/", views.NoticeExportDownloadView.as_view(), name="notice_export_download"),
]
