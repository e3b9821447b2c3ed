from django.urls import path

from . import api

urlpatterns = [
    path("projects/<int:pk>/reward-models/", api.RewardModelListApi.as_view(),
         name="api-reward-models"),
    path("projects/<int:pk>/reward-models/train/", api.TrainApi.as_view(),
         name="api-reward-models-train"),
    path("projects/<int:pk>/reward-models/score/", api.ScoreApi.as_view(),
         name="api-reward-models-score"),
    path("training-runs/<int:pk>/", api.TrainingRunApi.as_view(), name="api-training-run"),
    path("assignments/<int:pk>/feedback/", api.FeedbackApi.as_view(), name="api-feedback"),
]
