"""REST: a project's webhooks and their delivery log. Managers only: reviewers and
annotators get 403, non-members 404. Thin: parse, call, shape."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from ..permissions import Role, project_for
from . import selectors, services
from .models import WebhookDelivery
from .serializers import (
    PingAnswerSerializer,
    WebhookCreateSerializer,
    WebhookDeliverySerializer,
    WebhookSerializer,
)

MANAGERS = "Managers of the project; reviewers and annotators get 403."
SIGNED = ("Each delivery is a POST of JSON (`{\"delivery\", \"event\", \"project\", "
          "\"webhook\", \"created_at\", \"data\"}`, keys sorted) with `X-Rankwise-Signature: "
          "sha256=<hex HMAC-SHA256(secret, raw body)>`, `X-Rankwise-Event` and "
          "`X-Rankwise-Delivery`; a non-2xx answer is retried with exponential backoff.")


def _hook(request, pk: int, hook_id: int):
    project = project_for(user=request.user, project_id=pk, at_least=Role.MANAGER)
    return selectors.webhook_of(project=project, webhook_id=hook_id)


class WebhookListCreateApi(APIView):
    @extend_schema(responses={200: WebhookSerializer(many=True)},
                   description=f"The project's webhooks (never their secrets). {MANAGERS}")
    def get(self, request, pk):
        project = project_for(user=request.user, project_id=pk, at_least=Role.MANAGER)
        return Response(WebhookSerializer(selectors.webhooks_of(project=project),
                                          many=True).data)

    @extend_schema(request=WebhookCreateSerializer, responses={201: WebhookSerializer},
                   description=f"Add a webhook. Events: {', '.join(services.EVENTS)}. {SIGNED} "
                   f"{MANAGERS}")
    def post(self, request, pk):
        project = project_for(user=request.user, project_id=pk, at_least=Role.MANAGER)
        body = WebhookCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        hook = services.create_webhook(actor=request.user, project=project,
                                       **body.validated_data)
        return Response(WebhookSerializer(hook).data, status=status.HTTP_201_CREATED)


class WebhookDetailApi(APIView):
    @extend_schema(responses={200: WebhookSerializer}, description=MANAGERS)
    def get(self, request, pk, hook_id):
        return Response(WebhookSerializer(_hook(request, pk, hook_id)).data)

    @extend_schema(responses={204: None},
                   description=f"Remove the webhook and its delivery log. {MANAGERS}")
    def delete(self, request, pk, hook_id):
        services.delete_webhook(actor=request.user, webhook=_hook(request, pk, hook_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookDeliveriesApi(generics.ListAPIView):
    serializer_class = WebhookDeliverySerializer

    @extend_schema(description="The webhook's delivery log, newest first: each delivery's "
                   "status (pending, delivered, failed), attempts, the last answer's HTTP "
                   f"status and error, and its payload. {MANAGERS}")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return WebhookDelivery.objects.none()
        hook = _hook(self.request, self.kwargs["pk"], self.kwargs["hook_id"])
        return selectors.deliveries_of(webhook=hook)


class WebhookPingApi(APIView):
    @extend_schema(request=None, responses={202: PingAnswerSerializer,
                                            404: OpenApiResponse(description="No such webhook.")},
                   description="Send a `ping` event to this webhook now (whatever its events); "
                   f"the outcome appears in its delivery log. {MANAGERS}")
    def post(self, request, pk, hook_id):
        delivery_id = services.send_test(webhook=_hook(request, pk, hook_id))
        return Response({"delivery": delivery_id, "status": WebhookDelivery.Status.PENDING},
                        status=status.HTTP_202_ACCEPTED)
