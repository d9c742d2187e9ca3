"""Pages of the consortia app (namespace `consortia`)."""

from django.urls import path

from consortia import dossier_views, exports, views

app_name = "consortia"

urlpatterns = [
    path("", views.MyConsortiaView.as_view(), name="my_consortia"),
    path("organisations/new/", views.OrganisationCreateView.as_view(), name="organisation_create"),
    path("new/", views.ConsortiumCreateView.as_view(), name="consortium_create"),
    path("<int:pk>/", views.ConsortiumDetailView.as_view(), name="consortium_detail"),
    path("<int:pk>/invite/", views.InvitationCreateView.as_view(), name="invitation_create"),
    path(
        "<int:pk>/invitations/<int:invitation_pk>/revoke/",
        views.InvitationRevokeView.as_view(),
        name="invitation_revoke",
    ),
    path("<int:pk>/members/<int:member_pk>/<str:verb>/", views.MemberActionView.as_view(), name="member_action"),
    path("invitations/<str:token>/", views.InvitationAcceptView.as_view(), name="invitation_accept"),
    path("applications/", views.MyApplicationsView.as_view(), name="my_applications"),
    path("applications/<int:pk>/", views.application_home, name="application_home"),
    path("applications/<int:pk>/step/<int:step>/", views.ApplicationStepView.as_view(), name="application_step"),
    path(
        "applications/<int:pk>/attachments/", views.ApplicationAttachmentsView.as_view(), name="application_attachments"
    ),
    path(
        "applications/<int:pk>/attachments/<int:attachment_pk>/remove/",
        views.AttachmentRemoveView.as_view(),
        name="attachment_remove",
    ),
    path(
        "applications/<int:pk>/attachments/<int:attachment_pk>/download/",
        views.AttachmentDownloadView.as_view(),
        name="attachment_download",
    ),
    path("applications/<int:pk>/review/", views.ApplicationReviewView.as_view(), name="application_review"),
    path("applications/<int:pk>/submit/", views.ApplicationSubmitView.as_view(), name="application_submit"),
    path("applications/<int:pk>/withdraw/", views.ApplicationWithdrawView.as_view(), name="application_withdraw"),
    path("applications/<int:pk>/versions/", views.VersionListView.as_view(), name="version_list"),
    path("applications/<int:pk>/versions/<int:number>/", views.VersionDetailView.as_view(), name="application_version"),
    path(
        "applications/<int:pk>/versions/<int:number>/receipt.pdf",
        dossier_views.VersionReceiptPdfView.as_view(),
        name="version_receipt_pdf",
    ),
    path(
        "applications/<int:pk>/versions/<int:number>/dossier.zip",
        dossier_views.VersionDossierView.as_view(),
        name="version_dossier",
    ),
    path("officer/applications/", views.OfficerApplicationListView.as_view(), name="officer_applications"),
    path(
        "officer/applications.<str:fmt>",
        exports.OfficerApplicationExportView.as_view(),
        name="officer_applications_export",
    ),
    path(
        "officer/applications/<int:pk>/",
        views.OfficerApplicationDetailView.as_view(),
        name="officer_application_detail",
    ),
]
