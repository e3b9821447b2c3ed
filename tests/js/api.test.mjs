import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  ApiError, IdempotencyKeys, cookieValue, createApi, describeError, uuid,
} from "../../annotation/static/annotation/js/api.js";

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/* A fetch that records its calls and answers from a list, in order. */
function fakeFetch(...answers) {
  const calls = [];
  const send = async (url, init) => {
    calls.push({ url, ...init });
    const answer = answers.shift();
    if (answer instanceof Error) throw answer;
    const { status = 200, body = "", headers = {} } = answer;
    return new Response(status === 204 ? null : typeof body === "string" ? body : JSON.stringify(body),
      { status, headers });
  };
  return { send, calls };
}

describe("cookies", () => {
  test("reads one cookie by name, decoded", () => {
    const cookies = "sessionid=abc; csrftoken=t%2Bk; theme=dark";
    assert.equal(cookieValue(cookies, "csrftoken"), "t+k");
    assert.equal(cookieValue(cookies, "theme"), "dark");
  });

  test("does not take a cookie whose name merely ends the same", () => {
    assert.equal(cookieValue("xcsrftoken=wrong;csrftoken=right", "csrftoken"), "right");
    assert.equal(cookieValue("xcsrftoken=wrong", "csrftoken"), "");
  });

  test("is empty without cookies", () => {
    assert.equal(cookieValue("", "csrftoken"), "");
    assert.equal(cookieValue(undefined, "csrftoken"), "");
  });
});

describe("the documented error body", () => {
  test("gives the detail and one line per field or input line", () => {
    const body = {
      detail: "Invalid input.",
      errors: [
        { field: "ranking", message: "Rank every response." },
        { line: 3, message: "Not JSON." },
        { message: "Something else." },
      ],
    };
    assert.deepEqual(describeError(400, body), {
      message: "Invalid input.",
      problems: ["ranking: Rank every response.", "line 3: Not JSON.", "Something else."],
    });
  });

  test("names the status when there is no detail", () => {
    assert.deepEqual(describeError(502, null), { message: "The server answered 502.", problems: [] });
    assert.equal(describeError(500, { detail: "" }).message, "The server answered 500.");
    assert.equal(describeError(500, { detail: 42 }).message, "The server answered 500.");
  });

  test("ignores errors that are not a list of objects", () => {
    assert.deepEqual(describeError(400, { detail: "x", errors: "nope" }).problems, []);
    assert.deepEqual(describeError(400, { detail: "x", errors: [null, "a", { field: "f", message: "m" }] }).problems,
      ["f: m"]);
  });
});

