import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { isTyping, shortcutFor } from "../../annotation/static/annotation/js/keyboard.js";

const body = { tagName: "BODY", closest: () => null };
const button = { tagName: "BUTTON", closest: () => button };
const textarea = { tagName: "TEXTAREA" };
const task = { dialogOpen: false, view: "task", busy: false, dragging: false, size: 3, complete: false, tie: false };
const press = (key, page = {}, extra = {}) => shortcutFor({ key, target: body, ...extra }, { ...task, ...page });

test("typing happens in text fields, not on checkboxes and buttons", () => {
  assert.equal(isTyping(textarea), true);
  assert.equal(isTyping({ tagName: "INPUT", type: "text" }), true);
  assert.equal(isTyping({ tagName: "SELECT" }), true);
  assert.equal(isTyping({ tagName: "DIV", isContentEditable: true }), true);
  for (const type of ["checkbox", "radio", "button", "submit"]) {
    assert.equal(isTyping({ tagName: "INPUT", type }), false);
  }
  assert.equal(isTyping(body), false);
  assert.equal(isTyping(null), false);
});

describe("shortcuts", () => {
  test("numbers pick the response with that number", () => {
    assert.deepEqual(press("2"), { action: "pick", value: 2, prevent: true });
    assert.deepEqual(press("9"), { action: "pick", value: 9, prevent: true });
    assert.equal(press("0"), null);
  });

  test("once a pair is ranked, 1 to 3 set the strength", () => {
    const pair = { size: 2, complete: true };
    assert.deepEqual(press("3", pair), { action: "strength", value: 3, prevent: true });
    assert.deepEqual(press("4", pair), { action: "none", prevent: true });
    assert.deepEqual(press("1", { ...pair, tie: true }), { action: "none", prevent: true }, "no strength for a tie");
    assert.deepEqual(press("1", { size: 2, complete: false }), { action: "pick", value: 1, prevent: true });
    assert.deepEqual(press("1", { size: 3, complete: true }), { action: "pick", value: 1, prevent: true });
  });

  test("letters", () => {
    assert.equal(press("t").action, "tie");
    assert.equal(press("T").action, "tie");
    assert.equal(press("u").action, "undo");
    assert.equal(press("Backspace").action, "undo");
    assert.equal(press("s").action, "skip");
    assert.deepEqual(press("Escape"), { action: "escape" });
    assert.deepEqual(press("?"), { action: "shortcuts", prevent: true });
    assert.equal(press("x"), null);
  });

  test("Enter submits, except on a focused control", () => {
    assert.deepEqual(press("Enter"), { action: "submit", prevent: true });
    assert.equal(shortcutFor({ key: "Enter", target: button }, task), null);
  });

  test("keys with Ctrl, Cmd or Alt belong to the browser", () => {
    for (const modifier of ["ctrlKey", "metaKey", "altKey"]) {
      assert.equal(press("1", {}, { [modifier]: true }), null);
      assert.equal(press("?", {}, { [modifier]: true }), null);
    }
  });

  test("in a text box only Escape and Ctrl+Enter mean something", () => {
    const typing = (key, extra = {}, page = {}) => shortcutFor({ key, target: textarea, ...extra }, { ...task, ...page });
    assert.equal(typing("1"), null);
    assert.equal(typing("s"), null);
    assert.equal(typing("Enter"), null);
    assert.deepEqual(typing("Escape"), { action: "blur" });
    assert.deepEqual(typing("Enter", { ctrlKey: true }), { action: "submit", prevent: true });
    assert.deepEqual(typing("Enter", { metaKey: true }), { action: "submit", prevent: true });
    assert.equal(typing("Enter", { ctrlKey: true }, { view: "empty" }), null);
  });

  test("nothing but ? outside a task, while sending or while dragging", () => {
    for (const page of [{ view: "loading" }, { view: "empty" }, { busy: true }, { dragging: true }]) {
      assert.equal(press("1", page), null);
      assert.equal(press("Enter", page), null);
      assert.equal(press("?", page).action, "shortcuts");
    }
  });

  test("an open dialog handles its own keys", () => {
    assert.equal(press("?", { dialogOpen: true }), null);
    assert.equal(press("Escape", { dialogOpen: true }), null);
  });
});
