"""A judge behind an OpenAI-compatible chat-completions endpoint that the user runs: vLLM,
the llama.cpp server, Ollama, or a hosted API. Framework-free (``requests`` only).

One judgement is one ``POST {base_url}/chat/completions`` with the messages from
:func:`judges.engine.prompts.chat_messages`; the verdict is read from
``choices[0].message.content`` by :func:`judges.engine.verdicts.parse_verdict`, and nothing
else is guessed: a body without that field is an error, not a verdict.

Transient faults are retried with exponential backoff (``backoff_s``, doubled each time):
connection errors (a connection refused, or broken mid-answer), timeouts, 429 and 5xx. A
429 or 503 that says ``Retry-After`` is waited as asked, up to ``max_retry_after_s`` (which
caps the backoff too), so a rate-limited endpoint is not hammered yet a server asking for
an hour cannot stall a run. Any other 4xx is a mistake in the request
(bad key, unknown model) that a retry cannot fix, so it is recorded at once.

After the last attempt :meth:`HttpBackend.judge` still returns a :class:`Judgement`
(``"unparseable"``, no preference, the cause in ``error``, the last body in ``raw``) so
one bad answer never sinks a batch; :meth:`HttpBackend.complete` raises
:class:`EndpointError` instead, since its caller has no judgement to fall back on.

The API key travels only in the ``Authorization`` header: it is never logged, and it is
blanked out of anything kept (``raw``, ``error``, ``meta``) should an endpoint echo it.
"""

from __future__ import annotations

import email.utils
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

import requests
from requests.adapters import HTTPAdapter

from judges.engine.prompts import chat_messages
from judges.engine.types import Comparison, Judgement
from judges.engine.verdicts import parse_verdict

logger = logging.getLogger(__name__)

RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})  # and any other 5xx
RETRY_AFTER_STATUSES = frozenset({429, 503})
ERROR_BODY_CHARS = 300  # of a failed answer's body, quoted in the error
CONNECT_TIMEOUT_CAP_S = 10.0  # a reachable host accepts a connection fast; reading is slow
REDACTED = "[redacted]"


class EndpointError(Exception):
    """The endpoint gave no usable answer after every attempt."""

    def __init__(self, message: str, *, raw: str = "", meta: dict | None = None):
        super().__init__(message)
        self.raw = raw
        self.meta = meta or {}


@dataclass
class _Outcome:
    """What the attempts at one request came to: the content, or why there is none."""

    content: str | None
    error: str
    raw: str
    meta: dict = field(default_factory=dict)


