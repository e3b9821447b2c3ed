"""Where a delivery may go and what an answer is, against real sockets on 127.0.0.1."""

from __future__ import annotations

import socket
import ssl
import threading

import pytest

from annotation.webhooks import transport


@pytest.mark.parametrize("url", [
    "ftp://example.com/hook", "javascript:alert(1)", "example.com/hook", "http:///hook",
    "https://user:pass@example.com/hook", "http://example.com:99999/", "http://example.com:0/",
])
def test_urls_that_are_never_destinations(url):
    assert transport.url_problem(url, allow_private=True)


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8000/", "http://localhost/", "http://LOCALHOST./x", "http://a.localhost/",
    "http://10.1.2.3/", "http://192.168.0.10/", "http://172.16.5.4/", "http://169.254.169.254/",
    "http://100.64.0.1/", "http://0.0.0.0/", "http://[::1]/", "http://[fe80::1]/",
    "http://[::ffff:127.0.0.1]/", "http://[fd00::1]/", "http://224.0.0.1/",
])
def test_private_literal_hosts_are_refused_unless_allowed(url):
    assert "private" in transport.url_problem(url, allow_private=False) or "localhost" in \
        transport.url_problem(url, allow_private=False)
    assert transport.url_problem(url, allow_private=True) is None


@pytest.mark.parametrize("url", ["https://hooks.example.com/rankwise?x=1", "http://8.8.8.8/",
                                 "https://[2606:4700:4700::1111]:8443/"])
def test_public_destinations_pass(url):
    assert transport.url_problem(url, allow_private=False) is None


def _resolving(monkeypatch, table: dict[str, list[str]]):
    real = socket.getaddrinfo

    def fake(host, port, *args, **kwargs):
        if host in table:
            return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "",
                     (a, port)) for a in table[host]]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)


def test_a_name_resolving_inside_is_refused_without_connecting(monkeypatch, receiver):
    server = receiver(200)
    _resolving(monkeypatch, {"inside.example.com": ["127.0.0.1"],
                             "mixed.example.com": ["93.184.216.34", "10.0.0.7"]})
    for host in ("inside.example.com", "mixed.example.com"):
        answer = transport.post(f"http://{host}:{server.port}/", b"{}", {}, timeout=5,
                                allow_private=False)
        assert answer.status is None and "Refused" in answer.error
    assert server.received == []


def test_the_connection_goes_to_the_checked_address_under_the_name(monkeypatch, receiver):
    server = receiver(204)
    _resolving(monkeypatch, {"receiver.example.com": ["127.0.0.1"]})
    answer = transport.post(f"http://receiver.example.com:{server.port}/in?x=1", b'{"a":1}',
                            {"X-Test": "yes"}, timeout=5, allow_private=True)
    assert answer == transport.Answer(204, "")
    (got,) = server.received
    assert got.path == "/in?x=1" and got.body == b'{"a":1}'
    assert got.headers["Host"] == f"receiver.example.com:{server.port}"
    assert got.headers["X-Test"] == "yes"


def test_redirects_are_answers_not_followed(receiver):
    elsewhere = receiver(200)
    bouncer = receiver(307, headers={"Location": elsewhere.url()})
    answer = transport.post(bouncer.url(), b"{}", {}, timeout=5, allow_private=True)
    assert answer.status == 307 and not answer.ok
    assert "redirects are not followed" in answer.error
    assert elsewhere.received == []


def test_a_failed_answer_keeps_a_storable_excerpt_of_its_body(receiver):
    server = receiver(500, answer_body=b"boom\x00 \xff" + b"x" * 5000)
    answer = transport.post(server.url(), b"{}", {}, timeout=5, allow_private=True)
    assert answer.status == 500
    assert answer.error.startswith("HTTP 500 Internal Server Error: boom")
    assert "\x00" not in answer.error
    assert len(answer.error) < transport.ERROR_BODY_BYTES + 100


def test_no_server_is_an_answer_without_status():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    answer = transport.post(f"http://127.0.0.1:{port}/", b"{}", {}, timeout=5,
                            allow_private=True)
    assert answer.status is None and "Connection" in answer.error


def test_a_server_that_never_answers_is_cut_off(receiver):
    server = receiver(200, hold=threading.Event())
    answer = transport.post(server.url(), b"{}", {}, timeout=0.5, allow_private=True)
    assert answer.status is None and answer.error
    assert len(server.received) == 1


def test_https_verifies_the_certificate_of_the_name():
    connection = transport._connection("https", "hooks.example.com", 443, "93.184.216.34", 5)
    assert connection.host == "hooks.example.com"  # SNI, Host and the certificate check
    assert connection._context.verify_mode == ssl.CERT_REQUIRED
    assert connection._context.check_hostname
