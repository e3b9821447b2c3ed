"""Routes of the judges console (views.py)."""

from django.urls import path

from . import views

urlpatterns = [
    path("projects/<id:pk>/constitution/", views.constitution_editor,
         name="judges-constitution"),
    path("projects/<id:pk>/judges/", views.judges_page, name="judges-page"),
    path("projects/<id:pk>/judges/<id:judge_id>/run/", views.run_request,
         name="judges-run-request"),
    path("projects/<id:pk>/judges/<id:judge_id>/revise/", views.revise_request,
         name="judges-revise-request"),
    path("projects/<id:pk>/judge-runs/<id:run_id>/", views.run_page, name="judges-run"),
    path("projects/<id:pk>/judge-runs/<id:run_id>/cancel/", views.run_cancel,
         name="judges-run-cancel"),
]
