from django.urls import path

from . import api

urlpatterns = [
    path("projects/<id:pk>/reward-models/", api.RewardModelListApi.as_view(),
         name="api-reward-models"),
    path("projects/<id:pk>/reward-models/train/", api.TrainApi.as_view(),
         name="api-reward-models-train"),
    path("projects/<id:pk>/reward-models/score/", api.ScoreApi.as_view(),
         name="api-reward-models-score"),
    path("training-runs/<id:pk>/", api.TrainingRunApi.as_view(), name="api-training-run"),
    path("assignments/<id:pk>/feedback/", api.FeedbackApi.as_view(), name="api-feedback"),
]
