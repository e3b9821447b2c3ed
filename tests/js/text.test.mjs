import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  conversationOf, inlineSegments, ordinal, parseText, progressText, rankingAnnouncement, rankingText,
  roleClass, roleLabel,
} from "../../annotation/static/annotation/js/text.js";

test("ordinals", () => {
  const got = [1, 2, 3, 4, 10, 11, 12, 13, 21, 22, 23, 101, 111, 112, 113].map(ordinal);
  assert.deepEqual(got, ["1st", "2nd", "3rd", "4th", "10th", "11th", "12th", "13th", "21st", "22nd", "23rd",
    "101st", "111th", "112th", "113th"]);
});

describe("parseText", () => {
  const plain = (text) => [{ text, code: false }];

  test("blank lines make paragraphs, single newlines line breaks", () => {
    assert.deepEqual(parseText("one\ntwo\n\n\nthree\r\nfour"), [
      { type: "paragraph", lines: [plain("one"), plain("two")] },
      { type: "paragraph", lines: [plain("three"), plain("four")] },
    ]);
  });

  test("fenced code keeps its lines and language", () => {
    assert.deepEqual(parseText("Try:\n```python\nfor x in xs:\n\n    print(x)\n```\nDone."), [
      { type: "paragraph", lines: [plain("Try:")] },
      { type: "code", lang: "python", text: "for x in xs:\n\n    print(x)" },
      { type: "paragraph", lines: [plain("Done.")] },
    ]);
  });

  test("only a bare fence closes a block; an unclosed block runs to the end", () => {
    assert.deepEqual(parseText("```\n```md\ninner\n"), [{ type: "code", lang: "", text: "```md\ninner\n" }]);
  });

  test("paired backticks are inline code, unpaired ones stay as they are", () => {
    assert.deepEqual(inlineSegments("use `xs[::-1]` or `reversed`"), [
      { text: "use ", code: false }, { text: "xs[::-1]", code: true }, { text: " or ", code: false },
      { text: "reversed", code: true },
    ]);
    assert.deepEqual(inlineSegments("a ` b `c` d"), plain("a ` b `c` d"));
    assert.deepEqual(inlineSegments("``"), [{ text: "", code: true }]);
  });

  test("markup is only text", () => {
    assert.deepEqual(parseText('<img src=x onerror="alert(1)">'),
      [{ type: "paragraph", lines: [plain('<img src=x onerror="alert(1)">')] }]);
  });

  test("nothing gives nothing", () => {
    assert.deepEqual(parseText(null), []);
    assert.deepEqual(parseText("  \n\n"), []);
  });
});

describe("conversations", () => {
  test("a prompt is one user turn; messages are the turns", () => {
    assert.deepEqual(conversationOf({ prompt: "Hi", messages: [] }), [{ role: "user", content: "Hi" }]);
    assert.deepEqual(conversationOf({ prompt: "", messages: [{ role: "system", content: "Be brief" }, { content: "Q" }] }),
      [{ role: "system", content: "Be brief" }, { role: "user", content: "Q" }]);
  });

  test("roles read as words and classes", () => {
    assert.deepEqual(["user", "Human", "assistant", "system", "tool"].map(roleLabel),
      ["User", "User", "Assistant", "System", "Tool"]);
    assert.equal(roleClass("Tool-Call 2"), "turn-toolcall");
  });
});

describe("ranking as words", () => {
  const responses = [{ id: 10, num: 1 }, { id: 20, num: 2 }, { id: 30, num: 3 }];

  test("tiers by the numbers shown, ties with =", () => {
    assert.equal(rankingText(responses, [[20, 30], [10]]), "#2 = #3  ≻  #1");
    assert.equal(rankingText(responses, [[99]]), "?99");
  });

  test("what a screen reader hears after each change", () => {
    assert.equal(rankingAnnouncement(responses, []), "Nothing ranked. 3 left.");
    assert.equal(rankingAnnouncement(responses, [[20, 30]]), "1st: response 2 and response 3. 1 left.");
    assert.equal(rankingAnnouncement(responses, [[20], [30], [10]]),
      "1st: response 2; 2nd: response 3; 3rd: response 1. All ranked.");
  });

  test("the session's progress", () => {
    assert.equal(progressText({ labels: 0, skips: 0 }), "0 labels this session");
    assert.equal(progressText({ labels: 1, skips: 0 }), "1 label this session");
    assert.equal(progressText({ labels: 4, skips: 2 }), "4 labels this session · 2 skipped");
  });
});
