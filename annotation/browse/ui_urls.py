"""Routes of the item browser (views.py)."""

from django.urls import path

from . import views

urlpatterns = [
    path("projects/<id:pk>/items/", views.item_list, name="browse-items"),
    path("projects/<id:pk>/items/<id:item_id>/", views.item_detail, name="browse-item"),
]
