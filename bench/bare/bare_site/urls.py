from django.urls import path
from rows.views import list50

urlpatterns = [path("list50/", list50, name="list50")]
