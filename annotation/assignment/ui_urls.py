from django.urls import path

from . import views

urlpatterns = [
    path("projects/<id:pk>/annotate/", views.annotate, name="annotate"),
]
