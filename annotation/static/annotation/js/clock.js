/* Time the task was on screen: a tab left in the background does not count as work. A
 * clock is plain data, {activeMs, visibleSince}, so that it can be kept with a task that
 * comes back; `now` is a monotonic time in ms (performance.now()). */

export function startClock(now, hidden) {
  return { activeMs: 0, visibleSince: hidden ? null : now };
}

export function pauseClock(clock, now) {
  if (clock.visibleSince === null) return clock;
  return { activeMs: clock.activeMs + now - clock.visibleSince, visibleSince: null };
}

export function resumeClock(clock, now) {
  if (clock.visibleSince !== null) return clock;
  return { activeMs: clock.activeMs, visibleSince: now };
}

export function elapsedMs(clock, now) {
  const { activeMs, visibleSince } = clock;
  return Math.max(1, Math.round(activeMs + (visibleSince === null ? 0 : now - visibleSince)));
}
