from django.urls import path

from . import policy_views, views

urlpatterns = [
    path("projects/<id:pk>/models/", views.models_page, name="reward-models"),
    path("projects/<id:pk>/models/train/", views.train_now, name="reward-models-train"),
    path("projects/<id:pk>/policies/", policy_views.policies_page, name="policies"),
    path("projects/<id:pk>/policies/train/", policy_views.train_policy, name="policies-train"),
    path("projects/<id:pk>/policies/candidates/", policy_views.generate_candidates,
         name="policies-candidates"),
    path("projects/<id:pk>/policies/<id:version>/compare/", policy_views.policy_compare,
         name="policy-compare"),
]
