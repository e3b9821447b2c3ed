import assert from "node:assert/strict";
import { test } from "node:test";

import { skipReason } from "../../annotation/static/annotation/js/skip.js";

test("a skip reason is the chosen reason and the details, or Other", () => {
  assert.equal(skipReason("I can't judge this topic", ""), "I can't judge this topic");
  assert.equal(skipReason("The prompt or a response is broken", "  response 2 is empty "),
    "The prompt or a response is broken: response 2 is empty");
  assert.equal(skipReason("Other", "cannot judge code"), "cannot judge code");
  assert.equal(skipReason(null, "cannot judge code"), "cannot judge code");
  assert.equal(skipReason("Other", "   "), "Other");
  assert.equal(skipReason(null, ""), "Other");
});
