from django.urls import path

from . import api, revision_api

urlpatterns = [
    path("projects/<id:pk>/constitution/", api.ConstitutionApi.as_view(),
         name="api-constitution"),
    path("projects/<id:pk>/judges/", api.JudgeListApi.as_view(), name="api-judges"),
    path("projects/<id:pk>/judges/trust/", api.TrustApi.as_view(), name="api-judges-trust"),
    path("judges/<id:pk>/runs/", api.JudgeRunListApi.as_view(), name="api-judge-runs"),
    path("judges/<id:pk>/revisions/", revision_api.RevisionRunApi.as_view(),
         name="api-judge-revisions"),
    path("judges/<id:pk>/agreement/", api.AgreementApi.as_view(), name="api-judge-agreement"),
    path("judge-runs/<id:pk>/", api.JudgeRunApi.as_view(), name="api-judge-run"),
    path("judge-runs/<id:pk>/cancel/", api.CancelRunApi.as_view(), name="api-judge-run-cancel"),
]
