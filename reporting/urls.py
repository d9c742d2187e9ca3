"""Pages of reports after the award (namespace ``reporting``)."""

from django.urls import path

from reporting import views

app_name = "reporting"

urlpatterns = [
    path("", views.MyReportsView.as_view(), name="my_reports"),
    path("usage/", views.MyUsageView.as_view(), name="my_usage"),
    path("<int:pk>/", views.ReportView.as_view(), name="report"),
    path("<int:pk>/usage/", views.UsageUploadView.as_view(), name="report_usage"),
    path("<int:pk>/spending/", views.SpendingAddView.as_view(), name="report_spending"),
    path("<int:pk>/spending/<int:line_id>/evidence/", views.EvidenceView.as_view(), name="report_evidence"),
    path("<int:pk>/submit/", views.ReportSubmitView.as_view(), name="report_submit"),
    path("<int:pk>/review/", views.ReportReviewView.as_view(), name="report_review"),
    path("officer/", views.OfficerReportsView.as_view(), name="officer_reports"),
    path("officer/utilisation/", views.UtilisationView.as_view(), name="utilisation"),
    path("reclaims/", views.ReclaimListView.as_view(), name="reclaims"),
    path("reclaims/propose/", views.ReclaimProposeView.as_view(), name="reclaim_propose"),
    path("reclaims/<int:pk>/respond/", views.ReclaimRespondView.as_view(), name="reclaim_respond"),
    path("reclaims/<int:pk>/decide/", views.ReclaimDecideView.as_view(), name="reclaim_decide"),
]
