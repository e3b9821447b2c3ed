"""URL path converters, registered in :mod:`rankwise.urls`."""

from __future__ import annotations

MAX_ID = 2**63 - 1  # BIGINT, the type of every primary key


class IdConverter:
    """``<id:pk>``: a primary key, 1..2**63-1. A bigger number matches no route (404)
    instead of reaching the database, where it overflows the column type."""

    regex = "[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if not 1 <= number <= MAX_ID:
            raise ValueError(f"{value} is not a primary key")
        return number

    def to_url(self, value) -> str:
        return str(value)
