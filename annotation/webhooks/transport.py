"""One webhook request: where it may go, and what came back. Framework-free (stdlib only).

Server-side request forgery is the risk of any feature that makes the server call a URL a
user typed: ``http://169.254.169.254/`` (cloud metadata), ``http://localhost:6379/``, the
database's port. Unless private destinations are allowed (the ``local`` profile), a
destination is refused when its host is a private, loopback, link-local, shared, reserved
or multicast address, or a name that resolves to one (any of its addresses). The check
runs on every attempt, and the connection goes to the very address that was checked (the
socket is pinned to it, while the Host header, TLS SNI and certificate check still use the
name), so a DNS answer that changes between check and connect cannot slip past.

Redirects are never followed: a 3xx is an unsuccessful answer like any other non-2xx, so
an endpoint cannot bounce a delivery to another host. Proxies from the environment are not
used. The whole attempt, from connect to the answer's status line, has one deadline.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

SCHEMES = ("http", "https")
ERROR_BODY_BYTES = 512  # of a failed answer's body, kept in the delivery log
LOCAL_NAMES = ("localhost", "localhost.localdomain")


@dataclass(frozen=True)
class Answer:
    status: int | None  # the HTTP status; None when no answer came
    error: str  # why it is not a success; "" for a 2xx

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class RefusedDestination(Exception):
    """The destination is on a network this server must not call."""


def is_public(address: str) -> bool:
    """Whether an IP address is globally routable unicast (IPv4-mapped IPv6 judged as the
    IPv4 address it carries)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def url_problem(url: str, *, allow_private: bool) -> str | None:
    """Why ``url`` cannot be a webhook's destination, as a sentence; else None. Names are
    not resolved here (that happens on each attempt), but a literal private address or
    ``localhost`` is refused at once when private destinations are not allowed."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"Not a valid URL: {exc}."
    if parts.scheme.lower() not in SCHEMES:
        return "The URL must start with http:// or https://."
    host = parts.hostname
    if not host:
        return "The URL has no host."
    if parts.username is not None or parts.password is not None:
        return "The URL must not carry credentials (user:password@); sign with the secret."
    if port == 0:
        return "The URL's port must be 1..65535."
    if allow_private:
        return None
    if host.rstrip(".").lower() in LOCAL_NAMES or host.rstrip(".").lower().endswith(".localhost"):
        return "Webhooks may not call this server's own host (localhost)."
    try:
        literal = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None
    if not is_public(str(literal)):
        return (f"{host} is a private, loopback or reserved address; webhooks may only "
                "call public hosts.")
    return None


def pick_address(host: str, port: int, *, allow_private: bool) -> str:
    """The address to connect to: the first the name resolves to. Raises
    :class:`RefusedDestination` when private destinations are not allowed and any address
    of the name is not public (a name with one private address is refused outright, so a
    round-robin answer cannot sometimes reach inside)."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses = list(dict.fromkeys(info[4][0] for info in found))
    if not addresses:
        raise OSError(f"{host} has no address")
    if not allow_private:
        inside = [address for address in addresses if not is_public(address)]
        if inside:
            raise RefusedDestination(
                f"Refused: {host} resolves to {inside[0]}, a private, loopback or reserved "
                "address; webhooks may only call public hosts.")
    return addresses[0]


def _connection(scheme: str, host: str, port: int, address: str,
                timeout: float) -> http.client.HTTPConnection:
    if scheme == "https":
        connection: http.client.HTTPConnection = http.client.HTTPSConnection(
            host, port, timeout=timeout, context=ssl.create_default_context())
    else:
        connection = http.client.HTTPConnection(host, port, timeout=timeout)

    def pinned(_where, timeout, source_address=None):
        # http.client resolves (host, port) itself; connect to the checked address instead.
        return socket.create_connection((address, port), timeout, source_address)

    connection._create_connection = pinned  # the hook http.client's connect() calls
    return connection


def _clean(text: str) -> str:
    """Text the log can store: no NULs, no lone surrogates, one line."""
    text = text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
    return " ".join(text.split())


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float,
         allow_private: bool) -> Answer:
    """POST ``body`` to ``url`` once; never raises for network faults (they are answers
    without a status)."""
    problem = url_problem(url, allow_private=allow_private)
    if problem:
        return Answer(None, problem)
    parts = urlsplit(url)
    scheme, host = parts.scheme.lower(), parts.hostname or ""
    port = parts.port or (443 if scheme == "https" else 80)
    try:
        address = pick_address(host, port, allow_private=allow_private)
    except RefusedDestination as exc:
        return Answer(None, str(exc))
    except (OSError, UnicodeError) as exc:
        return Answer(None, _clean(f"Could not resolve {host}: {exc}"))
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connection = _connection(scheme, host, port, address, timeout)
    # One deadline for the whole attempt: the socket timeout bounds each read, and a server
    # that trickles its answer a byte at a time is cut off here.
    deadline = threading.Timer(timeout, _cut, args=(connection,))
    deadline.daemon = True
    deadline.start()
    try:
        connection.request("POST", target, body=body, headers={
            **headers, "Content-Length": str(len(body)), "Connection": "close"})
        response = connection.getresponse()
        status, reason = response.status, response.reason
        excerpt = b"" if 200 <= status < 300 else response.read(ERROR_BODY_BYTES)
    except (OSError, http.client.HTTPException, ValueError) as exc:
        cut = not deadline.is_alive()
        why = f"No answer within {timeout:g} s" if cut else f"{type(exc).__name__}: {exc}"
        return Answer(None, _clean(why))
    finally:
        deadline.cancel()
        connection.close()
    if 200 <= status < 300:
        return Answer(status, "")
    error = f"HTTP {status} {reason}".strip()
    if 300 <= status < 400:
        error += " (redirects are not followed)"
    text = _clean(excerpt.decode("utf-8", "replace"))
    return Answer(status, f"{error}: {text}" if text else error)


def _cut(connection: http.client.HTTPConnection) -> None:
    sock = connection.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
