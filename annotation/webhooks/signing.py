"""What a delivery's receiver checks: the exact bytes sent and their signature. Framework-free.

The signature is an HMAC (RFC 2104) with SHA-256 of the raw request body, keyed with the
webhook's secret, sent hex-encoded after ``sha256=`` in ``X-Rankwise-Signature``: the
scheme of GitHub's ``X-Hub-Signature-256``, so receivers' existing verifiers work
unchanged. A receiver recomputes it over the body exactly as received (before any JSON
parsing) and compares in constant time::

    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    hmac.compare_digest(expected, request.headers["X-Rankwise-Signature"])

Retries resend the same bytes: the body is built from the stored delivery alone, with its
keys sorted, so every attempt of one delivery carries the same signature.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

SIGNATURE_PREFIX = "sha256="


def body_bytes(envelope: dict[str, Any]) -> bytes:
    """The request body: compact JSON, keys sorted at every level, UTF-8 (RFC 8259)."""
    return json.dumps(envelope, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False, allow_nan=False).encode("utf-8")


def signature(secret: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256(secret, body)>``."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def verify(secret: str, body: bytes, header: str | None) -> bool:
    """Whether ``header`` is the signature of ``body`` under ``secret`` (constant time)."""
    if not header:
        return False
    return hmac.compare_digest(signature(secret, body), header.strip())


def retry_delay(attempts: int, *, base: float, cap: float) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt: ``base × 2^(attempts-1)``,
    at most ``cap`` (truncated exponential backoff, without jitter: the beat sweep that
    resends already spreads retries over its period)."""
    if attempts < 1:
        return 0.0
    # Past 2^63 the float stops being exact; long before that the cap applies.
    return float(min(cap, base * 2.0 ** min(attempts - 1, 63)))
