from django.urls import path

from . import views

urlpatterns = [
    path("projects/<int:pk>/annotate/", views.annotate, name="annotate"),
]
