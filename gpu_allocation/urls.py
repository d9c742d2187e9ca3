"""Pages of the gpu_allocation app, mounted at /allocation/ in the namespace ``gpu_allocation``,
which the award notices' pages share (``portal/urls.py``)."""

from django.urls import path

from gpu_allocation import views

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
