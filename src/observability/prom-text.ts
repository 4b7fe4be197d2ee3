// observability/prom-text: reads the Prometheus text format (0.0.4) the gateway itself writes, in one
// pass, into samples by metric name; the dashboard's event stream (admin/snapshot.ts) and `wsgate
// status` (cli/status.ts) compute their rates from two of these.
// Not a general parser: no timestamps kept, no type checks, lines it cannot read are skipped.

export interface PromSample {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export type PromSamples = ReadonlyMap<string, readonly PromSample[]>;

// `name{label="value",...} value [timestamp]`; label values escape \\, \" and \n.
const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{((?:[^"}]|"(?:[^"\\]|\\.)*")*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

function unescapeLabel(value: string): string {
  return value.replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

/** Every sample, by metric name (histograms as their `_bucket`, `_sum` and `_count` series). */
export function parsePromText(text: string): PromSamples {
  const out = new Map<string, PromSample[]>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = SAMPLE_LINE.exec(line);
    if (m === null) continue;
    const value = m[3] === '+Inf' ? Number.POSITIVE_INFINITY : Number(m[3]);
    if (Number.isNaN(value)) continue;
    const labels: Record<string, string> = {};
    if (m[2] !== undefined) for (const l of m[2].matchAll(LABEL)) labels[l[1]!] = unescapeLabel(l[2]!);
    let list = out.get(m[1]!);
    if (list === undefined) {
      list = [];
      out.set(m[1]!, list);
    }
    list.push({ labels, value });
  }
  return out;
}

/** Sums the samples of `name` by the value of `label` (every sample under '' when label is null). */
export function sumBy(samples: PromSamples, name: string, label: string | null, where?: (labels: Readonly<Record<string, string>>) => boolean): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of samples.get(name) ?? []) {
    if (where !== undefined && !where(s.labels)) continue;
    const key = label === null ? '' : (s.labels[label] ?? '');
    out.set(key, (out.get(key) ?? 0) + s.value);
  }
  return out;
}

/** A histogram's cumulative buckets by upper bound (+Inf last), summed over the samples `where` keeps. */
export function histogramBuckets(samples: PromSamples, name: string, where: (labels: Readonly<Record<string, string>>) => boolean): Map<number, number> {
  const out = new Map<number, number>();
  for (const s of samples.get(`${name}_bucket`) ?? []) {
    if (!where(s.labels)) continue;
    const le = s.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(s.labels.le);
    if (Number.isNaN(le)) continue;
    out.set(le, (out.get(le) ?? 0) + s.value);
  }
  return out;
}

/**
 * The q-quantile of what a histogram counted between two readings of its cumulative buckets, by
 * linear interpolation inside the bucket that holds it (as PromQL's histogram_quantile does); null
 * when nothing was counted in between. A quantile in the +Inf bucket reads as the highest finite bound.
 */
export function quantileBetween(before: ReadonlyMap<number, number>, after: ReadonlyMap<number, number>, q: number): number | null {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const delta = bounds.map((le) => Math.max(0, after.get(le)! - (before.get(le) ?? 0)));
  const total = delta.at(-1) ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  for (let i = 0; i < bounds.length; i++) {
    if (delta[i]! < rank) continue;
    const upper = bounds[i]!;
    const lower = i === 0 ? 0 : bounds[i - 1]!;
    if (upper === Number.POSITIVE_INFINITY) return lower;
    const below = i === 0 ? 0 : delta[i - 1]!;
    const inBucket = delta[i]! - below;
    return inBucket <= 0 ? upper : lower + (upper - lower) * ((rank - below) / inBucket);
  }
  return bounds.length > 1 ? bounds[bounds.length - 2]! : null;
}
