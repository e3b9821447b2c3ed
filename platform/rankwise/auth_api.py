"""API tokens: ``POST /api/v1/auth/token/`` issues one, ``DELETE`` revokes the one in use.

Tokens are django-rest-knox tokens: only a SHA-512 digest is stored. Failed logins count
towards django-axes' lockout exactly like the web login form.
"""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.contrib.auth.signals import user_logged_in
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from knox.models import AuthToken
from rest_framework import serializers, status
from rest_framework.exceptions import AuthenticationFailed, NotAuthenticated, Throttled
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from .authentication import TokenAuthentication
from .http_errors import lockout_seconds


class Credentials(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=256, trim_whitespace=False)


class TokenApi(APIView):
    authentication_classes = [TokenAuthentication]

    def get_permissions(self):
        return [AllowAny()] if self.request.method == "POST" else super().get_permissions()

    @extend_schema(
        request=Credentials,
        responses={
            201: inline_serializer("Token", {"token": serializers.CharField()}),
            401: OpenApiResponse(description="Wrong username or password."),
            429: OpenApiResponse(description="Too many failed logins for this username from "
                                 "this address; retry after `Retry-After` seconds."),
        },
        auth=[],
    )
    def post(self, request):
        body = Credentials(data=request.data)
        body.is_valid(raise_exception=True)
        user = authenticate(request=request._request, **body.validated_data)
        if getattr(request._request, "axes_locked_out", False):
            raise Throttled(wait=lockout_seconds(request._request),
                            detail="Too many failed logins; try again later.")
        if user is None or not user.is_active:
            raise AuthenticationFailed("Wrong username or password.")
        # A token is a login: axes resets this user's failure count on the signal.
        user_logged_in.send(sender=user.__class__, request=request._request, user=user)
        _instance, token = AuthToken.objects.create(user=user)
        return Response({"token": token}, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request):
        if not isinstance(request.auth, AuthToken):
            raise NotAuthenticated("Send the token to revoke in the Authorization header.")
        request.auth.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)
