from django.urls import path

from . import api

urlpatterns = [
    path("projects/<id:pk>/next/", api.NextTaskApi.as_view(), name="api-next"),
    path("assignments/<id:pk>/submit/", api.SubmitApi.as_view(), name="api-submit"),
    path("assignments/<id:pk>/skip/", api.SkipApi.as_view(), name="api-skip"),
]
