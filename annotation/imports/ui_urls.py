from django.urls import path

from . import views

urlpatterns = [
    path("projects/<id:pk>/import/", views.import_items, name="import-items"),
]