describe("requests", () => {
  test("a GET asks for JSON with the session's cookies and no CSRF header", async () => {
    const { send, calls } = fakeFetch({ body: { ok: 1 }, headers: { "Content-Type": "application/json" } });
    const api = createApi({ cookies: () => "csrftoken=tok", fetch: send });
    const res = await api.get("/api/v1/x/");
    assert.deepEqual(res, { status: 200, data: { ok: 1 }, serverNow: null });
    assert.equal(calls[0].method, "GET");
    assert.equal(calls[0].credentials, "same-origin");
    assert.deepEqual(calls[0].headers, { Accept: "application/json" });
    assert.equal(calls[0].body, undefined);
  });

  test("a POST sends JSON with the CSRF token from the configured cookie", async () => {
    const { send, calls } = fakeFetch({ status: 201, body: { id: 5 } });
    const api = createApi({ csrfCookie: "my_csrf", cookies: () => "csrftoken=other; my_csrf=tok", fetch: send });
    const res = await api.post("/api/v1/y/", { a: [1, 2] }, { "Idempotency-Key": "k-1" });
    assert.equal(res.status, 201);
    assert.deepEqual(res.data, { id: 5 });
    assert.deepEqual(calls[0].headers, {
      Accept: "application/json", "Content-Type": "application/json",
      "X-CSRFToken": "tok", "Idempotency-Key": "k-1",
    });
    assert.equal(calls[0].body, '{"a":[1,2]}');
  });

  test("without the cookie the fallback token is sent", async () => {
    const { send, calls } = fakeFetch({ body: {} });
    const api = createApi({ cookies: () => "", csrfFallback: () => "from-form", fetch: send });
    await api.post("/z/", {});
    assert.equal(calls[0].headers["X-CSRFToken"], "from-form");
  });

  test("204 has no data, and the server's Date header is its clock", async () => {
    const date = "Tue, 01 Dec 2026 10:00:00 GMT";
    const { send } = fakeFetch({ status: 204, headers: { Date: date } });
    const res = await createApi({ cookies: () => "", fetch: send }).get("/next/");
    assert.deepEqual(res, { status: 204, data: null, serverNow: Date.parse(date) });
  });

  test("an answer outside 2xx is thrown as an ApiError with status and body", async () => {
    const body = { detail: "This assignment was skipped.", code: "assignment_closed",
      errors: [{ field: "ranking", message: "bad" }] };
    const { send } = fakeFetch({ status: 409, body });
    const api = createApi({ cookies: () => "", fetch: send });
    const err = await api.post("/submit/", {}).then(() => null, (e) => e);
    assert.ok(err instanceof ApiError);
    assert.ok(err instanceof Error);
    assert.equal(err.status, 409);
    assert.deepEqual(err.body, body);
    assert.equal(err.message, "This assignment was skipped.");
    assert.equal(err.detail, "This assignment was skipped.");
    assert.equal(err.code, "assignment_closed");
    assert.deepEqual(err.problems, ["ranking: bad"]);
    assert.equal(err.network, false);
  });

  test("an error page that is not JSON becomes its first 300 characters", async () => {
    const page = `<h1>Server Error (500)</h1>${"x".repeat(400)}`;
    const { send } = fakeFetch({ status: 500, body: page });
    const err = await createApi({ cookies: () => "", fetch: send }).get("/x/").catch((e) => e);
    assert.equal(err.status, 500);
    assert.equal(err.detail, page.slice(0, 300));
    assert.equal(err.code, null);
  });

  test("an error without a body still says what happened", async () => {
    const { send } = fakeFetch({ status: 503, body: "" });
    const err = await createApi({ cookies: () => "", fetch: send }).get("/x/").catch((e) => e);
    assert.equal(err.body, null);
    assert.equal(err.detail, null);
    assert.equal(err.message, "The server answered 503.");
  });

  test("a server out of reach is an ApiError with status 0", async () => {
    const { send } = fakeFetch(new TypeError("Failed to fetch"));
    const err = await createApi({ cookies: () => "", fetch: send }).get("/x/").catch((e) => e);
    assert.ok(err instanceof ApiError);
    assert.equal(err.status, 0);
    assert.equal(err.network, true);
    assert.equal(err.message, "The server could not be reached.");
    assert.equal(err.cause.message, "Failed to fetch");
  });
});

describe("idempotency keys", () => {
  test("a retry of the same submit sends the same key", async () => {
    const { send, calls } = fakeFetch(new TypeError("Failed to fetch"), { status: 201, body: {} },
      { status: 201, body: {} });
    const api = createApi({ cookies: () => "", fetch: send });
    const keys = new IdempotencyKeys();
    const submit = (assignment) => api.post(`/a/${assignment}/submit/`, { ranking: [[1], [2]] },
      { "Idempotency-Key": keys.get(assignment) });

    await assert.rejects(submit(7), (e) => e.network);
    await submit(7);
    keys.release(7);
    await submit(7);
    const sent = calls.map((c) => c.headers["Idempotency-Key"]);
    assert.equal(sent[0], sent[1], "the retry after a lost answer");
    assert.notEqual(sent[2], sent[1], "a new submit once the last one went through");
    for (const key of sent) assert.match(key, UUID_V4);
  });

  test("each assignment has its own key", () => {
    let n = 0;
    const keys = new IdempotencyKeys(() => `key-${(n += 1)}`);
    assert.equal(keys.get(1), "key-1");
    assert.equal(keys.get(2), "key-2");
    assert.equal(keys.get(1), "key-1");
    keys.release(1);
    assert.equal(keys.get(1), "key-3");
    assert.equal(keys.get(2), "key-2");
  });

  test("keys are version 4 UUIDs, also where randomUUID is missing (plain http)", () => {
    assert.match(uuid(), UUID_V4);
    const bytesOnly = { getRandomValues: (array) => array.fill(0xff) };
    assert.equal(uuid(bytesOnly), "ffffffff-ffff-4fff-bfff-ffffffffffff");
    const zeros = { getRandomValues: (array) => array.fill(0) };
    assert.equal(uuid(zeros), "00000000-0000-4000-8000-000000000000");
  });
});
