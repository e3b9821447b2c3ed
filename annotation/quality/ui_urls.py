from django.urls import path

from . import views

urlpatterns = [
    path("projects/<id:pk>/dashboard/", views.dashboard, name="quality-dashboard"),
    path("projects/<id:pk>/review/", views.review, name="quality-review"),
]
