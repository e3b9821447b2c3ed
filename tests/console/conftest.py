"""Fixtures of the console tests: a logged-in test client per role of ``project_with_roles``."""

from __future__ import annotations

import pytest
from django.test import Client


@pytest.fixture
def page_client(db):
    """``page_client(user)``: a Django test client logged in as ``user`` (None: anonymous).
    CSRF tokens are exercised by the browser test, which submits the real forms."""

    def make(user):
        client = Client()
        if user is not None:
            client.force_login(user)
        return client

    return make
