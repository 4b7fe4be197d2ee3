// bench/metrics-cost: what metrics collection costs the relay (issue 10: under 3 %). Two gateways from
// the same build and config, one with `metrics: { enabled: false }`, take the same loads in turn; the
// rounds interleave (on then off, then off then on, ...) so the machine's drift, and other work on it,
// falls on both sides alike, and the medians are compared. Reported two ways: throughput (what a
// client sees, noisy on a shared machine) and the gateway's CPU time per operation (steadier).

/** One measurement as bench/run.ts takes it: the headline rate and the gateway's CPU time per operation. */
export interface CostSample {
  rate: number;
  cpuUsPerOp: number;
  errors: number;
}

export interface CostLoad {
  name: string;
  unit: string;
  /** Measures this load through the gateway listening on `port`, whose process is `pid`. */
  measure(port: number, pid: number): Promise<CostSample>;
}

export interface CostGateway {
  port: number;
  pid: number;
}

export function median(values: readonly number[]): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

/** Throughput lost with metrics on, in % of the throughput without them (negative: on was faster). */
export function throughputCost(on: number, off: number): number {
  return off > 0 ? ((off - on) / off) * 100 : Number.NaN;
}

/** Extra gateway CPU per operation with metrics on, in % of the CPU per operation without them. */
export function cpuCost(on: number, off: number): number {
  return off > 0 ? ((on - off) / off) * 100 : Number.NaN;
}

function pct(n: number): string {
  return Number.isFinite(n) ? `${n >= 0 ? '+' : ''}${n.toFixed(1)} %` : 'n/a';
}

function fmt(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a';
}

/**
 * Runs `rounds` interleaved on/off pairs of every load and returns the markdown lines of its table.
 * `progress` gets one line per measurement.
 */
export async function metricsCost(loads: readonly CostLoad[], gateways: { on: CostGateway; off: CostGateway }, rounds: number, progress: (line: string) => void): Promise<{ lines: string[]; errors: number }> {
  const samples = new Map<string, { on: CostSample[]; off: CostSample[] }>(loads.map((l) => [l.name, { on: [], off: [] }]));
  let errors = 0;
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? (['on', 'off'] as const) : (['off', 'on'] as const);
    for (const load of loads) {
      for (const side of order) {
        const gw = gateways[side];
        const s = await load.measure(gw.port, gw.pid);
        errors += s.errors;
        samples.get(load.name)![side].push(s);
        progress(`metrics ${side}, ${load.name}, round ${round + 1}/${rounds}: ${fmt(s.rate)} ${load.unit}, ${s.cpuUsPerOp.toFixed(1)} µs CPU/op${s.errors > 0 ? `, ${s.errors} errors` : ''}`);
      }
    }
  }
  const lines = [
    `## Metrics on and off (median of ${rounds} interleaved rounds)`,
    '',
    '| load | metrics on | metrics off | throughput cost | CPU µs/op on | CPU µs/op off | CPU cost | each round, on / off |',
    '|---|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const load of loads) {
    const { on, off } = samples.get(load.name)!;
    const rateOn = median(on.map((s) => s.rate));
    const rateOff = median(off.map((s) => s.rate));
    const cpuOn = median(on.map((s) => s.cpuUsPerOp));
    const cpuOff = median(off.map((s) => s.cpuUsPerOp));
    const each = on.map((s, i) => `${fmt(s.rate)} / ${fmt(off[i]!.rate)}`).join(', ');
    lines.push(
      `| ${load.name} | ${fmt(rateOn)} ${load.unit} | ${fmt(rateOff)} ${load.unit} | ${pct(throughputCost(rateOn, rateOff))} | ` +
        `${cpuOn.toFixed(1)} | ${cpuOff.toFixed(1)} | ${pct(cpuCost(cpuOn, cpuOff))} | ${each} |`,
    );
  }
  lines.push(
    '',
    'Both gateways run the same build and config, one with `metrics: { enabled: false }`; they share the gateway CPU and only the one measured has load. ' +
      'Throughput cost: (off − on) / off; CPU cost: (on − off) / off of the gateway\'s CPU time per operation. Positive means metrics cost that much.',
  );
  return { lines, errors };
}
