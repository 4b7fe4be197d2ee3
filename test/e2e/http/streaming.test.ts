import { test, expect } from 'vitest';
import { request, type IncomingMessage, type ServerResponse } from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { once, EventEmitter } from 'node:events';
import { startGateway, proxyConfig } from '../../helpers/gateway.js';
import { startHttpUpstream } from '../../helpers/servers.js';
import { send } from '../../helpers/http.js';

const MB = 1024 * 1024;
const BIG = { limits: { maxBodyBytes: '64mb' } };
const CHUNK = randomBytes(64 * 1024);

// Writes `total` bytes of CHUNK to `out`, honouring backpressure; resolves with the sha256.
async function writeStream(out: { write(b: Buffer): boolean; end(): void } & EventEmitter, total: number, onChunk?: (written: number) => Promise<void> | void): Promise<string> {
  const hash = createHash('sha256');
  let written = 0;
  while (written < total) {
    const piece = CHUNK.subarray(0, Math.min(CHUNK.length, total - written));
    hash.update(piece);
    written += piece.length;
    if (!out.write(piece)) await once(out, 'drain');
    await onChunk?.(written);
  }
  out.end();
  return hash.digest('hex');
}

async function readAll(stream: IncomingMessage): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { bytes, sha256: hash.digest('hex') };
}

function readableOrEnd(stream: IncomingMessage): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      stream.off('readable', done).off('end', done);
      resolve();
    };
    stream.on('readable', done).on('end', done);
  });
}

// Writes `total` bytes of CHUNK to `out`, honouring backpressure, and keeps count: what it wrote,
// how often it waited for 'drain', whether it is waiting now. `sha256` resolves when it is done.
class PacedWriter {
  written = 0;
  drains = 0;
  blocked = false;
  finished = false;
  private readonly state = new EventEmitter(); // 'change': it blocked or finished
  readonly sha256: Promise<string>;

  constructor(out: { write(b: Buffer): boolean; end(): void } & EventEmitter, total: number) {
    this.sha256 = this.run(out, total);
  }

  private async run(out: { write(b: Buffer): boolean; end(): void } & EventEmitter, total: number): Promise<string> {
    const hash = createHash('sha256');
    while (this.written < total) {
      hash.update(CHUNK);
      this.written += CHUNK.length;
      if (!out.write(CHUNK)) {
        this.blocked = true;
        this.state.emit('change');
        await once(out, 'drain');
        this.blocked = false;
        this.drains++;
      }
    }
    out.end();
    this.finished = true;
    this.state.emit('change');
    return hash.digest('hex');
  }

  // Resolves when the writer has finished, or is stuck waiting for 'drain' while nothing moves for
  // a few event-loop turns. Writer, gateway and reader share this loop and loopback delivers at once,
  // so a quiet loop means every buffer on the way is full. No timer is involved.
  async settled(): Promise<void> {
    for (;;) {
      if (!this.blocked && !this.finished) await once(this.state, 'change');
      if (this.finished) return;
      const before = this.written + this.drains;
      let quiet = true;
      for (let i = 0; i < 20 && quiet; i++) {
        await new Promise((resolve) => setImmediate(resolve));
        quiet = this.blocked && this.written + this.drains === before;
      }
      if (quiet) return;
    }
  }
}

// Reads `stream` one MB whenever `writer` has settled, until the end. The gap between what the writer
// wrote and what was read then is what sits in buffers on the way (socket buffers on each hop); a
// gateway that read ahead of the slow side would let it grow to the whole stream.
async function readPaced(stream: IncomingMessage, writer: PacedWriter): Promise<{ received: number; sha256: string; widestGap: number }> {
  const hash = createHash('sha256');
  let received = 0;
  let widestGap = 0;
  let ended = false;
  stream.on('end', () => (ended = true));
  // `ended` is set by the 'end' listener while the loop awaits; the checker cannot see that.
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
  while (!ended) {
    await writer.settled();
    widestGap = Math.max(widestGap, writer.written - received);
    const target = received + MB;
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
    while (received < target && !ended) {
      const chunk = stream.read() as Buffer | null;
      if (chunk === null) {
        await readableOrEnd(stream);
        continue;
      }
      hash.update(chunk);
      received += chunk.length;
    }
  }
  return { received, sha256: hash.digest('hex'), widestGap };
}

