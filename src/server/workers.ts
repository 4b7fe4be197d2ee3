// server/workers: `workers: N` with node:cluster, the primary's side. The primary forks N workers,
// each a Gateway on the traffic listeners (cluster shares the listen sockets), and carries no traffic
// itself: it restarts a worker that dies, turns signals into drains and reloads of all workers, and
// serves the admin API, which asks every worker over cluster IPC (cluster-admin.ts).
// The worker's side is worker.ts. `workers: 1` never comes here: one process, no cluster.
import cluster, { type Worker } from 'node:cluster';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { availableParallelism } from 'node:os';
import { compileConfig, configHash, type CompiledConfig } from '../config/compile.js';
import { isConfigUnreadable } from '../config/load.js';
import type { GatewayConfig } from '../config/schema.js';
import { createAdminServer } from '../admin/server.js';
import type { ErrorCode } from '../core/errors.js';
import { createLogger, type Logger } from '../observability/log.js';
import { EVENTS } from '../observability/events.js';
import type { BoundAddress } from './gateway.js';
import { ClusterAdmin, type ClusterHost } from './cluster-admin.js';
import { Questions, isFromWorker, sendToWorker, type FromWorker } from './cluster-ipc.js';
import { describeListenError, listen } from './listener.js';
import { workerExecArgv } from './heap-tuning.js';

// The `code` of the `error` line logged when a worker exits without being asked to.
export const WORKER_EXITED = 'WORKER_EXITED' satisfies ErrorCode;

// A worker that keeps crashing is restarted after 1 s, 2 s, 4 s … at most 30 s; one that ran for a
// minute before it died starts again from 1 s.
const RESTART_FIRST_MS = 1_000;
const RESTART_MAX_MS = 30_000;
const RESTART_RESET_AFTER_MS = 60_000;
// Past the drain period and the 5 s WebSocket close handshake, a worker that has not exited is killed.
const STOP_GRACE_MS = 15_000;

/** `workers` from the config or `--workers`: 'auto' is one worker per core. */
export function workerCount(setting: number | 'auto'): number {
  return setting === 'auto' ? availableParallelism() : setting;
}

// ---- the primary ------------------------------------------------------------------------------

// One of the N places for a worker. Its id (1..N) stays the same across restarts; logs and the
// connection list name workers by it.
interface Slot {
  readonly id: number;
  worker: Worker | null;
  listening: boolean;
  listeners: BoundAddress[];
  bornAtMs: number;
  restartDelayMs: number;
  restartTimer: NodeJS.Timeout | null;
  failure: string | null;     // what the worker said when it could not start
}

type State = 'starting' | 'running' | 'stopping';

/**
 * Runs the cluster primary until a signal stops it. Resolves with 2 when it could not start (the
 * reason printed on one line), else with -1 while it runs: it exits the process itself when stopped.
 */
export function runPrimary(config: GatewayConfig, count: number, load: () => GatewayConfig): Promise<number> {
  let primary: Primary;
  try {
    primary = new Primary(config, count, load);
  } catch (err) {
    // What `new Gateway()` would have thrown in one process (a TLS file that cannot be read).
    process.stderr.write(`wsgate: ${(err as Error).message}\n`);
    return Promise.resolve(isConfigUnreadable(err) ? 2 : 1);
  }
  // Every worker, first or replacement, runs with the young generation capped (heap-tuning.ts),
  // unless the user sized it.
  cluster.setupPrimary({ execArgv: workerExecArgv(process.execArgv, process.env.NODE_OPTIONS) });
  return primary.start();
}

class Primary implements ClusterHost {
  private readonly log: Logger;
  private config: GatewayConfig;             // what a (re)started worker gets
  private compiled: CompiledConfig;
  private readonly slots: Slot[];
  private readonly questions = new Questions();
  private readonly api: ClusterAdmin;         // the admin API's AdminSource
  private state: State = 'starting';
  private admin: Server | null = null;
  private exitWaiters: (() => void)[] = [];
  private settleStart: (failure: string | null) => void = () => undefined;
  private readonly started = new Promise<string | null>((resolve) => {
    this.settleStart = resolve;
  });

