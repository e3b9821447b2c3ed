from django.urls import path

from . import api

urlpatterns = [
    path("projects/<int:pk>/next/", api.NextTaskApi.as_view(), name="api-next"),
    path("assignments/<int:pk>/submit/", api.SubmitApi.as_view(), name="api-submit"),
    path("assignments/<int:pk>/skip/", api.SkipApi.as_view(), name="api-skip"),
]
