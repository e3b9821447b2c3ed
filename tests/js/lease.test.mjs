import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { elapsedMs, pauseClock, resumeClock, startClock } from "../../annotation/static/annotation/js/clock.js";
import {
  LeaseTimer, formatDuration, leaseWindow, warnThreshold,
} from "../../annotation/static/annotation/js/lease.js";

describe("formatDuration", () => {
  test("minutes and seconds, hours only when there are some", () => {
    assert.equal(formatDuration(0), "0:00");
    assert.equal(formatDuration(59_000), "0:59");
    assert.equal(formatDuration(61_000), "1:01");
    assert.equal(formatDuration(600_000), "10:00");
    assert.equal(formatDuration(3_600_000), "1:00:00");
    assert.equal(formatDuration(3_661_000), "1:01:01");
  });

  test("rounds up, so that 0:00 means the time is over", () => {
    assert.equal(formatDuration(1), "0:01");
    assert.equal(formatDuration(999), "0:01");
    assert.equal(formatDuration(1000), "0:01");
    assert.equal(formatDuration(1001), "0:02");
  });

  test("never goes below zero", () => {
    assert.equal(formatDuration(-5000), "0:00");
  });
});

describe("leaseWindow", () => {
  const expiresAt = "2026-12-01T10:10:00Z";
  const server = Date.parse("2026-12-01T10:00:00Z");

  test("counts what is left on the server's clock from now on this one", () => {
    const wrongLocalClock = server + 3_600_000;
    assert.deepEqual(leaseWindow(expiresAt, server, wrongLocalClock),
      { deadline: wrongLocalClock + 600_000, total: 600_000 });
  });

  test("uses this computer's clock when the server's is unknown", () => {
    assert.deepEqual(leaseWindow(expiresAt, null, server + 60_000), { deadline: server + 600_000, total: 540_000 });
  });

  test("no lease without a readable expiry", () => {
    assert.equal(leaseWindow(null, server, server), null);
    assert.equal(leaseWindow("soon", server, server), null);
  });
});

test("the warning comes two minutes before the end, or in the last quarter of a short lease", () => {
  assert.equal(warnThreshold(600_000), 120_000);
  assert.equal(warnThreshold(480_000), 120_000);
  assert.equal(warnThreshold(400_000), 100_000);
  assert.equal(warnThreshold(4_000), 1_000);
});

describe("LeaseTimer", () => {
  function setUp({ busy = false } = {}) {
    const element = {
      textContent: "", attributes: {}, classes: new Set(),
      setAttribute(name, value) { this.attributes[name] = value; },
      classList: null,
    };
    element.classList = { add: (c) => element.classes.add(c), remove: (c) => element.classes.delete(c) };
    const clock = { now: Date.parse("2026-12-01T10:00:00Z") };
    const timers = {
      handlers: new Map(), next: 1,
      setInterval(fn) { this.handlers.set(this.next, fn); return this.next++; },
      clearInterval(id) { this.handlers.delete(id); },
    };
    const events = { warned: [], expired: 0, busy };
    const timer = new LeaseTimer(element, {
      now: () => clock.now, timers, isBusy: () => events.busy,
      onWarn: (warnAt) => events.warned.push(warnAt),
      onExpire: () => { events.expired += 1; },
    });
    const advance = (ms) => {
      for (let t = 0; t < ms; t += 1000) {
        clock.now += 1000;
        for (const fn of [...timers.handlers.values()]) fn();
      }
    };
    return { element, clock, timers, events, timer, advance };
  }

  test("shows the time left, then warns once, then expires once", () => {
    const { element, clock, timers, events, timer, advance } = setUp();
    timer.start(new Date(clock.now + 10_000).toISOString(), clock.now);
    assert.equal(element.textContent, "0:10 left");
    assert.equal(element.attributes["aria-label"], "Time left on this task: 0:10");
    assert.equal(timers.handlers.size, 1);

    advance(7000);
    assert.equal(element.textContent, "0:03 left");
    assert.equal(element.classes.has("warn"), false);
    advance(1000);
    assert.equal(element.classes.has("warn"), true);
    assert.deepEqual(events.warned, [2500]);
    advance(1000);
    assert.deepEqual(events.warned, [2500], "warned once");
    assert.equal(events.expired, 0);

    advance(1000);
    assert.equal(element.textContent, "0:00 left");
    assert.equal(events.expired, 1);
    assert.equal(timers.handlers.size, 0, "stopped");
    assert.equal(element.classes.has("warn"), false);
  });

  test("does not give the task up while a submit is on its way", () => {
    const { clock, timers, events, timer, advance } = setUp({ busy: true });
    timer.start(new Date(clock.now + 2000).toISOString(), clock.now);
    advance(5000);
    assert.equal(events.expired, 0);
    assert.equal(timers.handlers.size, 1);
    events.busy = false;
    advance(1000);
    assert.equal(events.expired, 1);
  });

  test("a new lease replaces the old one and may warn again", () => {
    const { clock, timers, events, timer, advance } = setUp();
    timer.start(new Date(clock.now + 8000).toISOString(), clock.now);
    advance(7000);
    timer.start(new Date(clock.now + 8000).toISOString(), clock.now);
    assert.equal(timers.handlers.size, 1);
    advance(7000);
    assert.equal(events.warned.length, 2);
  });

  test("an unreadable expiry starts no countdown", () => {
    const { timers, timer, element } = setUp();
    timer.start(undefined, null);
    assert.equal(timers.handlers.size, 0);
    assert.equal(element.textContent, "");
  });
});

describe("time on task", () => {
  test("counts only while the page is visible", () => {
    let clock = startClock(1000, false);
    clock = pauseClock(clock, 4000);
    assert.equal(elapsedMs(clock, 60_000), 3000, "hidden time does not count");
    clock = resumeClock(clock, 60_000);
    assert.equal(elapsedMs(clock, 62_000), 5000);
  });

  test("a page opened in the background starts counting when shown", () => {
    let clock = startClock(1000, true);
    assert.equal(elapsedMs(clock, 9000), 1, "at least 1 ms");
    clock = resumeClock(clock, 9000);
    assert.equal(elapsedMs(clock, 9500), 500);
  });

  test("repeated events change nothing", () => {
    const clock = startClock(0, false);
    assert.equal(resumeClock(clock, 50), clock);
    const paused = pauseClock(clock, 100);
    assert.equal(pauseClock(paused, 200), paused);
    assert.equal(elapsedMs(paused, 10_000), 100);
  });
});
