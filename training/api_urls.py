from django.urls import path

from . import api, policy_api

urlpatterns = [
    path("projects/<id:pk>/reward-models/", api.RewardModelListApi.as_view(),
         name="api-reward-models"),
    path("projects/<id:pk>/reward-models/train/", api.TrainApi.as_view(),
         name="api-reward-models-train"),
    path("projects/<id:pk>/reward-models/score/", api.ScoreApi.as_view(),
         name="api-reward-models-score"),
    path("projects/<id:pk>/reward-models/active/", api.ActiveRewardModelApi.as_view(),
         name="api-reward-models-active"),
    path("projects/<id:pk>/reward-models/<id:version>/activate/",
         api.ActivateRewardModelApi.as_view(), name="api-reward-models-activate"),
    path("projects/<id:pk>/policies/", policy_api.PolicyListApi.as_view(), name="api-policies"),
    path("projects/<id:pk>/policies/train/", policy_api.PolicyTrainApi.as_view(),
         name="api-policies-train"),
    path("projects/<id:pk>/policies/generate/", policy_api.GenerateApi.as_view(),
         name="api-policies-generate"),
    path("projects/<id:pk>/policies/candidates/", policy_api.CandidatesApi.as_view(),
         name="api-policies-candidates"),
    path("projects/<id:pk>/policies/<id:version>/comparison/", policy_api.ComparisonApi.as_view(),
         name="api-policy-comparison"),
    path("training-runs/<id:pk>/", api.TrainingRunApi.as_view(), name="api-training-run"),
    path("assignments/<id:pk>/feedback/", api.FeedbackApi.as_view(), name="api-feedback"),
]
