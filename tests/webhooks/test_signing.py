"""The signature and the bytes it covers (framework-free)."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import math

import pytest

from annotation.webhooks import signing


def test_the_signature_is_hmac_sha256_of_rfc_4231():
    # RFC 4231, test case 2: key "Jefe", data "what do ya want for nothing?".
    published = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    assert signing.signature("Jefe", b"what do ya want for nothing?") == f"sha256={published}"


def test_a_receiver_verifies_it_the_way_githubs_docs_show():
    body = signing.body_bytes({"event": "ping", "data": {"n": 1}})
    header = signing.signature("s3cret-s3cret-s3cret", body)
    expected = "sha256=" + hmac.new(b"s3cret-s3cret-s3cret", body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(expected, header)
    assert signing.verify("s3cret-s3cret-s3cret", body, header)


@pytest.mark.parametrize("change", ["body", "secret", "header", "missing"])
def test_any_change_fails_verification(change):
    body, secret = signing.body_bytes({"event": "ping"}), "s3cret-s3cret-s3cret"
    header = signing.signature(secret, body)
    if change == "body":
        body += b" "
    elif change == "secret":
        secret += "!"
    elif change == "header":
        header = header[:-1] + ("0" if header[-1] != "0" else "1")
    else:
        header = None
    assert not signing.verify(secret, body, header)


def test_the_body_is_the_same_bytes_whatever_the_key_order():
    one = {"b": 1, "a": {"y": [1, 2], "x": "é"}}
    other = {"a": {"x": "é", "y": [1, 2]}, "b": 1}
    assert signing.body_bytes(one) == signing.body_bytes(other)
    assert json.loads(signing.body_bytes(one)) == one
    assert "é".encode() in signing.body_bytes(one)  # UTF-8, not \\u escapes


def test_a_body_is_plain_json_or_nothing():
    with pytest.raises(ValueError):
        signing.body_bytes({"loss": math.nan})


def test_retry_delays_double_up_to_the_cap():
    delays = [signing.retry_delay(n, base=10, cap=300) for n in range(1, 10)]
    assert delays[:5] == [10 * 2 ** (n - 1) for n in range(1, 6)]
    assert all(later == min(300, 2 * earlier) for earlier, later in itertools.pairwise(delays))
    assert max(delays) == 300
    assert signing.retry_delay(10_000, base=10, cap=300) == 300
