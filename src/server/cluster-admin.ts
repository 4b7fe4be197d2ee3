// server/cluster-admin: the admin API of a cluster primary (its AdminSource). Each view is asked of
// the listening workers over cluster IPC and their answers merged; a reload is checked here once, then
// swapped in by every worker. The slots, signals and restarts are workers.ts's.
import type { Worker } from 'node:cluster';
import { parseConfig } from '../config/check.js';
import { compileConfig, type CompiledConfig } from '../config/compile.js';
import type { Problem } from '../config/load.js';
import type { GatewayConfig } from '../config/schema.js';
import type { AdminSource, ConnectionFilter, ReloadResult } from '../admin/server.js';
import { mergeConnections, mergeUpstreams, type ConnectionList, type UpstreamView } from '../admin/views.js';
import type { Logger } from '../observability/log.js';
import { EVENTS } from '../observability/events.js';
import { aggregateMetrics } from '../observability/metrics.js';
import type { Answer, Question, Questions } from './cluster-ipc.js';

// How long a worker gets to answer an admin question; a reload may open listeners, so it gets longer.
const ASK_TIMEOUT_MS = 5_000;
const RELOAD_TIMEOUT_MS = 30_000;

// What the admin API reads of a worker's slot.
export interface WorkerSlot {
  readonly id: number;
  readonly worker: Worker | null;
  readonly listening: boolean;
}

// The primary behind the admin API: whether every worker is up, and what it keeps once all of them
// took a reload (the config a restarted worker gets).
export interface ClusterHost {
  readonly ready: boolean;
  reloaded(next: GatewayConfig, compiled: CompiledConfig, applied: number): void;
}

export class ClusterAdmin implements AdminSource {
  private reloading: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly host: ClusterHost,
    private readonly slots: readonly WorkerSlot[],
    private readonly questions: Questions,
    private readonly log: Logger,
    private readonly load: () => GatewayConfig,
  ) {}

  // Settles when the reload in progress (if any) is over: a worker that starts meanwhile waits for it.
  afterReload(): Promise<unknown> {
    return this.reloading;
  }

  // ---- asking the workers ----

  // Every listening worker; one that exits meanwhile drops out of the answers. A worker that stays
  // silent past the timeout fails the whole question (the admin API answers 500 naming it).
  private async ask(question: Question, timeoutMs = ASK_TIMEOUT_MS): Promise<Answer[]> {
    const asked = this.slots.filter((s) => s.listening && s.worker !== null);
    const answers = await Promise.all(asked.map((s) => this.questions.ask(s.id, s.worker!, question, timeoutMs)));
    return answers.filter((a): a is Answer => a !== null);
  }

  // Views every worker holds alike (routes, config) come from the first that is listening.
  private async askAny(question: Question): Promise<unknown> {
    const slot = this.slots.find((s) => s.listening && s.worker !== null);
    const answer = slot === undefined ? null : await this.questions.ask(slot.id, slot.worker!, question, ASK_TIMEOUT_MS);
    if (answer === null) throw new Error('no worker is listening right now (one is restarting); try again');
    return answer.value;
  }

  // ---- AdminSource ----

  get ready(): boolean {
    return this.host.ready;
  }

  routes(): Promise<unknown> {
    return this.askAny({ op: 'routes' });
  }

  redactedConfig(): Promise<unknown> {
    return this.askAny({ op: 'config' });
  }

  async upstreams(): Promise<unknown> {
    const answers = await this.ask({ op: 'upstreams' });
    return mergeUpstreams(answers.map((a) => a.value as UpstreamView[]));
  }

  // Every worker's prom-client JSON, merged: counters and histograms summed, gauges summed (healthy: min).
  async metrics(): Promise<string> {
    const answers = await this.ask({ op: 'metrics' });
    return aggregateMetrics(answers.map((a) => a.value));
  }

  async connections(filter: ConnectionFilter): Promise<unknown> {
    // Each worker is an instance of the shared store: any one of them sees every instance's list.
    if (filter.scope === 'cluster') return this.askAny({ op: 'connections', filter });
    const answers = await this.ask({ op: 'connections', filter });
    return mergeConnections(answers.map((a) => ({ worker: a.worker, list: a.value as ConnectionList })), filter.limit);
  }

  // Ids are random per worker, so at most one worker knows it.
  async connection(id: string): Promise<unknown> {
    const answers = await this.ask({ op: 'connection', id });
    const hit = answers.find((a) => a.value !== null);
    return hit === undefined ? null : { ...(hit.value as object), worker: hit.worker };
  }

  async closeConnection(id: string, code: number, reason: string): Promise<boolean> {
    const answers = await this.ask({ op: 'close', id, code, reason });
    return answers.some((a) => a.value === true);
  }

  /** SIGHUP and POST /api/reload: one reload at a time, as in a single process. */
  reload(): Promise<ReloadResult> {
    const run = this.reloading.then(() => this.reloadAll());
    this.reloading = run.catch(() => undefined);
    return run;
  }

  // The primary checks the file itself first: an invalid one reaches no worker. Then every worker
  // swaps it in; ok only if all of them did.
  private async reloadAll(): Promise<ReloadResult> {
    let next: GatewayConfig;
    let compiled: CompiledConfig;
    try {
      next = this.load();
      compiled = compileConfig(parseConfig(next)); // what each worker will do: unreadable TLS files fail here
    } catch (err) {
      const problems = (err as { problems?: Problem[] }).problems ?? [];
      this.log.warn({ event: EVENTS.CONFIG_REJECTED, problems, reason: (err as Error).message }, 'config rejected');
      return { ok: false, problems, message: (err as Error).message };
    }
    let answers: Answer[];
    try {
      answers = await this.ask({ op: 'reload', config: next }, RELOAD_TIMEOUT_MS);
    } catch (err) {
      this.log.error({ event: EVENTS.CONFIG_REJECTED, reason: (err as Error).message }, 'reload failed in a worker');
      return { ok: false, problems: [], message: `${(err as Error).message}; workers may now run different configs, reload again` };
    }
    const results = answers.map((a) => ({ worker: a.worker, result: a.value as ReloadResult }));
    const failed = results.filter((r) => !r.result.ok);
    if (failed.length > 0) {
      const applied = results.filter((r) => r.result.ok).map((r) => r.worker);
      const message = failed.map((f) => `worker ${f.worker}: ${f.result.message}`).join('; ');
      return {
        ok: false,
        problems: failed[0]!.result.problems,
        message: applied.length === 0 ? message : `${message}; workers ${applied.join(', ')} did take the new config, reload again`,
      };
    }
    // Workers that restart from now on start with it (a worker that died during the reload too).
    this.host.reloaded(next, compiled, results.length);
    const messages = [...new Set(results.map((r) => r.result.message))];
    const message =
      results.length === 0
        ? 'no worker is listening right now; restarting workers start with the new config'
        : messages.length === 1
          ? `${messages[0]} (on each of ${results.length} workers)`
          : results.map((r) => `worker ${r.worker}: ${r.result.message}`).join('; ');
    return { ok: true, problems: [], message };
  }
}
