import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, test } from "node:test";

import { blankResponse } from "../../annotation/static/annotation/js/render.js";

describe("blankResponse", () => {
  test("a response with visible text is shown as it is", () => {
    for (const text of ["4", "  padded  ", "\n\nlate start", "(empty response)", "\ufeff"]) {
      assert.equal(blankResponse(text, 1), null, JSON.stringify(text));
    }
  });

  test("the empty string stands in as an empty response", () => {
    assert.deepEqual(blankResponse("", 2), {
      kind: "empty", label: "(empty response)",
      description: "Response 2 is empty: the model gave no text.",
    });
    assert.equal(blankResponse(null, 1).kind, "empty");
    assert.equal(blankResponse(undefined, 1).kind, "empty");
  });

  test("whitespace only is told apart from empty, with its length", () => {
    assert.deepEqual(blankResponse(" \n\t", 3), {
      kind: "whitespace", label: "(whitespace only: 3 characters)",
      description: "Response 3 is only whitespace (3 characters): the model gave no visible text.",
    });
    assert.equal(blankResponse("\u3000", 1).label, "(whitespace only: 1 character)");
  });

  test("blank means what the import counts as empty: Python's str.isspace()", (t) => {
    const python = process.env.PYTHON || "python3";
    const script = "import json; print(json.dumps([c for c in range(0x10000) if chr(c).isspace()]))";
    const run = spawnSync(python, ["-c", script], { encoding: "utf8" });
    if (run.error) {
      t.skip(`${python} is not available`);
      return;
    }
    const pythonSpaces = JSON.parse(run.stdout);
    const pageSpaces = [];
    for (let c = 0; c < 0x10000; c++) {
      if (c >= 0xd800 && c <= 0xdfff) continue; // lone surrogate halves are never imported
      if (blankResponse(String.fromCharCode(c), 1)?.kind === "whitespace") pageSpaces.push(c);
    }
    assert.deepEqual(pageSpaces, pythonSpaces);
  });
});
