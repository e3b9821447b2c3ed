"""The API's JSON parser (``DEFAULT_PARSER_CLASSES``).

Its own module: ``rankwise.api`` imports DRF's views, whose class body loads the parser
classes from the settings, so the parser cannot live there.
"""

from __future__ import annotations

import io

from django.conf import settings
from rest_framework import exceptions, parsers

from .errors import PayloadTooLarge


def request_too_large() -> PayloadTooLarge:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return PayloadTooLarge(f"The request body is larger than {limit:,} bytes.",
                           code="request_too_large")


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, with every unreadable body a 400 and an oversized one a 413.

    DRF hands parsers the raw request stream, which Django's DATA_UPLOAD_MAX_MEMORY_SIZE
    (checked on ``request.body`` and ``request.POST`` only) never sees; the limit is applied
    here. Deep nesting (``[[[[...``) exhausts the decoder's recursion limit long before it
    exhausts the size limit, and raises RecursionError, which DRF does not catch.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read() if limit is None else stream.read(limit + 1)
        if limit is not None and len(raw) > limit:
            raise request_too_large()
        try:
            return super().parse(io.BytesIO(raw), media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError("JSON parse error - nested too deeply.") from None
