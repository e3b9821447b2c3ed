from django.urls import path

from . import api

urlpatterns = [
    path("projects/<id:pk>/items/import/", api.ItemImportApi.as_view(), name="api-items-import"),
    path("projects/<id:pk>/items/import/<uuid:job>/", api.ItemImportJobApi.as_view(),
         name="api-items-import-job"),
]