// An upstream that hashes each request body and answers { bytes, sha256 }.
async function startHashingUpstream(onData?: (received: number) => void): Promise<ReturnType<typeof startHttpUpstream>> {
  return startHttpUpstream((req, res) => {
    const hash = createHash('sha256');
    let bytes = 0;
    req.on('data', (c: Buffer) => {
      hash.update(c);
      bytes += c.length;
      onData?.(bytes);
    });
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ bytes, sha256: hash.digest('hex'), te: req.headers['transfer-encoding'] ?? null }));
    });
  });
}

test.each([
  ['with Content-Length', { 'content-length': String(20 * MB) }],
  ['chunked', { 'transfer-encoding': 'chunked' }],
])('streams a 20 MB upload %s to the upstream byte for byte', async (_label, headers) => {
  const up = await startHashingUpstream();
  const gw = await startGateway(proxyConfig(up.url, {}, BIG));
  const req = request(gw.url('/upload'), { method: 'PUT', agent: false, headers });
  const response = once(req, 'response') as Promise<[IncomingMessage]>;
  const sent = await writeStream(req, 20 * MB);
  const [res] = await response;
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  expect(res.statusCode).toBe(200);
  expect(JSON.parse(Buffer.concat(chunks).toString())).toMatchObject({ bytes: 20 * MB, sha256: sent });
});

test('streams a 20 MB download from the upstream byte for byte', async () => {
  let sent: Promise<string> = Promise.resolve('');
  const up = await startHttpUpstream((_req, res) => {
    res.setHeader('content-type', 'application/octet-stream');
    sent = writeStream(res, 20 * MB);
  });
  const gw = await startGateway(proxyConfig(up.url, {}, BIG));
  const req = request(gw.url('/download'), { agent: false });
  req.end();
  const [res] = (await once(req, 'response')) as [IncomingMessage];
  expect(res.statusCode).toBe(200);
  const got = await readAll(res);
  expect(got).toEqual({ bytes: 20 * MB, sha256: await sent });
});

test('hands the first bytes of an upload to the upstream before the client has sent the rest', async () => {
  const progress = new EventEmitter();
  const up = await startHashingUpstream((received) => progress.emit('received', received));
  const gw = await startGateway(proxyConfig(up.url, {}, BIG));
  const req = request(gw.url('/upload'), { method: 'POST', agent: false, headers: { 'transfer-encoding': 'chunked' } });
  const response = once(req, 'response') as Promise<[IncomingMessage]>;
  const reachedUpstream = (bytes: number): Promise<void> =>
    new Promise((resolve) => {
      const check = (received: number): void => {
        if (received < bytes) return;
        progress.off('received', check);
        resolve();
      };
      progress.on('received', check);
    });
  // Each MB waits until the upstream has it: a gateway that buffered whole bodies would hang here.
  const sent = await writeStream(req, 4 * MB, (written) => (written % MB === 0 ? reachedUpstream(written) : undefined));
  const [res] = await response;
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  expect(JSON.parse(Buffer.concat(chunks).toString())).toMatchObject({ bytes: 4 * MB, sha256: sent });
});

test('hands the first bytes of a download to the client before the upstream has written the rest', async () => {
  const progress = new EventEmitter();
  let clientReceived = 0;
  const reachedClient = (bytes: number): Promise<void> =>
    new Promise((resolve) => {
      const check = (): void => {
        if (clientReceived < bytes) return;
        progress.off('received', check);
        resolve();
      };
      progress.on('received', check);
      check();
    });
  let sent: Promise<string> = Promise.resolve('');
  const up = await startHttpUpstream((_req, res) => {
    // Each MB waits until the client has it: a gateway that buffered whole responses would hang here.
    sent = writeStream(res, 4 * MB, (written) => (written % MB === 0 ? reachedClient(written) : undefined));
  });
  const gw = await startGateway(proxyConfig(up.url, {}, BIG));
  const req = request(gw.url('/download'), { agent: false });
  req.end();
  const [res] = (await once(req, 'response')) as [IncomingMessage];
  const hash = createHash('sha256');
  for await (const chunk of res) {
    hash.update(chunk as Buffer);
    clientReceived += (chunk as Buffer).length;
    progress.emit('received');
  }
  expect(clientReceived).toBe(4 * MB);
  expect(hash.digest('hex')).toBe(await sent);
});

