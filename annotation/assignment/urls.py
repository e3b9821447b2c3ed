from django.urls import path

from . import api, history_api

urlpatterns = [
    path("projects/<id:pk>/next/", api.NextTaskApi.as_view(), name="api-next"),
    path("assignments/<id:pk>/submit/", api.SubmitApi.as_view(), name="api-submit"),
    path("assignments/<id:pk>/skip/", api.SkipApi.as_view(), name="api-skip"),
    path("projects/<id:pk>/my-progress/", history_api.MyProgressApi.as_view(),
         name="api-my-progress"),
    path("projects/<id:pk>/my-labels/", history_api.MyLabelsApi.as_view(), name="api-my-labels"),
    path("annotations/<id:pk>/", history_api.LabelApi.as_view(), name="api-label"),
    path("annotations/<id:pk>/revise/", history_api.ReviseApi.as_view(), name="api-revise"),
]