  constructor(config: GatewayConfig, count: number, load: () => GatewayConfig) {
    this.config = config;
    this.compiled = compileConfig(config);
    this.log = createLogger(this.compiled.log);
    this.slots = Array.from({ length: count }, (_, i) => ({
      id: i + 1,
      worker: null,
      listening: false,
      listeners: [],
      bornAtMs: 0,
      restartDelayMs: RESTART_FIRST_MS,
      restartTimer: null,
      failure: null,
    }));
    this.api = new ClusterAdmin(this, this.slots, this.questions, this.log, load);
  }

  async start(): Promise<number> {
    // As in the single process: handlers before listening, so an early signal drains rather than kills.
    process.on('SIGTERM', this.onStopSignal);
    process.on('SIGINT', this.onStopSignal);
    process.on('SIGHUP', this.onHangUp);
    const { host, port, token } = this.compiled.admin;
    const admin = createAdminServer(this.api, token);
    try {
      await listen(admin, host, port);
    } catch (err) {
      this.offSignals();
      process.stderr.write(`wsgate: ${describeListenError(err)}\n`);
      return 2;
    }
    this.admin = admin;
    for (const slot of this.slots) this.fork(slot);
    const failure = await this.started;
    if (failure !== null) {
      // Nothing was announced yet: stop the others and report the first problem, as one process would.
      this.state = 'stopping';
      for (const s of this.slots) s.worker?.process.kill('SIGTERM');
      await this.allExited();
      await this.closeAdmin();
      this.offSignals();
      process.stderr.write(`wsgate: ${failure}\n`);
      return 2;
    }
    if (this.state === 'stopping') return -1; // a signal came while the workers were starting
    this.state = 'running';
    // The config every worker now runs, once for the cluster (workers log only reloads): the same
    // line, and the same hash, as one process writes.
    this.logConfigLoaded('start');
    const a = admin.address() as AddressInfo;
    this.log.info(
      {
        event: EVENTS.LISTENING,
        listeners: this.slots[0]!.listeners,
        admin: { host: a.address, port: a.port },
        routes: this.config.routes.length,
        workers: this.slots.length,
        workerPids: this.slots.map((s) => s.worker?.process.pid ?? null),
      },
      'wsgate listening',
    );
    return -1;
  }

  // config_loaded for the config in this.compiled; a reload's line comes once every worker took it,
  // beside each worker's own line.
  private logConfigLoaded(trigger: 'start' | 'reload', extra: Record<string, unknown> = {}): void {
    const c = this.compiled;
    this.log.info({ event: EVENTS.CONFIG_LOADED, trigger, routes: c.routes.length, upstreams: c.upstreams.size, hash: configHash(c.source), workers: this.slots.length, ...extra }, 'config loaded');
  }

  private fork(slot: Slot): void {
    const worker = cluster.fork();
    slot.worker = worker;
    slot.listening = false;
    slot.failure = null;
    slot.bornAtMs = Date.now();
    worker.on('message', (m: unknown) => {
      if (isFromWorker(m)) this.onMessage(slot, worker, m);
    });
    worker.on('exit', (code: number | null, signal: string | null) => this.onExit(slot, worker, code, signal));
    // A send to a worker that just died fails here rather than crashing the primary; its exit follows.
    worker.on('error', (err: Error) => this.log.warn({ event: EVENTS.ERROR, code: 'INTERNAL' satisfies ErrorCode, worker: slot.id, err }, 'worker IPC error'));
  }

  private onMessage(slot: Slot, worker: Worker, m: FromWorker): void {
    switch (m.wsgate) {
      case 'hello':
        // After any reload in progress, so a restarted worker starts with what the others now run.
        void this.api.afterReload().then(() => {
          if (slot.worker !== worker) return;
          sendToWorker(worker, this.state === 'stopping' ? { wsgate: 'drain' } : { wsgate: 'start', worker: slot.id, config: this.config });
        });
        return;
      case 'listening':
        slot.listening = true;
        slot.listeners = m.listeners;
        if (this.state === 'starting' && this.slots.every((s) => s.listening)) this.settleStart(null);
        else if (this.state === 'running') {
          this.log.info({ event: EVENTS.LISTENING, worker: slot.id, workerPid: worker.process.pid, listeners: m.listeners, restarted: true }, 'worker listening again');
        }
        return;
      case 'failed':
        slot.failure = m.message;
        if (this.state === 'starting') this.settleStart(m.message);
        return;
      case 'answer':
        this.questions.answered(m);
        return;
    }
  }

