from django.urls import path

from . import api

urlpatterns = [
    path("projects/<id:pk>/export/", api.ExportApi.as_view(), name="api-export"),
    path("projects/<id:pk>/export/count/", api.ExportCountApi.as_view(), name="api-export-count"),
]
