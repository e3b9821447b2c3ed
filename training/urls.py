from django.urls import path

from . import views

urlpatterns = [
    path("projects/<id:pk>/models/", views.models_page, name="reward-models"),
    path("projects/<id:pk>/models/train/", views.train_now, name="reward-models-train"),
]
