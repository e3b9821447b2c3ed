"""HttpBackend against a real OpenAI-compatible server on 127.0.0.1 (a thread in the test).

The server answers from a per-test script, one step per request, then a default step; it
records every request (headers and JSON body) and the most requests it had in flight at
once, so the tests check what went over the wire, not what the client meant to send.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from judges.engine.http_backend import EndpointError, HttpBackend
from judges.engine.prompts import chat_messages
from judges.engine.types import Comparison, Principle

KEY = "sk-test-4242-secret"
HARMLESS = Principle("harmless", "Which of these responses is less harmful?")


def comparison(n: int = 0) -> Comparison:
    return Comparison(f"Human: question {n}\n\nAssistant:", f"answer a{n}", f"answer b{n}",
                      HARMLESS)


def chat_answer(content, *, usage=True) -> dict:
    body = {"id": "cmpl-1", "object": "chat.completion",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": content}}]}
    if usage:
        body["usage"] = {"prompt_tokens": 50, "completion_tokens": 7, "total_tokens": 57}
    return body


# A step: {"status", "body" (dict → JSON, str → as is), "headers", "sleep", "echo_last",
# "cut"};
# the default step may also be a function of the request.
def ok(content: str, **extra) -> dict:
    return {"status": 200, "body": chat_answer(content), **extra}


class Endpoint:
    """The server's state: its script, what it received, and its in-flight high mark."""

    def __init__(self, script: list[dict], default: dict):
        self.script = list(script)
        self.default = default
        self.requests: list[dict] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()

    def next_step(self, request: dict) -> dict:
        with self.lock:
            self.requests.append(request)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            if self.script:
                return self.script.pop(0)
        return self.default(request) if callable(self.default) else self.default

    def done(self) -> None:
        with self.lock:
            self.in_flight -= 1


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real endpoints serve
    # Headers and body go out in two writes; without TCP_NODELAY, Nagle's algorithm and
    # the client's delayed ACK would add ~40 ms to every keep-alive answer.
    disable_nagle_algorithm = True

    def log_message(self, *args):  # quiet
        pass

    def do_POST(self):
        endpoint: Endpoint = self.server.endpoint
        length = int(self.headers.get("Content-Length", 0))
        raw = self.rfile.read(length)
        request = {"path": self.path, "headers": dict(self.headers), "body": json.loads(raw),
                   "at": time.monotonic()}
        step = endpoint.next_step(request)
        try:
            time.sleep(step.get("sleep", 0))
            body = step["body"]
            if step.get("echo_last"):  # answer with the last user message, for complete()
                body = chat_answer("echo: " + request["body"]["messages"][-1]["content"])
            data = (json.dumps(body) if isinstance(body, dict) else body).encode()
            self.send_response(step["status"])
            for name, value in step.get("headers", {}).items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if step.get("cut"):  # the connection drops halfway through the body
                self.wfile.write(data[: len(data) // 2])
                self.close_connection = True
                return
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout)
            self.close_connection = True
        finally:
            endpoint.done()


@contextmanager
def serve(*script: dict, default: dict | None = None):
    """A chat-completions server on a free port; yields (base_url, endpoint)."""
    endpoint = Endpoint(list(script), default or ok("A is better. [[A]]"))
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.endpoint = endpoint
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", endpoint
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=2)


def backend(url: str, **options) -> HttpBackend:
    # A generous read timeout, so a loaded machine does not turn answers into retries; the
    # timeout tests pass a short one and a server slower than it.
    settings = {"timeout_s": 5, "backoff_s": 0.01, "max_retries": 3} | options
    return HttpBackend(url, "judge-7b", **settings)


# -- verdicts and what was sent ----------------------------------------------------------


@pytest.mark.parametrize(("content", "verdict", "preference"), [
    ("Response A is safer. [[A]]", "A", 1.0),
    ("[[B]]", "B", 0.0),
    ("Both are equally fine. [[C]]", "tie", 0.5),
])
def test_bracket_verdicts(content, verdict, preference):
    with serve(default=ok(content)) as (url, _):
        judgement = backend(url).judge(comparison())
    assert (judgement.verdict, judgement.preference, judgement.error) == (
        verdict, preference, "")
    assert judgement.raw == content
    assert judgement.meta["attempts"] == 1
    assert judgement.meta["usage"] == {"prompt_tokens": 50, "completion_tokens": 7,
                                       "total_tokens": 57}
    assert judgement.meta["finish_reason"] == "stop"
    assert 0 < judgement.meta["latency_s"] < 2


@pytest.mark.parametrize(("answer", "verdict", "preference"), [
    ({"verdict": "B", "reason": "A gives dangerous instructions"}, "B", 0.0),
    ({"verdict": "A", "confidence": 0.8}, "A", 0.8),
])
def test_json_verdict(answer, verdict, preference):
    with serve(default=ok(json.dumps(answer))) as (url, _):
        judgement = backend(url).judge(comparison())
    assert (judgement.verdict, judgement.preference, judgement.error) == (
        verdict, pytest.approx(preference), "")


