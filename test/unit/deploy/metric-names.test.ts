// The deploy files (Prometheus alerts, Grafana dashboard) name only metrics a real gateway exports,
// every alert has what an operator needs, every dashboard target has a query, and every alert's
// runbook link and every exported metric has its section in docs/observability.md.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ROOT } from '../../helpers/cli.js';
import { expectEcho, openWs, closed } from '../../helpers/clients.js';
import { proxyConfig, startGateway } from '../../helpers/gateway.js';
import { fetchText, send } from '../../helpers/http.js';
import { startWsEcho } from '../../helpers/servers.js';

const ALERTS_FILE = join(ROOT, 'deploy/prometheus/alerts.yaml');
const DASHBOARD_FILE = join(ROOT, 'deploy/grafana/wsgate.json');
const DOC_FILE = join(ROOT, 'docs/observability.md');

interface Rule {
  alert?: unknown;
  expr?: unknown;
  for?: unknown;
  labels?: { severity?: unknown };
  annotations?: { summary?: unknown; description?: unknown; runbook?: unknown };
}

interface Panel {
  type?: unknown;
  title?: unknown;
  targets?: { expr?: unknown }[];
  panels?: Panel[];
}

function alertRules(): Rule[] {
  const doc = parse(readFileSync(ALERTS_FILE, 'utf8')) as { groups?: { name?: unknown; rules?: Rule[] }[] };
  expect(Array.isArray(doc.groups)).toBe(true);
  return (doc.groups ?? []).flatMap((g) => {
    expect(typeof g.name).toBe('string');
    expect(Array.isArray(g.rules)).toBe(true);
    return g.rules ?? [];
  });
}

function dashboardPanels(): Panel[] {
  const doc = JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as { panels?: Panel[] };
  const all: Panel[] = [];
  const walk = (list: Panel[]): void => {
    for (const p of list) {
      all.push(p);
      if (Array.isArray(p.panels)) walk(p.panels);
    }
  };
  walk(doc.panels ?? []);
  return all;
}

// Every wsgate_* name in a text: a query, a legend, a description alike.
function namesIn(text: string): Set<string> {
  return new Set(text.match(/wsgate_[a-z_]+/g) ?? []);
}

