/* The lease on a task counts down in the header; near the end it warns, and at the end the
 * page gives the task up. */

export function formatDuration(ms) {
  const s = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${sec}` : `${m}:${sec}`;
}

/* The deadline on this computer's clock. What is left is measured against the server's
 * clock (its Date header), since this computer's clock may be wrong. */
export function leaseWindow(expiresAt, serverNow, now) {
  const expires = Date.parse(expiresAt || "");
  if (Number.isNaN(expires)) return null;
  const total = expires - (serverNow || now);
  return { deadline: now + total, total };
}

/* Two minutes before the end, or the last quarter of a short lease. */
export function warnThreshold(total) {
  return Math.min(120000, total / 4);
}

export class LeaseTimer {
  /* onWarn(warnAtMs) once per lease; onExpire() once, when nothing is being sent
   * (isBusy() false), after which the timer has stopped. */
  constructor(element, { onWarn, onExpire, isBusy = () => false, now = Date.now, timers = globalThis }) {
    Object.assign(this, { element, onWarn, onExpire, isBusy, now, timers });
    this.deadline = 0;
    this.total = 0;
    this.warned = false;
    this.interval = null;
  }

  start(expiresAt, serverNow) {
    this.stop();
    const lease = leaseWindow(expiresAt, serverNow, this.now());
    if (!lease) return;
    Object.assign(this, lease, { warned: false });
    this.tick();
    this.interval = this.timers.setInterval(() => this.tick(), 1000);
  }

  stop() {
    if (this.interval) this.timers.clearInterval(this.interval);
    this.interval = null;
    this.element.classList.remove("warn");
  }

  tick() {
    const left = this.deadline - this.now();
    this.element.textContent = `${formatDuration(left)} left`;
    this.element.setAttribute("aria-label", `Time left on this task: ${formatDuration(left)}`);
    const warnAt = warnThreshold(this.total);
    if (left <= warnAt) {
      this.element.classList.add("warn");
      if (!this.warned && left > 0) {
        this.warned = true;
        this.onWarn(warnAt);
      }
    }
    if (left <= 0 && !this.isBusy()) {
      this.stop();
      this.onExpire();
    }
  }
}
