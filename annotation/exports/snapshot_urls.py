from django.urls import path

from . import snapshot_api as api

urlpatterns = [
    path("projects/<id:pk>/snapshots/", api.SnapshotListCreateApi.as_view(),
         name="api-snapshots"),
    path("projects/<id:pk>/snapshots/<uuid:snapshot>/", api.SnapshotDetailApi.as_view(),
         name="api-snapshot"),
    path("projects/<id:pk>/snapshots/<uuid:snapshot>/download/",
         api.SnapshotDownloadApi.as_view(), name="api-snapshot-download"),
]