// `# TYPE name type` lines of a scrape.
function typesOf(scrape: string): Map<string, string> {
  const types = new Map<string, string>();
  for (const m of scrape.matchAll(/^# TYPE (\S+) (\S+)$/gm)) types.set(m[1]!, m[2]!);
  return types;
}

// The exported metric a name in a query stands for: itself, or a histogram's (or counter's) series.
function exportedAs(name: string, types: ReadonlyMap<string, string>): string | undefined {
  if (types.has(name)) return name;
  const suffixes: [string, readonly string[]][] = [
    ['_bucket', ['histogram']],
    ['_sum', ['histogram', 'summary']],
    ['_count', ['histogram', 'summary']],
    ['_created', ['counter', 'histogram', 'summary']],
  ];
  for (const [suffix, kinds] of suffixes) {
    if (!name.endsWith(suffix)) continue;
    const base = name.slice(0, -suffix.length);
    const type = types.get(base);
    if (type !== undefined && kinds.includes(type)) return base;
  }
  return undefined;
}

// The label names of a metric's samples in a scrape (a histogram's series included).
function labelsOf(scrape: string, metric: string): Set<string> | undefined {
  let seen = false;
  const labels = new Set<string>();
  for (const m of scrape.matchAll(/^([a-z_]+)\{([^}]*)\} /gm)) {
    const name = m[1]!;
    if (name !== metric && exportedAs(name, new Map([[metric, 'histogram']])) !== metric) continue;
    seen = true;
    for (const l of m[2]!.matchAll(/([a-z_]+)="/g)) labels.add(l[1]!);
  }
  return seen ? labels : undefined;
}

// `wsgate_x{a="…",b=~"…"}` in a query: the metric and the label names it selects on.
function selectorsIn(text: string): { metric: string; labels: string[] }[] {
  const found: { metric: string; labels: string[] }[] = [];
  for (const m of text.matchAll(/(wsgate_[a-z_]+)\{([^}]*)\}/g)) {
    found.push({ metric: m[1]!, labels: [...m[2]!.matchAll(/([a-z_]+)\s*(?:=~|!=|!~|=)/g)].map((l) => l[1]!) });
  }
  return found;
}

// GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens.
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  for (const m of markdown.matchAll(/^#{1,6} (.+)$/gm)) {
    anchors.add(m[1]!.trim().toLowerCase().replace(/[^\w\- ]/g, '').replace(/ /g, '-'));
  }
  return anchors;
}

async function scrapeAfterTraffic(): Promise<string> {
  const up = await startWsEcho();
  const gw = await startGateway(proxyConfig(up.url));
  const http = await send(gw.url('/plain'));
  expect(http.status).toBe(426); // the echo upstream answers plain HTTP with 426
  const ws = await openWs(gw.wsUrl('/socket'));
  await expectEcho(ws, 'hello');
  const done = closed(ws);
  ws.close(1000);
  await done;
  const metrics = await fetchText(gw.adminUrl('/metrics'));
  expect(metrics.status).toBe(200);
  return metrics.body;
}

describe('deploy files', () => {
  it('name only metrics that a gateway exports after HTTP and WebSocket traffic', async () => {
    const scrape = await scrapeAfterTraffic();
    const types = typesOf(scrape);
    // the scrape holds what the traffic moved: the names below are not just declared
    expect(scrape).toMatch(/^wsgate_http_requests_total\{route="app",method="GET",status="426"\} 1$/m);
    expect(scrape).toMatch(/^wsgate_ws_closes_total\{route="app",code="1000",initiator="client"\} 1$/m);

    for (const file of [ALERTS_FILE, DASHBOARD_FILE]) {
      const names = namesIn(readFileSync(file, 'utf8'));
      expect(names.size, file).toBeGreaterThan(5);
      const missing = [...names].filter((n) => exportedAs(n, types) === undefined);
      expect(missing, `${file} names metrics the gateway does not export`).toEqual([]);
      // a selector's labels are the metric's own (checked where the traffic gave the metric samples)
      const text = readFileSync(file, 'utf8').replace(/\\"/g, '"');
      for (const { metric, labels } of selectorsIn(text)) {
        const base = exportedAs(metric, types)!;
        const known = labelsOf(scrape, base);
        if (known === undefined) continue;
        for (const l of labels) expect(known.has(l), `${file}: ${metric} has no label ${l}`).toBe(true);
      }
    }

    // the check catches a name that does not exist, and a suffix on the wrong type
    expect(exportedAs('wsgate_ws_frames_total', types)).toBeUndefined();
    expect(exportedAs('wsgate_http_requests_total_bucket', types)).toBeUndefined();
    expect(exportedAs('wsgate_http_request_duration_seconds_bucket', types)).toBe('wsgate_http_request_duration_seconds');

    // every exported wsgate metric has its line in docs/observability.md
    const doc = readFileSync(DOC_FILE, 'utf8');
    const undocumented = [...types.keys()].filter((n) => n.startsWith('wsgate_') && !doc.includes(`\`${n}\``));
    expect(undocumented).toEqual([]);
  });

  it('alerts.yaml: every rule has expr, for, severity, summary and a runbook section that exists', () => {
    const rules = alertRules();
    expect(rules.length).toBeGreaterThanOrEqual(9);
    const anchors = anchorsOf(readFileSync(DOC_FILE, 'utf8'));
    const names = new Set<string>();
    for (const r of rules) {
      expect(typeof r.alert, JSON.stringify(r)).toBe('string');
      const name = r.alert as string;
      expect(names.has(name), `${name} twice`).toBe(false);
      names.add(name);
      expect(typeof r.expr, name).toBe('string');
      expect((r.expr as string).trim(), name).not.toBe('');
      expect(r.for, name).toMatch(/^\d+[smh]$/);
      expect(['critical', 'warning', 'info'], name).toContain(r.labels?.severity);
      expect(typeof r.annotations?.summary, name).toBe('string');
      expect(typeof r.annotations?.description, name).toBe('string');
      const runbook = r.annotations?.runbook;
      expect(runbook, name).toBe(`docs/observability.md#${name.toLowerCase()}`);
      expect(anchors.has(name.toLowerCase()), `docs/observability.md has no section ${name}`).toBe(true);
    }
  });

  it('wsgate.json: a Grafana dashboard whose every panel target has an expr', () => {
    const doc = JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as { schemaVersion?: unknown; __inputs?: { name?: unknown }[]; templating?: { list?: { name?: unknown }[] } };
    expect(doc.schemaVersion).toBe(39);
    expect(doc.__inputs?.map((i) => i.name)).toContain('DS_PROMETHEUS');
    expect(doc.templating?.list?.map((v) => v.name)).toContain('route');
    const panels = dashboardPanels().filter((p) => p.type !== 'row');
    expect(panels.length).toBeGreaterThan(10);
    for (const p of panels) {
      expect(Array.isArray(p.targets) && p.targets.length > 0, String(p.title)).toBe(true);
      for (const t of p.targets ?? []) {
        expect(typeof t.expr, String(p.title)).toBe('string');
        expect((t.expr as string).trim(), String(p.title)).not.toBe('');
      }
    }
  });
});