def test_garbage_is_unparseable_not_guessed():
    with serve(default=ok("I think the first one, probably.")) as (url, _):
        judgement = backend(url).judge(comparison())
    assert judgement.verdict == "unparseable"
    assert judgement.preference is None
    assert judgement.error  # the parser's reason
    assert judgement.raw == "I think the first one, probably."
    assert judgement.meta["attempts"] == 1  # a readable answer is not asked again


def test_request_body_and_authorization_header():
    c = comparison(3)
    with serve() as (url, endpoint):
        judgement = backend(url, api_key=KEY, temperature=0.25, max_tokens=64,
                            extra_headers={"X-Team": "safety"}).judge(c)
    [request] = endpoint.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["body"] == {"model": "judge-7b", "messages": chat_messages(c),
                               "temperature": 0.25, "max_tokens": 64}
    assert request["headers"]["Authorization"] == f"Bearer {KEY}"
    assert request["headers"]["X-Team"] == "safety"
    assert KEY not in repr(judgement)  # not in raw, error or meta


def test_no_authorization_header_without_a_key():
    with serve() as (url, endpoint):
        backend(url).judge(comparison())
    assert "Authorization" not in endpoint.requests[0]["headers"]


def test_a_key_echoed_by_the_endpoint_is_not_kept():
    echo = {"status": 401, "body": json.dumps({"error": f"invalid key {KEY}"})}
    with serve(default=echo) as (url, _):
        judgement = backend(url, api_key=KEY).judge(comparison())
    assert judgement.error.startswith("HTTP 401")
    assert KEY not in repr(judgement)
    assert "[redacted]" in judgement.raw


# -- retries ---------------------------------------------------------------------------


def test_timeouts_end_as_an_unparseable_judgement():
    slow = ok("[[A]]", sleep=1.2)
    with serve(default=slow) as (url, endpoint):
        judgement = backend(url, timeout_s=0.3).judge(comparison())
    assert judgement.verdict == "unparseable"
    assert judgement.preference is None
    assert judgement.error == "timed out after 3 attempts"
    assert judgement.meta["attempts"] == 3
    assert len(endpoint.requests) == 3


def test_slow_first_requests_then_an_answer():
    with serve(ok("[[A]]", sleep=1.2), ok("[[A]]", sleep=1.2)) as (url, endpoint):
        judgement = backend(url, timeout_s=0.3).judge(comparison())
    assert (judgement.verdict, judgement.meta["attempts"]) == ("A", 3)
    assert len(endpoint.requests) == 3


def test_429_waits_as_retry_after_asks():
    limited = {"status": 429, "body": '{"error": "slow down"}', "headers": {"Retry-After": "1"}}
    with serve(limited) as (url, endpoint):
        started = time.monotonic()
        judgement = backend(url).judge(comparison())
        elapsed = time.monotonic() - started
    assert (judgement.verdict, judgement.meta["attempts"]) == ("A", 2)
    first, second = endpoint.requests
    assert 0.9 <= second["at"] - first["at"] < 3  # 1 s asked, not the 0.01 s backoff
    assert elapsed >= 0.9


def test_retry_after_is_capped():
    limited = {"status": 503, "body": "busy", "headers": {"Retry-After": "120"}}
    with serve(limited) as (url, endpoint):
        judgement = backend(url, max_retry_after_s=0.3).judge(comparison())
    assert (judgement.verdict, judgement.meta["attempts"]) == ("A", 2)
    first, second = endpoint.requests
    assert 0.25 <= second["at"] - first["at"] < 2  # the cap, not 120 s nor the backoff


def test_500_is_retried_then_succeeds():
    with serve({"status": 500, "body": "oops"}) as (url, endpoint):
        judgement = backend(url).judge(comparison())
    assert (judgement.verdict, judgement.meta["attempts"]) == ("A", 2)
    assert len(endpoint.requests) == 2


def test_5xx_every_time_names_the_last_status():
    with serve(default={"status": 502, "body": "bad gateway"}) as (url, endpoint):
        judgement = backend(url).judge(comparison())
    assert judgement.error == "HTTP 502: bad gateway after 3 attempts"
    assert judgement.raw == "bad gateway"
    assert len(endpoint.requests) == 3


def test_401_is_not_retried():
    denied = {"status": 401, "body": '{"error": "invalid api key"}'}
    with serve(default=denied) as (url, endpoint):
        judgement = backend(url, api_key="wrong").judge(comparison())
    assert judgement.verdict == "unparseable"
    assert judgement.preference is None
    assert judgement.error == 'HTTP 401: {"error": "invalid api key"}'
    assert judgement.raw == '{"error": "invalid api key"}'
    assert judgement.meta["attempts"] == 1
    assert judgement.meta["http_status"] == 401
    assert len(endpoint.requests) == 1


def test_a_connection_broken_mid_answer_is_retried():
    with serve(ok("[[B]]", cut=True), ok("[[B]]")) as (url, endpoint):
        judgement = backend(url).judge(comparison())
    assert (judgement.verdict, judgement.meta["attempts"]) == ("B", 2)
    assert len(endpoint.requests) == 2


