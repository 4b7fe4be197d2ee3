// The Kubernetes files (deploy/kubernetes) agree with the code: the kustomize base renders, its config
// loads, its ports are the config's, its probes answer on a real gateway without the admin token, its
// grace period outlasts preStop + drain, and the autoscaler's metric is one the gateway exports.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, test } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { ROOT } from '../../helpers/cli.js';
import { proxyConfig, startGateway } from '../../helpers/gateway.js';
import { startWsEcho } from '../../helpers/servers.js';
import { DEFAULTS, checkShippedConfig, closeGraceMs, drainTimeoutMs, envNames, portOf } from './shipped-config.js';

const BASE = join(ROOT, 'deploy/kubernetes/base');

// The fields of the rendered manifests the tests read; YAML is cast to these, a missing field fails.
type Labels = Record<string, string>;
interface Manifest {
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Labels };
  spec: unknown;
  data?: Record<string, string>;
}
interface Probe {
  httpGet: { path: string; port: string | number };
}
interface Container {
  args: string[];
  ports: { name: string; containerPort: number }[];
  env: { name: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  readinessProbe: Probe;
  livenessProbe: Probe;
  lifecycle: { preStop: { exec?: { command: string[] }; sleep?: { seconds: number } } };
  resources: { requests?: { cpu?: string } };
  volumeMounts: { name: string; mountPath: string }[];
}
interface DeploymentSpec {
  replicas?: number;
  selector: { matchLabels: Labels };
  strategy: { rollingUpdate: { maxUnavailable: number | string } };
  template: {
    metadata: { labels: Labels };
    spec: { terminationGracePeriodSeconds: number; containers: Container[]; volumes: { name: string; configMap: { name: string } }[] };
  };
}
interface HpaSpec {
  scaleTargetRef: { kind: string; name: string };
  minReplicas: number;
  metrics: { type: string; resource?: { name: string }; pods?: { metric: { name: string } } }[];
}
interface Kustomization {
  labels: { pairs: Labels }[];
  resources: string[];
  configMapGenerator: { name: string; files: string[] }[];
}
interface AdapterRule {
  seriesQuery: string;
  resources: { overrides: Record<string, { resource: string }> };
  name: { as: string };
  metricsQuery: string;
}

function parseManifests(text: string): Manifest[] {
  return parseAllDocuments(text).map((d) => d.toJS() as Manifest);
}

const HAS_KUBECTL = (process.env.PATH ?? '').split(delimiter).some((dir) => dir !== '' && existsSync(join(dir, 'kubectl')));

async function kustomize(dir: string): Promise<Manifest[]> {
  const { stdout } = await promisify(execFile)('kubectl', ['kustomize', dir], { timeout: 60_000, maxBuffer: 8 * 1024 * 1024 });
  return parseManifests(stdout);
}

// `kubectl kustomize` when kubectl is installed (it works offline); otherwise the same objects put
// together from kustomization.yaml by hand (resources, the config map generator, common labels).
async function renderBase(): Promise<{ objects: Manifest[]; renderer: string }> {
  if (HAS_KUBECTL) return { objects: await kustomize(BASE), renderer: 'kubectl kustomize' };
  const k = parse(readFileSync(join(BASE, 'kustomization.yaml'), 'utf8')) as Kustomization;
  const labels: Labels = Object.assign({}, ...k.labels.map((l) => l.pairs)) as Labels;
  const objects = k.resources.flatMap((file) => parseManifests(readFileSync(join(BASE, file), 'utf8')));
  for (const gen of k.configMapGenerator) {
    const data = Object.fromEntries(gen.files.map((f) => [f, readFileSync(join(BASE, f), 'utf8')]));
    objects.push({ kind: 'ConfigMap', metadata: { name: gen.name }, spec: undefined, data });
  }
  for (const o of objects) {
    o.metadata.labels = { ...o.metadata.labels, ...labels };
    if (o.kind === 'Service') (o.spec as { selector?: Labels }).selector = labels;
    if (o.kind === 'PodDisruptionBudget') (o.spec as { selector: { matchLabels: Labels } }).selector.matchLabels = labels;
    if (o.kind === 'Deployment') {
      const spec = o.spec as DeploymentSpec;
      spec.selector = { matchLabels: labels };
      spec.template.metadata = { labels };
    }
  }
  return { objects, renderer: 'files' };
}

let objects: Manifest[];
let renderer: string;
beforeAll(async () => {
  ({ objects, renderer } = await renderBase());
}, 60_000);

function one(kind: string, from: Manifest[] = objects): Manifest {
  const found = from.filter((o) => o.kind === kind);
  expect(found, `${kind} objects rendered by ${renderer}`).toHaveLength(1);
  return found[0]!;
}

function deployment(): DeploymentSpec {
  return one('Deployment').spec as DeploymentSpec;
}

function hpa(): HpaSpec {
  return one('HorizontalPodAutoscaler').spec as HpaSpec;
}

function container(): Container {
  return deployment().template.spec.containers[0]!;
}

function containerPort(name: string): number {
  const port = container().ports.find((p) => p.name === name);
  expect(port, `container port "${name}"`).toBeDefined();
  return port!.containerPort;
}

// The config in the ConfigMap the container mounts, with the container's environment (each variable a
// placeholder value, as its Secret would provide).
function mountedConfig(): { text: string; env: Record<string, string> } {
  const c = container();
  const file = c.args[c.args.indexOf('-c') + 1]!;
  const mount = c.volumeMounts.find((m) => file.startsWith(`${m.mountPath}/`));
  expect(mount, `a volume mounted where ${file} is`).toBeDefined();
  const volume = deployment().template.spec.volumes.find((v) => v.name === mount!.name)!;
  const configMap = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === volume.configMap.name);
  expect(configMap, `the ConfigMap ${volume.configMap.name}`).toBeDefined();
  const text = configMap!.data![file.slice(mount!.mountPath.length + 1)]!;
  const env = Object.fromEntries(c.env.map((e) => [e.name, e.name === 'WSGATE_REDIS_URL' ? 'redis://redis:6379' : 'placeholder']));
  return { text, env };
}

