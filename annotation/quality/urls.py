from django.urls import path

from . import api

urlpatterns = [
    path("projects/<id:pk>/agreement/", api.AgreementApi.as_view(), name="api-agreement"),
    path("projects/<id:pk>/annotators/", api.AnnotatorsApi.as_view(), name="api-annotators"),
    path("projects/<id:pk>/progress/", api.ProgressApi.as_view(), name="api-progress"),
    path("projects/<id:pk>/review-queue/", api.ReviewQueueApi.as_view(), name="api-review-queue"),
    path("projects/<id:pk>/consensus/", api.RecomputeApi.as_view(), name="api-consensus"),
    path("items/<id:pk>/", api.ItemDetailApi.as_view(), name="api-item"),
    path("items/<id:pk>/review/", api.ReviewApi.as_view(), name="api-review"),
]
