from django.urls import path

from . import views

urlpatterns = [
    path("projects/<id:pk>/export/", views.export, name="export"),
]
