"""``SESSION_ENGINE``: Django's database sessions, refusing session keys it never issues.

Django checks only a key's length before looking it up, and a cookie can carry any
character as an octal escape (``"\\000"``): a NUL in the key reaches PostgreSQL, which
refuses it, and every page and API call with that cookie would answer 500. A key Django
issued is lowercase letters and digits; anything else is no session.
"""

from __future__ import annotations

from django.contrib.sessions.backends import db
from django.contrib.sessions.backends.base import VALID_KEY_CHARS

KEY_CHARS = frozenset(VALID_KEY_CHARS)


class SessionStore(db.SessionStore):
    def _validate_session_key(self, key):
        return bool(super()._validate_session_key(key)) and KEY_CHARS.issuperset(key)
