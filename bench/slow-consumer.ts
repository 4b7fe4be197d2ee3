// bench/slow-consumer: the gateway's memory under clients that read slowly (issue 14). An upstream
// (bench/flood-upstream.ts) pushes 1 MiB messages into every tunnel as fast as the gateway takes them;
// 1,000 clients, opened by hand on raw sockets in this process, read one socket buffer's worth a
// second. Backpressure must hold the gateway's RSS flat: the table shows it each second, beside the
// bytes the clients received (slow but moving, so no tunnel is stuck long enough for sendTimeout).
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { hasProc, procStat, startGateway, startUpstream, stopChild } from './lib.js';

export interface SlowConsumerOptions {
  tunnels: number;
  seconds: number;
  gatewayCpu: number | null;
  loadCpu: number | null;
  dir: string;
}

const HANDSHAKES_AT_ONCE = 64;

// A WebSocket client socket after its 101, paused: it reads only when read() is called.
async function openSlowClient(port: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  const key = randomBytes(16).toString('base64');
  socket.write(`GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  let head = Buffer.alloc(0);
  for (;;) {
    const [chunk] = (await once(socket, 'data')) as [Buffer];
    head = Buffer.concat([head, chunk]);
    const at = head.indexOf('\r\n\r\n');
    if (at === -1) continue;
    socket.pause();
    if (!head.subarray(0, at).toString('latin1').startsWith('HTTP/1.1 101')) throw new Error(`handshake refused: ${head.subarray(0, at).toString('latin1')}`);
    return socket;
  }
}

function mib(kb: number): string {
  return Number.isNaN(kb) ? 'n/a' : (kb / 1024).toFixed(1);
}

/** Runs the scenario and returns its markdown section. */
export async function runSlowConsumer(options: SlowConsumerOptions): Promise<string[]> {
  const upstream = await startUpstream(options.loadCpu, 'flood-upstream');
  const gateway = await startGateway(options.gatewayCpu, upstream.port, options.dir, 'slow-consumer.json', { name: 'slow', match: { path: '/*' }, upstream: 'bench', websocket: { maxMessageBytes: '2mb' } });
  const rss = (): number => (hasProc ? procStat(gateway.child.pid!).rssKb : Number.NaN);
  const idleKb = rss();
  const clients: Socket[] = [];
  try {
    for (let i = 0; i < options.tunnels; i += HANDSHAKES_AT_ONCE) {
      const batch = Math.min(HANDSHAKES_AT_ONCE, options.tunnels - i);
      clients.push(...(await Promise.all(Array.from({ length: batch }, () => openSlowClient(gateway.port)))));
    }
    let received = 0;
    const rows: string[] = [];
    let peakKb = 0;
    for (let s = 0; s <= options.seconds; s++) {
      if (s > 0) await new Promise((done) => setTimeout(done, 1000));
      const kb = rss();
      if (kb > peakKb) peakKb = kb;
      rows.push(`| ${s} | ${mib(kb)} | ${(received / 1e6).toFixed(1)} |`);
      process.stderr.write(`bench: slow consumers, ${s} s: gateway RSS ${mib(kb)} MiB, clients received ${(received / 1e6).toFixed(1)} MB\n`);
      // The slow read: what each client's socket holds, once a second.
      for (const c of clients) {
        const chunk = c.read() as Buffer | null;
        if (chunk !== null) received += chunk.length;
      }
    }
    const perTunnelKb = (peakKb - idleKb) / options.tunnels;
    return [
      `## Slow consumers: ${options.tunnels} tunnels, 1 MiB messages`,
      '',
      `The upstream sends 1 MiB messages into every tunnel as fast as the gateway takes them; each client reads what its socket holds once a second. ` +
        `Gateway RSS before the clients connected: ${mib(idleKb)} MiB; peak: ${mib(peakKb)} MiB, ${Number.isNaN(perTunnelKb) ? 'n/a' : perTunnelKb.toFixed(0)} KiB per tunnel.`,
      '',
      '| second | gateway RSS MiB | clients received MB |',
      '|---:|---:|---:|',
      ...rows,
    ];
  } finally {
    for (const c of clients) c.destroy();
    await stopChild(gateway.child);
    await stopChild(upstream.child);
  }
}
