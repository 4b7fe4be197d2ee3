// core/clock: a coarse clock and one shared sweep timer, so per-connection deadlines (heartbeat,
// idle, lifetime) cost a field store per chunk instead of a setTimeout per message (undici
// lib/util/timers.js does the same for its socket timeouts).

export interface Sweepable {
  // Called on every tick with the coarse time; returns nothing, acts on its own deadlines.
  sweep(nowMs: number): void;
}

export class Clock {
  /** Milliseconds since the epoch, refreshed on every tick and by `refresh()`. */
  nowMs = Date.now();
  private timer: NodeJS.Timeout | null = null;
  private readonly members = new Set<Sweepable>();

  constructor(private tickMs: number) {}

  get tick(): number {
    return this.tickMs;
  }

  // The tick follows the smallest deadline configured (a 50ms pong timeout needs a fine tick),
  // clamped to [10ms, 1s]; changing it restarts the timer.
  setTick(ms: number): void {
    const tick = Math.max(10, Math.min(1000, Math.floor(ms)));
    if (tick === this.tickMs) return;
    this.tickMs = tick;
    if (this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
      this.start();
    }
  }

  refresh(): number {
    this.nowMs = Date.now();
    return this.nowMs;
  }

  add(member: Sweepable): void {
    this.members.add(member);
    if (this.timer === null) this.start();
  }

  delete(member: Sweepable): void {
    this.members.delete(member);
    if (this.members.size === 0) this.stop();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private start(): void {
    this.timer = setInterval(clockTick, this.tickMs, this);
    this.timer.unref();
  }

  runSweep(): void {
    const now = this.refresh();
    for (const m of this.members) m.sweep(now);
  }
}

function clockTick(clock: Clock): void {
  clock.runSweep();
}
