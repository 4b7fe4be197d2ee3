// core/clock: a coarse clock and one shared sweep timer, so per-connection deadlines (heartbeat,
// idle, lifetime, upstream timeouts) cost a field store per chunk instead of a setTimeout per
// message (undici lib/util/timers.js does the same for its socket timeouts). ManualClock is the
// same clock with time moved by hand, for tests.

export interface Sweepable {
  // Called on every tick with the coarse time; returns nothing, acts on its own deadlines.
  sweep(nowMs: number): void;
}

export class Clock {
  /** Milliseconds since the epoch, refreshed on every tick and by `refresh()`. */
  nowMs = Date.now();
  // Members exist, so sweeps are due every tick (a ManualClock runs them in advance()).
  protected running = false;
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
    if (this.running) {
      this.stop();
      this.start();
    }
  }

  refresh(): number {
    this.nowMs = Date.now();
    return this.nowMs;
  }

  add(member: Sweepable): void {
    this.members.add(member);
    if (!this.running) this.start();
  }

  delete(member: Sweepable): void {
    this.members.delete(member);
    if (this.members.size === 0) this.stop();
  }

  stop(): void {
    this.running = false;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  // A clock stopped for a while holds a stale time: a member stamping a deadline with nowMs
  // before the first tick would otherwise see it as long overdue.
  protected start(): void {
    this.running = true;
    this.refresh();
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

// Time stands still until advance(): no real timer is armed and Date.now() is never read. The
// sweeps land where a real timer would put them (every tick after the clock started or its tick
// changed), and nowMs lags the manual time exactly as a real clock's lags Date.now(): it catches
// up on each sweep and on refresh(). So deadlines fire on the same tick as in production, not
// merely at the end of an advance.
export class ManualClock extends Clock {
  // What Date.now() would return; only advance() moves it.
  private currentMs: number;
  private nextSweepMs = 0;

  constructor(tickMs = 1000, startMs = 0) {
    super(tickMs);
    this.nowMs = this.currentMs = startMs;
  }

  override refresh(): number {
    this.nowMs = this.currentMs;
    return this.nowMs;
  }

  // Runs every sweep due within `ms`, in order; a sweep that empties the clock stops the rest.
  advance(ms: number): void {
    const target = this.currentMs + ms;
    while (this.running && this.nextSweepMs <= target) {
      this.currentMs = this.nextSweepMs;
      this.nextSweepMs += this.tick;
      this.runSweep();
    }
    this.currentMs = target;
  }

  protected override start(): void {
    this.running = true;
    this.nextSweepMs = this.refresh() + this.tick;
  }
}
