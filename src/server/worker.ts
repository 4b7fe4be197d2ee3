// server/worker: `workers: N` with node:cluster, a worker's side: one Gateway on the traffic listeners
// the primary shares, no admin listener, driven by the primary over cluster IPC (its config, admin
// questions, drain). The primary's side is workers.ts.
import type { GatewayConfig } from '../config/schema.js';
import { createLogger } from '../observability/log.js';
import { Gateway } from './gateway.js';
import { describeListenError } from './listener.js';
import type { FromWorker, Question, ToWorker } from './cluster-ipc.js';
import type { WarmupOption } from './warmup.js';

/**
 * Runs this process as a cluster worker until the primary (or a signal) drains it; it exits by itself.
 * `warmup`: a worker (a first start, or a replacement the primary forks) warms up before it listens,
 * so its first clients do not meet cold code either.
 */
export function runWorker(warmup: WarmupOption = false): number {
  new WorkerProcess(warmup).start();
  return -1;
}

class WorkerProcess {
  private gateway: Gateway | null = null;
  private listening = false;
  private draining = false;
  private signals = 0;

  constructor(private readonly warmup: WarmupOption) {}

  start(): void {
    process.on('message', (m: unknown) => this.onMessage(m as ToWorker));
    // Ctrl-C in a terminal signals the whole process group, workers included: a worker drains as
    // the primary is about to ask it to, and only a second signal makes it exit at once. SIGHUP is
    // the primary's: it reloads every worker.
    const onStop = (): void => {
      this.signals++;
      if (this.signals > 1) process.exit(1);
      this.drain();
    };
    process.on('SIGTERM', onStop);
    process.on('SIGINT', onStop);
    process.on('SIGHUP', ignore);
    send({ wsgate: 'hello' });
  }

  private onMessage(m: ToWorker): void {
    switch (m.wsgate) {
      case 'start':
        return this.startGateway(m.worker, m.config);
      case 'ask':
        return this.answer(m.seq, m.question);
      case 'drain':
        return this.drain();
    }
  }

  private startGateway(id: number, config: GatewayConfig): void {
    let gateway: Gateway;
    try {
      // Its log lines carry `worker` (and, as every line, the pid).
      gateway = new Gateway(config, { logger: createLogger(config.log).child({ worker: id }), standalone: false, defaultMetrics: true, warmup: this.warmup });
    } catch (err) {
      return fail((err as Error).message, 1);
    }
    this.gateway = gateway;
    gateway.listen().then(
      () => {
        this.listening = true;
        if (this.draining) this.closeAndExit();
        else send({ wsgate: 'listening', listeners: gateway.addresses() });
      },
      (err: unknown) => fail(describeListenError(err), 2),
    );
  }

  private answer(seq: number, question: Question): void {
    const gateway = this.gateway;
    Promise.resolve()
      .then(() => {
        if (gateway === null) throw new Error('not started yet');
        return ask(gateway, question);
      })
      .then(
        (value) => send({ wsgate: 'answer', seq, value, error: null }),
        (err: unknown) => send({ wsgate: 'answer', seq, value: null, error: (err as Error).message }),
      );
  }

  private drain(): void {
    if (this.draining) return;
    this.draining = true;
    if (this.gateway === null) process.exit(0); // never started: nothing to drain
    if (this.listening) this.closeAndExit();
    // else listen() is still running: its callback drains
  }

  private closeAndExit(): void {
    this.gateway!.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  }
}

function ask(gateway: Gateway, q: Question): unknown {
  switch (q.op) {
    case 'routes':
      return gateway.routes();
    case 'upstreams':
      return gateway.upstreams();
    case 'config':
      return gateway.redactedConfig();
    case 'metrics':
      return gateway.metricsJson();
    case 'connections':
      return gateway.connections(q.filter);
    case 'connection':
      return gateway.connection(q.id);
    case 'close':
      return gateway.closeConnection(q.id, q.code, q.reason);
    case 'reload':
      return gateway.applyConfig(q.config);
  }
}

function send(message: FromWorker): void {
  if (process.send !== undefined && process.connected) process.send(message);
}

// Tells the primary why this worker could not start, then exits once the message is on its way.
function fail(message: string, exitCode: number): void {
  if (process.send === undefined || !process.connected) process.exit(exitCode);
  const m: FromWorker = { wsgate: 'failed', message };
  process.send(m, undefined, undefined, () => process.exit(exitCode));
}

function ignore(): void {}
