"""Routes of the manager's console (views.py)."""

from django.urls import path

from . import views

MEMBER = "projects/<id:pk>/members/<id:member_id>"

urlpatterns = [
    path("projects/new/", views.new_project, name="console-new-project"),
    path("projects/<id:pk>/settings/", views.project_settings, name="console-settings"),
    path("projects/<id:pk>/members/", views.members, name="console-members"),
    path("projects/<id:pk>/members/new-user/", views.new_user, name="console-new-user"),
    path(f"{MEMBER}/role/", views.member_role, name="console-member-role"),
    path(f"{MEMBER}/status/", views.member_status, name="console-member-status"),
    path(f"{MEMBER}/remove/", views.member_remove, name="console-member-remove"),
    path("projects/<id:pk>/guidelines/edit/", views.guideline_editor, name="console-guidelines"),
    path("projects/<id:pk>/guidelines/preview/", views.guideline_preview,
         name="console-guideline-preview"),
]
