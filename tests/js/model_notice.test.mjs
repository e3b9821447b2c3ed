import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { excerpt, taskPrompt } from "../../annotation/static/annotation/js/feedback.js";
import { activeModelUrl, isNewModel, modelOf, noticeText } from "../../annotation/static/annotation/js/model_notice.js";

describe("excerpt", () => {
  test("keeps a short text whole, on one line", () => {
    assert.equal(excerpt("Short  and\nsweet"), "Short and sweet");
    assert.equal(excerpt("x".repeat(40)), "x".repeat(40));
  });

  test("cuts a long text to 40 characters with an ellipsis, no dangling comma", () => {
    const cut = excerpt("Happy to help! To level a wobbly table, start with the basics.");
    assert.equal(cut, "Happy to help! To level a wobbly table…");
    assert.ok(cut.length <= 40);
  });

  test("the same cut as the server's", () => {
    // training.scoring.excerpt: flat[:39].rstrip(" ,;:") + "…"
    assert.equal(excerpt("No. Figure out how to wrap a birthday present yourself."),
      "No. Figure out how to wrap a birthday p…");
  });
});

describe("taskPrompt", () => {
  test("a plain prompt, or a chat's last user turn", () => {
    assert.equal(taskPrompt({ prompt: "How?" }), "How?");
    assert.equal(taskPrompt({ messages: [
      { role: "user", content: "First" }, { role: "assistant", content: "Reply" },
      { role: "user", content: "Second" }, { role: "assistant", content: "Draft" }] }), "Second");
  });
});

describe("the new model notice", () => {
  const v1 = modelOf({ model_version: "v1", version: 1, activated_at: "2026-01-01T10:00:00Z", trained_on: 24 });
  const v2 = modelOf({ model_version: "v2", version: 2, activated_at: "2026-01-01T12:30:00Z", trained_on: 31 });
  const none = modelOf({ model_version: null, responses: [] });

  test("reads a feedback or active-model answer; ignores others", () => {
    assert.deepEqual(v2, { version: 2, name: "v2", activatedAt: "2026-01-01T12:30:00Z", trainedOn: 31 });
    assert.deepEqual(none, { version: null, name: null, activatedAt: null, trainedOn: null });
    assert.equal(modelOf({ detail: "Not found." }), null);
    assert.equal(modelOf(null), null);
  });

  test("news only when a version differs from the one seen", () => {
    assert.equal(isNewModel(null, v1), false); // first sight
    assert.equal(isNewModel(v1, v1), false);
    assert.equal(isNewModel(v1, v2), true);
    assert.equal(isNewModel(none, v1), true); // the first model of the project
    assert.equal(isNewModel(v1, none), false); // deactivated: nothing to announce
  });

  test("says the version, the labels and since when", () => {
    assert.equal(noticeText(v2, { locale: "en-GB", timeZone: "UTC" }),
      "A new reward model v2 is live: trained on 31 labels, since 12:30. The feedback on your next labels comes from it.");
    assert.equal(noticeText({ ...v2, trainedOn: 1, activatedAt: null }),
      "A new reward model v2 is live: trained on 1 label. The feedback on your next labels comes from it.");
  });

  test("asks the project's own URL", () => {
    assert.equal(activeModelUrl(7), "/api/v1/projects/7/reward-models/active/");
  });
});
