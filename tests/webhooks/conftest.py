"""A real HTTP receiver on 127.0.0.1 (stdlib ``http.server`` in a thread) that records
every request and answers with the statuses it was given, in turn."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

SECRET = "a-secret-of-sufficient-length"


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    statuses: list[int]
    answer_body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)  # added to every answer
    hold: threading.Event | None = None  # when set: wait for it before answering
    received: list[Received] = field(default_factory=list)
    port: int = 0

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def next_status(self) -> int:
        return self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]


def _handler(receiver: Receiver):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's naming)
            length = int(self.headers.get("Content-Length") or 0)
            receiver.received.append(Received("POST", self.path, dict(self.headers.items()),
                                              self.rfile.read(length)))
            if receiver.hold is not None:
                receiver.hold.wait(30)
            try:
                self.send_response(receiver.next_status())
                for name, value in receiver.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(receiver.answer_body)))
                self.end_headers()
                self.wfile.write(receiver.answer_body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client read what it wanted (an excerpt) or gave up (a deadline)

        def log_message(self, *args):
            pass

    return Handler


@pytest.fixture
def receiver():
    """``receiver(500, 200)``: a server answering 500 to the first request, 200 after."""
    servers = []

    def start(*statuses: int, **options) -> Receiver:
        made = Receiver(statuses=list(statuses or (200,)), **options)
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(made))
        server.daemon_threads = True
        made.port = server.server_address[1]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append((server, made))
        return made

    yield start
    for server, made in servers:
        if made.hold is not None:
            made.hold.set()
        server.shutdown()
        server.server_close()


@pytest.fixture
def hook_for(project_with_roles):
    """``hook_for(url, events=[...])``: a webhook of the project, made by its manager."""
    from annotation.webhooks import services

    project, users = project_with_roles

    def make(url: str, events=("snapshot.ready",), *, project=project):
        return services.create_webhook(actor=users["manager"], project=project, url=url,
                                       secret=SECRET, events=list(events))

    return make
