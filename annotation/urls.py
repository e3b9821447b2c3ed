from django.contrib.auth import views as auth_views
from django.urls import include, path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("projects/<id:pk>/", views.project_detail, name="project"),
    path("projects/<id:pk>/guidelines/", views.guidelines, name="guidelines"),
    path("", include("annotation.imports.ui_urls")),
    path("", include("annotation.assignment.ui_urls")),
    path("", include("annotation.quality.ui_urls")),
    path("", include("annotation.exports.ui_urls")),
    path("", include("annotation.console.ui_urls")),
    path("", include("annotation.browse.ui_urls")),
]