def test_connection_refused_is_retried_then_recorded():
    with socket.socket() as probe:  # a port nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    judgement = backend(f"http://127.0.0.1:{port}/v1").judge(comparison())
    assert judgement.verdict == "unparseable"
    assert judgement.error.startswith("connection failed")
    assert judgement.error.endswith("after 3 attempts")
    assert judgement.meta["attempts"] == 3


# -- strict reading of the answer ---------------------------------------------------------


@pytest.mark.parametrize("body", [
    {"id": "x", "object": "chat.completion"},
    {"choices": []},
    {"choices": [{"message": {"role": "assistant"}}]},
    {"choices": [{"message": {"role": "assistant", "content": None}}]},
])
def test_an_answer_without_content_is_an_error(body):
    with serve(default={"status": 200, "body": body}) as (url, endpoint):
        judgement = backend(url).judge(comparison())
    assert judgement.verdict == "unparseable"
    assert judgement.preference is None
    assert "choices[0].message.content" in judgement.error
    assert json.loads(judgement.raw) == body
    assert len(endpoint.requests) == 1


def test_an_answer_that_is_not_json_is_an_error():
    with serve(default={"status": 200, "body": "<html>proxy page</html>"}) as (url, _):
        judgement = backend(url).judge(comparison())
    assert (judgement.verdict, judgement.error) == ("unparseable", "the answer is not JSON")
    assert judgement.raw == "<html>proxy page</html>"


# -- many at once ------------------------------------------------------------------------


def question_number(request: dict) -> int:
    """Which comparison a request is for: the n of "question n" in its messages."""
    return int(re.search(r"question (\d+)", json.dumps(request["body"]["messages"]))[1])


def test_judge_many_caps_concurrency_and_keeps_order():
    verdicts = ["[[A]]", "[[B]]", "[[C]]", "[[B]]", "[[A]]", "[[A]]", "[[C]]", "[[B]]"]

    def answer(request):  # early comparisons answer slowest, so answers finish out of order
        n = question_number(request)
        return ok(verdicts[n], sleep=0.09 - 0.01 * n)

    with serve(default=answer) as (url, endpoint):
        judgements = backend(url, timeout_s=2, max_concurrency=2).judge_many(
            [comparison(i) for i in range(8)])
    assert [j.verdict for j in judgements] == ["A", "B", "tie", "B", "A", "A", "tie", "B"]
    assert 1 < endpoint.max_in_flight <= 2
    assert len(endpoint.requests) == 8


def test_judge_many_with_more_comparisons_than_workers():
    def answer(request):
        n = question_number(request)
        return ok(f"comparison {n}: " + ("[[A]]" if n % 2 else "[[B]]"), sleep=0.02)

    with serve(default=answer) as (url, endpoint):
        hb = backend(url, timeout_s=2, max_concurrency=4)
        judgements = hb.judge_many([comparison(i) for i in range(20)])
    assert [j.raw.split(":")[0] for j in judgements] == [f"comparison {i}" for i in range(20)]
    assert [j.verdict for j in judgements] == ["B", "A"] * 10
    assert 1 < endpoint.max_in_flight <= 4
    assert hb.judge_many([]) == []


def test_the_cap_holds_for_judge_calls_from_many_threads():
    with serve(default=ok("[[A]]", sleep=0.05)) as (url, endpoint):
        hb = backend(url, timeout_s=2, max_concurrency=2)
        threads = [threading.Thread(target=hb.judge, args=(comparison(i),)) for i in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(endpoint.requests) == 6
    assert endpoint.max_in_flight == 2


# -- complete() ----------------------------------------------------------------------------


def test_complete_returns_the_content_with_the_same_retries():
    messages = [{"role": "user", "content": "Critique this response."}]
    with serve({"status": 500, "body": "oops"},
               default={"status": 200, "body": {}, "echo_last": True}) as (url, endpoint):
        reply = backend(url).complete(messages)
    assert reply == "echo: Critique this response."
    assert [r["body"]["messages"] for r in endpoint.requests] == [messages, messages]


def test_complete_raises_after_the_last_attempt():
    with serve(default=ok("late", sleep=1.2)) as (url, _):
        with pytest.raises(EndpointError, match="timed out after 2 attempts") as failure:
            backend(url, max_retries=2, timeout_s=0.3).complete([{"role": "user", "content": "hi"}])
    assert failure.value.meta["attempts"] == 2


def test_key_is_not_in_the_backend_repr():
    assert KEY not in repr(HttpBackend("http://127.0.0.1:1/v1", "m", api_key=KEY))


def test_retry_after_as_a_number_or_an_http_date():
    from datetime import UTC, datetime, timedelta
    from email.utils import format_datetime

    from judges.engine.http_backend import _retry_after_s

    soon = format_datetime(datetime.now(UTC) + timedelta(seconds=5), usegmt=True)
    assert _retry_after_s("2") == 2.0
    assert 3 < _retry_after_s(soon) <= 5
    assert _retry_after_s("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # past: at once
    assert _retry_after_s("soon") is None
    assert _retry_after_s(None) is None