describe('the kustomize base', () => {
  test('renders a Deployment, a Service, a PodDisruptionBudget, a ConfigMap and a HorizontalPodAutoscaler', () => {
    expect(objects.map((o) => o.kind).sort()).toEqual(['ConfigMap', 'Deployment', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'Service']);
  });

  test('its config loads as the gateway would load it, with every ${NAME} set by the container', () => {
    const { text, env } = mountedConfig();
    expect(envNames(text).filter((n) => !(n in env))).toEqual([]);
    checkShippedConfig(text, env, "the ConfigMap's wsgate.yaml");
  });

  test("the container ports are the config's listeners, on the product's default ports", () => {
    const { text, env } = mountedConfig();
    const config = checkShippedConfig(text, env, 'wsgate.yaml');
    expect(containerPort('http')).toBe(config.listen[0]!.port);
    expect(containerPort('http')).toBe(DEFAULTS.listen[0]!.port);
    expect(containerPort('admin')).toBe(portOf(config.admin.listen));
    expect(containerPort('admin')).toBe(portOf(DEFAULTS.admin.listen));
    // Probes come from the kubelet on the pod IP: the admin API cannot stay on loopback.
    expect(config.admin.listen.startsWith('127.')).toBe(false);
    const service = one('Service').spec as { ports: { targetPort: unknown }[] };
    expect(service.ports.map((p) => p.targetPort)).toEqual(['http']);
  });

  test('readiness is /readyz and liveness /healthz on the admin port', () => {
    expect(container().readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'admin' });
    expect(container().livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'admin' });
  });

  test('terminationGracePeriodSeconds outlasts preStop, limits.drainTimeout and the close handshakes', () => {
    const { text, env } = mountedConfig();
    const config = checkShippedConfig(text, env, 'wsgate.yaml');
    const { preStop } = container().lifecycle;
    let sleepSeconds: number;
    if (preStop.sleep !== undefined) {
      sleepSeconds = preStop.sleep.seconds;
    } else {
      expect(preStop.exec?.command[0]).toBe('sleep');
      sleepSeconds = Number(preStop.exec?.command[1]);
    }
    expect(sleepSeconds).toBeGreaterThan(0);
    const graceMs = deployment().template.spec.terminationGracePeriodSeconds * 1000;
    expect(graceMs).toBeGreaterThan(sleepSeconds * 1000 + drainTimeoutMs(config) + closeGraceMs());
    // The product's own default drain fits too, for an overlay that drops the explicit value.
    expect(graceMs).toBeGreaterThan(sleepSeconds * 1000 + drainTimeoutMs(DEFAULTS) + closeGraceMs());
  });

  test('a rolling update starts a new pod before draining an old one, and the autoscaler owns the replica count', () => {
    expect(deployment().strategy.rollingUpdate.maxUnavailable).toBe(0);
    expect(deployment().replicas).toBeUndefined();
  });

  test("the PodDisruptionBudget and the Service select the Deployment's pods", () => {
    const podLabels = deployment().template.metadata.labels;
    const pdb = one('PodDisruptionBudget').spec as { selector: { matchLabels: Labels } };
    const service = one('Service').spec as { selector: Labels };
    for (const selector of [pdb.selector.matchLabels, service.selector, deployment().selector.matchLabels]) {
      expect(Object.keys(selector).length).toBeGreaterThan(0);
      expect(podLabels).toMatchObject(selector);
    }
  });

  test('the autoscaler scales the Deployment on CPU (with a CPU request) and on open WebSockets per pod', () => {
    expect(hpa().scaleTargetRef).toMatchObject({ kind: 'Deployment', name: one('Deployment').metadata.name });
    expect(hpa().minReplicas).toBeGreaterThanOrEqual(2);
    expect(hpa().metrics.find((m) => m.type === 'Resource')?.resource?.name).toBe('cpu');
    expect(container().resources.requests?.cpu).toBeDefined();
    expect(hpa().metrics.find((m) => m.type === 'Pods')?.pods?.metric.name).toBe('wsgate_ws_connections_active');
  });
});

