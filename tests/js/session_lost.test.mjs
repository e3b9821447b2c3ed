import assert from "node:assert/strict";
import { test } from "node:test";

import { ApiError, createApi, isSessionLost, onSessionLost } from "../../annotation/static/annotation/js/api.js";

const answering = (status, body) => async () => new Response(JSON.stringify(body), { status });

test("a 401 tells the session listeners before it is thrown; other refusals do not", async () => {
  const heard = [];
  const stop = onSessionLost((err) => heard.push(err.status));
  const gone = createApi({ cookies: () => "", fetch: answering(401, { detail: "Authentication credentials were not provided.", errors: [] }) });
  await assert.rejects(gone.post("/api/v1/x/", {}), ApiError);
  const refused = createApi({ cookies: () => "", fetch: answering(403, { detail: "Read the guidelines first.", errors: [] }) });
  await assert.rejects(refused.get("/api/v1/x/"), ApiError);
  stop();
  await assert.rejects(gone.get("/api/v1/x/"), ApiError);
  assert.deepEqual(heard, [401]);
});

test("a 403 saying no credentials came is a lost session too", () => {
  assert.ok(isSessionLost(new ApiError(403, { detail: "Authentication credentials were not provided." })));
  assert.ok(!isSessionLost(new ApiError(403, { detail: "You may not do this." })));
});

test("a FormData body is sent as it is, without a JSON Content-Type", async () => {
  let sent;
  const api = createApi({ cookies: () => "csrftoken=t", fetch: async (url, init) => { sent = init; return new Response("{}", { status: 201 }); } });
  const body = new FormData();
  body.append("file", new Blob(["{}\n"]), "a.jsonl");
  await api.request("POST", "/api/v1/import/", { body });
  assert.equal(sent.body, body);
  assert.equal(sent.headers["Content-Type"], undefined);
  assert.equal(sent.headers["X-CSRFToken"], "t");
});
