from django.urls import path

from . import api

urlpatterns = [
    path("projects/<id:pk>/webhooks/", api.WebhookListCreateApi.as_view(), name="api-webhooks"),
    path("projects/<id:pk>/webhooks/<id:hook_id>/", api.WebhookDetailApi.as_view(),
         name="api-webhook"),
    path("projects/<id:pk>/webhooks/<id:hook_id>/deliveries/",
         api.WebhookDeliveriesApi.as_view(), name="api-webhook-deliveries"),
    path("projects/<id:pk>/webhooks/<id:hook_id>/test/", api.WebhookPingApi.as_view(),
         name="api-webhook-test"),
]