describe('what the base relies on outside itself', () => {
  test('a real gateway answers the probes without the admin token, and /metrics only with it', async () => {
    const gw = await startGateway({ admin: { listen: '127.0.0.1:0', token: 'secret-token' } });
    for (const probe of [container().readinessProbe, container().livenessProbe]) {
      expect((await fetch(gw.adminUrl(probe.httpGet.path))).status).toBe(200);
    }
    expect((await fetch(gw.adminUrl('/metrics'))).status).toBe(401);
    expect((await fetch(gw.adminUrl('/metrics'), { headers: { authorization: 'Bearer secret-token' } })).status).toBe(200);
    // So the PodMonitor sends the token, from the Secret key the container reads it from.
    const podMonitor = parse(readFileSync(join(ROOT, 'deploy/kubernetes/components/pod-monitor/pod-monitor.yaml'), 'utf8')) as {
      spec: { podMetricsEndpoints: { port: string; path: string; authorization: { credentials: unknown } }[] };
    };
    const endpoint = podMonitor.spec.podMetricsEndpoints[0]!;
    expect(endpoint).toMatchObject({ port: 'admin', path: '/metrics' });
    const tokenEnv = container().env.find((e) => e.name === 'WSGATE_ADMIN_TOKEN');
    expect(endpoint.authorization.credentials).toEqual(tokenEnv?.valueFrom?.secretKeyRef);
  });

  test("the autoscaler's metric is a gauge the gateway exports, and the adapter rule serves it per pod under that name", async () => {
    const echo = await startWsEcho();
    const gw = await startGateway(proxyConfig(echo.url));
    const scrape = await (await fetch(gw.adminUrl('/metrics'))).text();
    const metric = hpa().metrics.find((m) => m.type === 'Pods')!.pods!.metric.name;
    expect(scrape).toContain(`# TYPE ${metric} gauge`);
    expect(scrape).toMatch(new RegExp(`^${metric}\\{route="app"\\} 0$`, 'm'));
    const adapter = parse(readFileSync(join(ROOT, 'deploy/kubernetes/prometheus-adapter/values.yaml'), 'utf8')) as { rules: { custom: AdapterRule[] } };
    const rule = adapter.rules.custom.find((r) => r.name.as === metric);
    expect(rule, `an adapter rule serving ${metric}`).toBeDefined();
    expect(rule!.seriesQuery.startsWith(`${metric}{`)).toBe(true);
    expect(rule!.resources.overrides).toMatchObject({ pod: { resource: 'pod' }, namespace: { resource: 'namespace' } });
    // Per pod, every route's tunnels together.
    expect(rule!.metricsQuery).toBe('sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)');
  });
});

describe('the example overlay', () => {
  const OVERLAY = join(ROOT, 'deploy/kubernetes/overlays/example');

  test("its config loads with the container's environment, and its drain fits the base's grace period", () => {
    const text = readFileSync(join(OVERLAY, 'wsgate.yaml'), 'utf8');
    const { env } = mountedConfig();
    expect(envNames(text).filter((n) => !(n in env))).toEqual([]);
    const config = checkShippedConfig(text, env, 'overlays/example/wsgate.yaml');
    expect(config.listen[0]!.port).toBe(containerPort('http'));
    expect(portOf(config.admin.listen)).toBe(containerPort('admin'));
    const sleepSeconds = Number(container().lifecycle.preStop.exec?.command[1] ?? container().lifecycle.preStop.sleep?.seconds);
    expect(deployment().template.spec.terminationGracePeriodSeconds * 1000).toBeGreaterThan(sleepSeconds * 1000 + drainTimeoutMs(config) + closeGraceMs());
  });

  test.skipIf(!HAS_KUBECTL)('renders (kubectl kustomize) with its namespace, image, config, PodMonitor and LoadBalancer', async () => {
    const rendered = await kustomize(OVERLAY);
    expect(rendered.map((o) => o.kind).sort()).toEqual(['ConfigMap', 'Deployment', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'PodMonitor', 'Service']);
    for (const o of rendered) expect(o.metadata.namespace, o.kind).toBe('edge');
    const spec = one('Deployment', rendered).spec as DeploymentSpec & { template: { spec: { containers: { image: string }[] } } };
    expect(spec.template.spec.containers[0]!.image).toBe('registry.example.com/wsgate:0.1.0');
    const configMap = one('ConfigMap', rendered);
    expect(configMap.data!['wsgate.yaml']).toBe(readFileSync(join(OVERLAY, 'wsgate.yaml'), 'utf8'));
    // The Deployment mounts the overlay's ConfigMap under its hashed name.
    expect(spec.template.spec.volumes.map((v) => v.configMap.name)).toContain(configMap.metadata.name);
    expect((one('Service', rendered).spec as { type: string }).type).toBe('LoadBalancer');
  });
});
