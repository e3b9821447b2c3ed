import assert from "node:assert/strict";
import { test } from "node:test";

import { describeLine, isGzip, previewLines } from "../../annotation/static/annotation/js/import_preview.js";

test("the first lines of a native file, blank lines counted in the numbers", () => {
  const text = '{"prompt": "p1", "responses": ["a", {"text": "b"}]}\n\n{"prompt": "p2", "responses": ["c", "d"]}\n';
  assert.deepEqual(previewLines(text, "native"), [
    { line: 1, prompt: "p1", responses: ["a", "b"] },
    { line: 3, prompt: "p2", responses: ["c", "d"] },
  ]);
});

test("a line that is not JSON, or not an object, is named by its number", () => {
  const rows = previewLines('{"prompt": "p", "responses": []}\n{oops\n[1, 2]\n', "native");
  assert.equal(rows[1].line, 2);
  assert.match(rows[1].error, /^Not valid JSON/);
  assert.deepEqual(rows[2], { line: 3, error: "A line must be a JSON object." });
});

test("at most five lines, and a cut last line of a truncated read is left out", () => {
  const text = Array.from({ length: 9 }, (_, i) => `{"prompt": "p${i}"}`).join("\n");
  assert.equal(previewLines(text, "prompts").length, 5);
  assert.deepEqual(previewLines('{"prompt": "a"}\n{"prom', "prompts", { truncated: true }),
    [{ line: 1, prompt: "a", responses: [] }]);
});

test("hh-rlhf transcripts split at the last shared Assistant marker; trl pairs", () => {
  const hh = { chosen: "\n\nHuman: Hi\n\nAssistant: Hello", rejected: "\n\nHuman: Hi\n\nAssistant: Go." };
  assert.deepEqual(describeLine(hh, "hh-rlhf"), { prompt: "Hi", responses: ["Hello", "Go."] });
  assert.deepEqual(describeLine({ prompt: "q", chosen: "a", rejected: "b" }, "trl"),
    { prompt: "q", responses: ["a", "b"] });
  const conversational = {
    prompt: [{ role: "user", content: "q" }],
    chosen: [{ role: "assistant", content: "a" }], rejected: [{ role: "assistant", content: "b" }],
  };
  assert.deepEqual(describeLine(conversational, "trl"), { prompt: "q", responses: ["a", "b"] });
});

test("gzip is recognised by its magic bytes or its name", () => {
  assert.ok(isGzip("x.jsonl", new Uint8Array([0x1f, 0x8b])));
  assert.ok(isGzip("x.jsonl.GZ", new Uint8Array([0x7b, 0x22])));
  assert.ok(!isGzip("x.jsonl", new Uint8Array([0x7b, 0x22])));
});
