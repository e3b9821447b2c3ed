"""What HttpBackend costs over a bare ``requests`` loop, against a local endpoint that
answers at once (so the client's own work is all that is measured).

Starts an OpenAI-compatible ``/v1/chat/completions`` server on 127.0.0.1 (a thread,
keep-alive, answering ``[[A]]``), then for concurrency 1 and 4 judges ``--n`` comparisons
through :meth:`HttpBackend.judge_many` and posts the same messages with a bare
``requests.Session`` loop (a thread pool of the same size, JSON decoded, content taken),
best of ``--repeats`` each. Prints ONE JSON line: judgements/s for both and
``ratio`` = ours / bare (1.0 means no overhead; the prompt, the verdict parsing, the
semaphore and the retry bookkeeping are what the difference is made of). The server
shares the process (and its GIL) with the client, so concurrency 4 measures the overhead
of the pool and the cap rather than a speed-up.

    .venv/bin/python benchmarks/judges_http.py --n 1000
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from judges.engine.http_backend import HttpBackend  # noqa: E402
from judges.engine.prompts import chat_messages  # noqa: E402
from judges.engine.types import Comparison, Principle  # noqa: E402

ANSWER = json.dumps({
    "choices": [{"index": 0, "finish_reason": "stop",
                 "message": {"role": "assistant", "content": "A is better. [[A]]"}}],
    "usage": {"prompt_tokens": 120, "completion_tokens": 6, "total_tokens": 126},
}).encode()


class Instant(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as vLLM and llama.cpp serve
    # Headers and body go out in two writes; without TCP_NODELAY, Nagle's algorithm and
    # the client's delayed ACK would add ~40 ms to every keep-alive answer.
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(ANSWER)))
        self.end_headers()
        self.wfile.write(ANSWER)


def comparisons(n: int) -> list[Comparison]:
    principle = Principle("helpful", "Which of these responses is more helpful?")
    return [Comparison(f"Human: question {i}?\n\nAssistant:", f"answer a{i}", f"answer b{i}",
                       principle) for i in range(n)]


def ours(url: str, items: list[Comparison], concurrency: int) -> float:
    with HttpBackend(url, "bench", max_concurrency=concurrency) as backend:
        backend.judge_many(items[:concurrency])  # connections opened before the clock
        started = time.perf_counter()
        judgements = backend.judge_many(items)
        elapsed = time.perf_counter() - started
    assert all(j.verdict == "A" for j in judgements)
    return len(items) / elapsed


def bare(url: str, items: list[Comparison], concurrency: int) -> float:
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=concurrency))
    bodies = [{"model": "bench", "messages": chat_messages(c), "temperature": 0.0,
               "max_tokens": 512} for c in items]

    def post(body):
        response = session.post(url + "/chat/completions", json=body, timeout=(10, 30))
        return response.json()["choices"][0]["message"]["content"]

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(post, bodies[:concurrency]))
        started = time.perf_counter()
        contents = list(pool.map(post, bodies))
        elapsed = time.perf_counter() - started
    session.close()
    assert all(c.endswith("[[A]]") for c in contents)
    return len(items) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="comparisons per run")
    parser.add_argument("--repeats", type=int, default=3, help="runs per setting; best kept")
    args = parser.parse_args()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Instant)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    items = comparisons(args.n)
    result: dict = {"benchmark": "judges_http", "n": args.n, "repeats": args.repeats}
    try:
        for concurrency in (1, 4):
            mine, theirs = 0.0, 0.0
            for _ in range(args.repeats):  # interleaved, so a busy moment hits both
                mine = max(mine, ours(url, items, concurrency))
                theirs = max(theirs, bare(url, items, concurrency))
            result[f"c{concurrency}"] = {"ours_per_s": round(mine, 1),
                                         "bare_per_s": round(theirs, 1),
                                         "ratio": round(mine / theirs, 3)}
    finally:
        server.shutdown()
        server.server_close()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
