"""The public verification page of award notices (namespace ``verify``, mounted at /verify/)."""

from django.urls import path

from gpu_allocation.notice_views import VerifyNoticeView

app_name = "verify"

urlpatterns = [
    path("<str:code>/", VerifyNoticeView.as_view(), name="notice"),
]