  private onExit(slot: Slot, worker: Worker, code: number | null, signal: string | null): void {
    if (slot.worker !== worker) return;
    slot.worker = null;
    slot.listening = false;
    this.questions.workerExited(worker);
    if (this.slots.every((s) => s.worker === null)) for (const w of this.exitWaiters.splice(0)) w();
    if (this.state === 'stopping') return;
    const how = signal !== null ? `signal ${signal}` : `code ${code}`;
    if (this.state === 'starting') {
      this.settleStart(slot.failure ?? `worker ${slot.id} exited (${how}) before it was listening`);
      return;
    }
    // Died without being asked: start another in its place, later each time it keeps dying.
    if (Date.now() - slot.bornAtMs >= RESTART_RESET_AFTER_MS) slot.restartDelayMs = RESTART_FIRST_MS;
    const delayMs = slot.restartDelayMs;
    slot.restartDelayMs = Math.min(delayMs * 2, RESTART_MAX_MS);
    this.log.error(
      {
        event: EVENTS.ERROR,
        code: WORKER_EXITED,
        worker: slot.id,
        workerPid: worker.process.pid,
        exitCode: code,
        signal,
        restartInMs: delayMs,
        ...(slot.failure !== null ? { reason: slot.failure } : {}),
      },
      `worker exited (${how}); restarting it`,
    );
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = null;
      if (this.state === 'running') this.fork(slot);
    }, delayMs);
  }

  // ---- signals ----

  // SIGTERM / SIGINT: every worker drains (stops accepting, finishes HTTP, closes WebSockets with
  // 1001) and exits; then the primary exits 0. A second signal kills the workers and exits at once.
  // Arrow properties: process.on/off take them as they are, one identity each.
  private readonly onStopSignal = (): void => {
    if (this.state === 'stopping') {
      for (const s of this.slots) s.worker?.process.kill('SIGKILL');
      process.exit(1);
    }
    this.state = 'stopping';
    this.settleStart(null);
    const drainTimeoutMs = this.compiled.limits.drainTimeoutMs;
    const live = this.slots.filter((s) => s.worker !== null);
    this.log.info({ event: EVENTS.DRAINING, workers: live.length, drainTimeoutMs }, 'draining');
    for (const s of this.slots) {
      if (s.restartTimer !== null) clearTimeout(s.restartTimer);
      s.restartTimer = null;
      if (s.worker !== null) sendToWorker(s.worker, { wsgate: 'drain' });
    }
    let forced = false;
    const guard = setTimeout(() => {
      forced = true;
      const stuck = this.slots.filter((s) => s.worker !== null);
      this.log.error({ event: EVENTS.ERROR, code: 'INTERNAL' satisfies ErrorCode, workers: stuck.map((s) => s.id) }, 'workers did not finish draining; killing them');
      for (const s of stuck) s.worker?.process.kill('SIGKILL');
    }, drainTimeoutMs + STOP_GRACE_MS);
    void this.allExited()
      .then(() => {
        clearTimeout(guard);
        return this.closeAdmin();
      })
      .then(() => {
        this.log.info({ event: EVENTS.STOPPED }, 'stopped');
        this.log.flush(() => process.exit(forced ? 1 : 0));
      });
  };

  private readonly onHangUp = (): void => {
    if (this.state === 'running') void this.api.reload();
  };

  private offSignals(): void {
    process.off('SIGTERM', this.onStopSignal);
    process.off('SIGINT', this.onStopSignal);
    process.off('SIGHUP', this.onHangUp);
  }

  private allExited(): Promise<void> {
    if (this.slots.every((s) => s.worker === null)) return Promise.resolve();
    return new Promise((resolve) => this.exitWaiters.push(resolve));
  }

  private closeAdmin(): Promise<void> {
    const admin = this.admin;
    if (admin === null) return Promise.resolve();
    return new Promise((resolve) => {
      admin.close(() => resolve());
      admin.closeAllConnections();
    });
  }

  // ---- ClusterHost ----

  get ready(): boolean {
    return this.state === 'running' && this.slots.every((s) => s.listening);
  }

  // Every worker took a reload: it becomes what a (re)started worker gets, and config_loaded says so.
  reloaded(next: GatewayConfig, compiled: CompiledConfig, applied: number): void {
    this.config = next;
    this.compiled = compiled;
    this.logConfigLoaded('reload', { applied });
  }
}
