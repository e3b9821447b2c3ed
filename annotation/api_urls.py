from django.urls import include, path

from . import api

urlpatterns = [
    path("users/", api.UserCreateApi.as_view(), name="api-users"),
    path("projects/", api.ProjectListCreateApi.as_view(), name="api-projects"),
    path("projects/<int:pk>/", api.ProjectDetailApi.as_view(), name="api-project"),
    path("projects/<int:pk>/members/", api.MemberListCreateApi.as_view(), name="api-members"),
    path("projects/<int:pk>/members/<int:member_id>/", api.MemberDetailApi.as_view(),
         name="api-member"),
    path("projects/<int:pk>/guidelines/", api.GuidelineApi.as_view(), name="api-guidelines"),
    path("projects/<int:pk>/guidelines/acknowledge/", api.GuidelineAcknowledgeApi.as_view(),
         name="api-guidelines-ack"),
    path("projects/<int:pk>/items/", api.ItemListApi.as_view(), name="api-items"),
    path("", include("annotation.imports.urls")),
    path("", include("annotation.assignment.urls")),
]