class HttpBackend:
    """Judges comparisons through an OpenAI-compatible ``/chat/completions`` endpoint.

    ``base_url`` ends with the API version, e.g. ``http://host:8000/v1``. ``max_retries``
    is the number of attempts in all, the first one included. ``max_concurrency`` bounds
    the requests in flight from this backend at once, across :meth:`judge_many` and any
    threads calling :meth:`judge` or :meth:`complete` directly.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout_s: float = 30,
        max_retries: int = 3,
        backoff_s: float = 0.5,
        max_concurrency: int = 4,
        temperature: float = 0.0,
        max_tokens: int = 512,
        extra_headers: dict[str, str] | None = None,
        max_retry_after_s: float = 30.0,
    ):
        if max_retries < 1:
            raise ValueError("max_retries must be at least 1 (the first attempt counts)")
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.timeout = (min(timeout_s, CONNECT_TIMEOUT_CAP_S), timeout_s)  # (connect, read)
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_concurrency = max_concurrency
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.max_retry_after_s = max_retry_after_s
        self._api_key = api_key or None
        self._in_flight = threading.BoundedSemaphore(max_concurrency)
        self._session = requests.Session()
        # One pooled connection per concurrent request, so none waits for the pool.
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=max_concurrency)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._session.headers.update(extra_headers or {})
        self._session.headers["Content-Type"] = "application/json"
        if self._api_key:
            self._session.headers["Authorization"] = f"Bearer {self._api_key}"

    def __repr__(self) -> str:  # the key stays out of logs and tracebacks
        return f"HttpBackend(url={self.url!r}, model={self.model!r})"

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> HttpBackend:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # -- the Backend protocol ---------------------------------------------------------

    def judge(self, comparison: Comparison) -> Judgement:
        """One comparison judged; transport errors end as an unparseable judgement."""
        outcome = self._chat(chat_messages(comparison))
        if outcome.content is None:
            return Judgement("unparseable", None, outcome.raw, outcome.error, outcome.meta)
        verdict, preference, error = parse_verdict(outcome.content)
        return Judgement(verdict, preference, outcome.content, error, outcome.meta)

    def judge_many(self, comparisons: list[Comparison]) -> list[Judgement]:
        """Every comparison judged, at most ``max_concurrency`` at once, in input order."""
        if not comparisons:
            return []
        workers = min(self.max_concurrency, len(comparisons))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="judge") as pool:
            return list(pool.map(self.judge, comparisons))

    def complete(self, messages: list[dict]) -> str:
        """The assistant's reply to ``messages`` (for critiques and revisions); raises
        :class:`EndpointError` when every attempt failed or the answer has no content."""
        outcome = self._chat(messages)
        if outcome.content is None:
            raise EndpointError(outcome.error, raw=outcome.raw, meta=outcome.meta)
        return outcome.content

    # -- one request, with its retries -------------------------------------------------

    def _chat(self, messages: list[dict]) -> _Outcome:
        body = {
            "model": self.model,
            "messages": messages,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }
        started = time.monotonic()
        error, raw, status = "", "", None
        attempt = 0
        while attempt < self.max_retries:
            attempt += 1
            wait = min(self.backoff_s * 2 ** (attempt - 1), self.max_retry_after_s)
            try:
                with self._in_flight:
                    response = self._session.post(self.url, json=body, timeout=self.timeout)
            except requests.Timeout:
                error, raw, status = "timed out", "", None
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
                error, raw, status = f"connection failed ({type(exc).__name__})", "", None
            except requests.RequestException as exc:  # a malformed URL, say: not transient
                error = f"request failed ({type(exc).__name__}: {exc})"
                return self._failed(error, "", started, attempt, None)
            else:
                status, raw = response.status_code, self._clean(response.text)
                if 200 <= status < 300:
                    return self._answered(response, raw, started, attempt)
                error = f"HTTP {status}: {raw[:ERROR_BODY_CHARS].strip()}"
                if not (status in RETRIED_STATUSES or status >= 500):
                    return self._failed(error, raw, started, attempt, status)
                if status in RETRY_AFTER_STATUSES:
                    asked = _retry_after_s(response.headers.get("Retry-After"))
                    if asked is not None:
                        wait = min(asked, self.max_retry_after_s)
            if attempt < self.max_retries:
                logger.info("%s: %s on attempt %d, retrying in %.2fs", self.url, error,
                            attempt, wait)
                time.sleep(wait)
        return self._failed(f"{error} after {attempt} attempts", raw, started, attempt, status)

    def _answered(self, response: requests.Response, raw: str, started: float,
                  attempts: int) -> _Outcome:
        """A 2xx answer read strictly: the content of the first choice, or an error."""
        meta = self._meta(started, attempts, response.status_code)
        try:
            data = response.json()
        except ValueError:
            return _Outcome(None, "the answer is not JSON", raw, meta)
        usage = data.get("usage") if isinstance(data, dict) else None
        if isinstance(usage, dict):
            meta["usage"] = {k: v for k, v in usage.items()
                             if k.endswith("_tokens") and isinstance(v, int)}
        try:
            choice = data["choices"][0]
            content = choice["message"]["content"]
        except (KeyError, IndexError, TypeError):
            return _Outcome(None, "the answer has no choices[0].message.content", raw, meta)
        if not isinstance(content, str):
            return _Outcome(None, "choices[0].message.content is not text", raw, meta)
        if isinstance(choice.get("finish_reason"), str):
            meta["finish_reason"] = choice["finish_reason"]
        return _Outcome(self._clean(content), "", raw, meta)

    def _failed(self, error: str, raw: str, started: float, attempts: int,
                status: int | None) -> _Outcome:
        error = self._clean(error)
        logger.warning("%s: %s", self.url, error)
        return _Outcome(None, error, raw, self._meta(started, attempts, status))

    def _meta(self, started: float, attempts: int, status: int | None) -> dict:
        return {
            "backend": "http",
            "model": self.model,
            "attempts": attempts,
            "latency_s": round(time.monotonic() - started, 4),
            "http_status": status,
        }

    def _clean(self, text: str) -> str:
        """``text`` with the API key blanked out, should an endpoint echo it back."""
        if self._api_key and self._api_key in text:
            return text.replace(self._api_key, REDACTED)
        return text


def _retry_after_s(value: str | None) -> float | None:
    """Seconds asked for by a ``Retry-After`` header (a number or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
