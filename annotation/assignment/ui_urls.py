from django.urls import path

from . import views

urlpatterns = [
    path("projects/<id:pk>/annotate/", views.annotate, name="annotate"),
    path("projects/<id:pk>/my-labels/", views.my_labels, name="my-labels"),
]
