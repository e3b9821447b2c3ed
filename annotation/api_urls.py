from django.urls import include, path

from . import api

urlpatterns = [
    path("users/", api.UserCreateApi.as_view(), name="api-users"),
    path("projects/", api.ProjectListCreateApi.as_view(), name="api-projects"),
    path("projects/<id:pk>/", api.ProjectDetailApi.as_view(), name="api-project"),
    path("projects/<id:pk>/members/", api.MemberListCreateApi.as_view(), name="api-members"),
    path("projects/<id:pk>/members/<id:member_id>/", api.MemberDetailApi.as_view(),
         name="api-member"),
    path("projects/<id:pk>/guidelines/", api.GuidelineApi.as_view(), name="api-guidelines"),
    path("projects/<id:pk>/guidelines/acknowledge/", api.GuidelineAcknowledgeApi.as_view(),
         name="api-guidelines-ack"),
    path("projects/<id:pk>/items/", api.ItemListApi.as_view(), name="api-items"),
    path("", include("annotation.imports.urls")),
    path("", include("annotation.quality.urls")),
    path("", include("annotation.assignment.urls")),
    path("", include("annotation.webhooks.urls")),
    path("", include("annotation.exports.snapshot_urls")),
    path("", include("annotation.exports.urls")),
]
