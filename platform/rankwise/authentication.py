"""Token authentication: knox's, refusing malformed headers with a 401 before any query.

An ``Authorization`` header arrives as Latin-1 text; a token knox issued is ASCII (hex
after an optional prefix). Anything else (bytes that are not UTF-8, a NUL that PostgreSQL
refuses in a query, a header longer than any token) is an invalid token, not a crash.
"""

from __future__ import annotations

from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox import auth
from rest_framework import exceptions

MAX_TOKEN_CHARS = 256


def token_text(token: bytes) -> str:
    """The token of an ``Authorization: Token <token>`` header, or a 401."""
    # Letters and digits, and the "_" or "-" a knox TOKEN_PREFIX may add.
    if len(token) > MAX_TOKEN_CHARS or not token.replace(b"_", b"").replace(b"-", b"").isalnum():
        raise exceptions.AuthenticationFailed("Invalid token.")
    return token.decode("ascii")


class TokenAuthentication(auth.TokenAuthentication):
    def authenticate(self, request):
        try:
            return super().authenticate(request)
        except UnicodeError:
            # DRF encodes a str header as Latin-1; a test client or ASGI server can pass
            # characters that Latin-1 cannot hold.
            raise exceptions.AuthenticationFailed("Invalid token header.") from None

    def authenticate_credentials(self, token: bytes):
        return super().authenticate_credentials(token_text(token).encode("ascii"))


class TokenScheme(KnoxTokenScheme):
    """The OpenAPI security scheme of knox's class, for this one and its subclasses."""

    target_class = "rankwise.authentication.TokenAuthentication"
    match_subclasses = True
