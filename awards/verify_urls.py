"""The public verification page of award notices (namespace ``verify``, mounted at /verify/)."""

from django.urls import path

from awards.views import VerifyNoticeView

app_name = "verify"

urlpatterns = [
    path("<str:code>/", VerifyNoticeView.as_view(), name="notice"),
]
