"""The seeded world of :mod:`.seeds`, built once for this folder inside a transaction that
is rolled back at its end. Tests run each request in a savepoint of it, so every request
sees the same world."""

from __future__ import annotations

import pytest
from django.db import transaction

from .seeds import PASSWORD, build_world


@pytest.fixture(scope="package")
def world(django_db_setup, django_db_blocker):
    from django.contrib.auth import get_user_model

    with django_db_blocker.unblock(), transaction.atomic():
        seeded = build_world()
        get_user_model().objects.create_user(username="newcomer", password=PASSWORD)
        yield seeded
        transaction.set_rollback(True)


def rolled_back(work):
    """``work()`` in a savepoint that is rolled back, whatever it wrote."""
    with transaction.atomic():
        result = work()
        transaction.set_rollback(True)
    return result
