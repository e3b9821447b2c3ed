"""Token authentication for the annotating endpoints, which an annotator hits twice per label.

Same tokens, same checks as knox's ``TokenAuthentication`` (the key prefix finds the
candidate rows, the SHA-512 digest must match in constant time, an expired token is deleted
and refused, an inactive user is refused), in one plain query for the token and its user:
knox's own version spends more CPU building its queryset than the database spends answering
it, and loads all of the user's tokens on every request to delete expired ones. Here other
expired tokens are left alone; they are refused whenever presented.
"""

from __future__ import annotations

from datetime import UTC
from functools import cache
from hmac import compare_digest

from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from knox.auth import TokenAuthentication
from knox.crypto import hash_token
from knox.models import get_token_model
from knox.settings import CONSTANTS
from knox.signals import token_expired
from rest_framework import exceptions

from rankwise import authentication

User = get_user_model()
AuthToken = get_token_model()
# For the OpenAPI schema: the same security schemes as every other endpoint (knox's token
# header, the session cookie), named rather than derived from this class.
SECURITY = [{"knoxApiToken": []}, {"cookieAuth": []}]
# In the model's field order, as Model.from_db expects.
USER_FIELDS = [f.attname for f in User._meta.concrete_fields
               if f.attname in {"id", "username", "is_active", "is_staff", "is_superuser"}]


@cache
def _token_sql() -> str:
    quote = connection.ops.quote_name
    columns = ", ".join(f"u.{quote(User._meta.get_field(f).column)}" for f in USER_FIELDS)
    return (
        f"SELECT t.digest, t.expiry, {columns} "
        f"FROM {quote(AuthToken._meta.db_table)} t "
        f"JOIN {quote(User._meta.db_table)} u ON u.{quote(User._meta.pk.column)} = t.user_id "
        f"WHERE t.token_key = %s"
    )


class LeanTokenAuthentication(authentication.TokenAuthentication):
    def authenticate_credentials(self, token: bytes):
        invalid = exceptions.AuthenticationFailed("Invalid token.")
        token_text = authentication.token_text(token)
        digest = hash_token(token_text)
        with connection.cursor() as cursor:
            cursor.execute(_token_sql(), [token_text[:CONSTANTS.TOKEN_KEY_LENGTH]])
            rows = cursor.fetchall()
        for stored_digest, expiry, *user_values in rows:
            if not compare_digest(digest, stored_digest):
                continue
            # Only the user's identity and flags are loaded; any other field loads on use.
            user = User.from_db(connection.alias, USER_FIELDS, user_values)
            expiry = _aware(expiry)
            if expiry is not None and expiry < timezone.now():
                AuthToken.objects.filter(digest=stored_digest).delete()
                token_expired.send(sender=TokenAuthentication, username=user.get_username(),
                                   source="auth_token")
                raise invalid
            if not user.is_active:
                raise exceptions.AuthenticationFailed("User inactive or deleted.")
            auth_token = AuthToken(digest=stored_digest, user=user, expiry=expiry,
                                   token_key=token_text[:CONSTANTS.TOKEN_KEY_LENGTH])
            auth_token._state.adding = False
            return user, auth_token
        raise invalid


def _aware(value):
    if value is None:
        return None
    if isinstance(value, str):
        value = parse_datetime(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
