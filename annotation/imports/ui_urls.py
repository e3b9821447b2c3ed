from django.urls import path

from . import views

urlpatterns = [
    path("projects/<int:pk>/import/", views.import_items, name="import-items"),
]