test('holds a fast upstream back to the pace of a slow client instead of buffering the response', async () => {
  const TOTAL = 50 * MB;
  let upstream!: PacedWriter; // set when the request reaches the upstream, before its response
  const up = await startHttpUpstream((_req, res: ServerResponse) => {
    upstream = new PacedWriter(res, TOTAL);
  });
  const gw = await startGateway(proxyConfig(up.url, {}, BIG));
  const req = request(gw.url('/firehose'), { agent: false });
  req.end();
  const [res] = (await once(req, 'response')) as [IncomingMessage];
  res.pause();

  // The client reads one MB whenever everything has settled.
  const read = await readPaced(res, upstream);
  expect(read.received).toBe(TOTAL);
  expect(read.sha256).toBe(await upstream.sha256);
  expect(upstream.drains).toBeGreaterThan(0);
  expect(read.widestGap).toBeLessThan(TOTAL / 2);
});

test.each([
  ['Content-Length', true],
  ['chunked', false],
])('holds a fast client back to the pace of a slow upstream instead of buffering the upload (%s)', async (_framing, withLength) => {
  const TOTAL = 50 * MB;
  const arrived = new EventEmitter();
  const up = await startHttpUpstream((req, res: ServerResponse) => {
    req.pause();
    req.on('end', () => res.end('ok'));
    arrived.emit('request', req);
  });
  const gw = await startGateway(proxyConfig(up.url, {}, BIG));
  const req = request(gw.url('/upload'), { method: 'POST', agent: false, headers: withLength ? { 'content-length': String(TOTAL) } : {} });
  req.on('error', () => undefined);
  const upstreamReq = once(arrived, 'request');
  const client = new PacedWriter(req, TOTAL);

  // The upstream reads one MB whenever everything has settled.
  const [body] = (await upstreamReq) as [IncomingMessage];
  const read = await readPaced(body, client);
  const [res] = (await once(req, 'response')) as [IncomingMessage];
  expect(res.statusCode).toBe(200);
  expect(read.received).toBe(TOTAL);
  expect(read.sha256).toBe(await client.sha256);
  expect(client.drains).toBeGreaterThan(0);
  expect(read.widestGap).toBeLessThan(TOTAL / 2);
});

test('reuses pooled keep-alive connections to the upstream across sequential requests', async () => {
  let connections = 0;
  const up = await startHttpUpstream((_req, res) => res.end('ok'));
  up.server.on('connection', () => connections++);
  const gw = await startGateway(proxyConfig(up.url));
  for (let i = 0; i < 20; i++) {
    const res = await send(gw.url(`/n/${i}`));
    expect(res.status).toBe(200);
  }
  expect(up.requests).toHaveLength(20);
  expect(connections).toBeLessThanOrEqual(2);
});

test('keeps pooling after requests with bodies and after an upstream error answer', async () => {
  let connections = 0;
  const up = await startHttpUpstream((req, res) => {
    req.resume();
    req.on('end', () => {
      res.statusCode = req.url === '/fail' ? 500 : 200;
      res.end('done');
    });
  });
  up.server.on('connection', () => connections++);
  const gw = await startGateway(proxyConfig(up.url));
  for (let i = 0; i < 10; i++) {
    expect((await send(gw.url('/post'), { method: 'POST', body: `body ${i}` })).status).toBe(200);
    expect((await send(gw.url('/fail'))).status).toBe(500);
  }
  expect(connections).toBeLessThanOrEqual(2);
});
