import { describe, test, expect } from 'vitest';
import { TunnelRegistry, type TunnelReporter } from '../../../src/ws/registry.js';
import type { TunnelOptions, WsTunnel } from '../../../src/ws/tunnel.js';

// Just what the registry reads of a tunnel: its options and sweep().
interface FakeTunnel {
  readonly options: Pick<TunnelOptions, 'id' | 'route' | 'user' | 'clientKey'>;
  swept: number[];
  sweep(nowMs: number): void;
}

function fakeTunnel(id: string, route = 'chat', user: string | null = null): WsTunnel {
  const t: FakeTunnel = {
    options: { id, route, user, clientKey: `${route}|${user ?? '127.0.0.1'}` },
    swept: [],
    sweep(nowMs) {
      this.swept.push(nowMs);
    },
  };
  return t as unknown as WsTunnel;
}

function sweptOf(t: WsTunnel): number[] {
  return (t as unknown as FakeTunnel).swept;
}

const ALL = { route: null, user: null, limit: 100 };

describe('per-client reservations', () => {
  test('reserve() admits up to max per client key, and release() frees a slot', () => {
    const r = new TunnelRegistry();
    expect(r.reserve('chat|alice', 2)).toBe(true);
    expect(r.reserve('chat|alice', 2)).toBe(true);
    expect(r.reserve('chat|alice', 2)).toBe(false);
    expect(r.reserve('chat|bob', 2)).toBe(true); // keys are counted apart
    r.release('chat|alice');
    expect(r.reserve('chat|alice', 2)).toBe(true);
    expect(r.reserve('chat|alice', 2)).toBe(false);
  });

  test('max 0 means no limit', () => {
    const r = new TunnelRegistry();
    for (let i = 0; i < 50; i++) expect(r.reserve('chat|alice', 0)).toBe(true);
  });

  test('a key released down to zero starts again from zero, and an extra release does not go negative', () => {
    const r = new TunnelRegistry();
    expect(r.reserve('k', 1)).toBe(true);
    r.release('k');
    r.release('k');
    expect(r.reserve('k', 1)).toBe(true);
    expect(r.reserve('k', 1)).toBe(false);
  });
});

describe('tunnels by id', () => {
  test('add, get and delete by id; size counts live tunnels', () => {
    const r = new TunnelRegistry();
    const a = fakeTunnel('a');
    const b = fakeTunnel('b');
    r.add(a);
    r.add(b);
    expect(r.size).toBe(2);
    expect(r.get('a')).toBe(a);
    expect(r.get('missing')).toBeUndefined();
    expect([...r.values()]).toEqual([a, b]);
    r.delete(a);
    expect(r.size).toBe(1);
    expect(r.get('a')).toBeUndefined();
  });

  test('delete() of a tunnel no longer registered under its id leaves the one that is', () => {
    const r = new TunnelRegistry();
    const old = fakeTunnel('same');
    const current = fakeTunnel('same');
    r.add(old);
    r.add(current);
    r.delete(old);
    expect(r.get('same')).toBe(current);
  });

  test('list() filters by route and by user, and stops at the limit', () => {
    const r = new TunnelRegistry();
    const tunnels = [fakeTunnel('1', 'chat', 'alice'), fakeTunnel('2', 'chat', 'bob'), fakeTunnel('3', 'feed', 'alice'), fakeTunnel('4', 'chat', null)];
    for (const t of tunnels) r.add(t);
    const ids = (filter: { route: string | null; user: string | null; limit: number }): string[] => r.list(filter).map((t) => t.options.id);
    expect(ids(ALL)).toEqual(['1', '2', '3', '4']);
    expect(ids({ ...ALL, route: 'chat' })).toEqual(['1', '2', '4']);
    expect(ids({ ...ALL, user: 'alice' })).toEqual(['1', '3']);
    expect(ids({ route: 'chat', user: 'alice', limit: 100 })).toEqual(['1']);
    expect(ids({ ...ALL, limit: 2 })).toEqual(['1', '2']);
    expect(ids({ ...ALL, route: 'chat', limit: 2 })).toEqual(['1', '2']);
    expect(ids({ ...ALL, limit: 0 })).toEqual([]);
    expect(ids({ ...ALL, route: 'none' })).toEqual([]);
  });
});

describe('sweep', () => {
  test("sweep() passes the time to every tunnel's sweep and reports each tunnel after it", () => {
    const order: string[] = [];
    const reporter: TunnelReporter = { reportTunnel: (t) => order.push(`report ${t.options.id}`) };
    const r = new TunnelRegistry(reporter);
    const a = fakeTunnel('a');
    const b = fakeTunnel('b');
    r.add(a);
    r.add(b);
    r.sweep(1_000);
    expect(sweptOf(a)).toEqual([1_000]);
    expect(sweptOf(b)).toEqual([1_000]);
    expect(order).toEqual(['report a', 'report b']);
    r.delete(a);
    r.sweep(2_000);
    expect(sweptOf(a)).toEqual([1_000]);
    expect(sweptOf(b)).toEqual([1_000, 2_000]);
  });

  test('without a reporter, sweep() still reaches every tunnel', () => {
    const r = new TunnelRegistry();
    const a = fakeTunnel('a');
    r.add(a);
    r.sweep(5);
    expect(sweptOf(a)).toEqual([5]);
  });
});
