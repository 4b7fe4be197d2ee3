import { test, expect } from 'vitest';
import { request, type IncomingMessage, type ServerResponse } from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { once, EventEmitter } from 'node:events';
import { startGateway, proxyConfig } from '../helpers/gateway.js';
import { startHttpUpstream } from '../helpers/servers.js';
import { send } from '../helpers/http.js';

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

// An upstream that hashes each request body and answers { bytes, sha256 }.
// Resolves when the writer has finished, or is stuck waiting for 'drain' while nothing moves for a
// few event-loop turns. Writer, gateway and reader share this loop and loopback delivers at once, so
// a quiet loop means every buffer on the way is full. No timer is involved. `state` emits 'change'
// when the writer blocks or finishes.
async function settle(state: EventEmitter, read: () => { blocked: boolean; finished: boolean; progress: number }): Promise<void> {
  for (;;) {
    const now = read();
    if (!now.blocked && !now.finished) await new Promise((resolve) => state.once('change', resolve));
    if (read().finished) return;
    const before = read().progress;
    let quiet = true;
    for (let i = 0; i < 20 && quiet; i++) {
      await new Promise((resolve) => setImmediate(resolve));
      const after = read();
      quiet = after.blocked && after.progress === before;
    }
    if (quiet) return;
  }
}

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
  const state = new EventEmitter();
  let upstreamWritten = 0;
  let blocked = false; // the upstream is waiting for 'drain'
  let drains = 0;
  let finished = false;
  let sent: Promise<string> = Promise.resolve('');
  const up = await startHttpUpstream((_req, res: ServerResponse) => {
    sent = (async () => {
      const hash = createHash('sha256');
      while (upstreamWritten < TOTAL) {
        hash.update(CHUNK);
        upstreamWritten += CHUNK.length;
        if (!res.write(CHUNK)) {
          blocked = true;
          state.emit('change');
          await once(res, 'drain');
          blocked = false;
          drains++;
        }
      }
      res.end();
      finished = true;
      state.emit('change');
      return hash.digest('hex');
    })();
  });
  const gw = await startGateway(proxyConfig(up.url, {}, BIG));
  const req = request(gw.url('/firehose'), { agent: false });
  req.end();
  const [res] = (await once(req, 'response')) as [IncomingMessage];
  res.pause();

  const settled = (): Promise<void> => settle(state, () => ({ blocked, finished, progress: upstreamWritten + drains }));

  // The client reads one MB whenever everything has settled. The gap between what the upstream wrote
  // and what the client read then is what sits in buffers on the way (socket buffers on each hop); a
  // gateway that read ahead of its client would let it grow to the whole stream.
  const hash = createHash('sha256');
  let clientReceived = 0;
  let widestGap = 0;
  let ended = false;
  res.on('end', () => (ended = true));
  while (!ended) {
    await settled();
    widestGap = Math.max(widestGap, upstreamWritten - clientReceived);
    const target = clientReceived + MB;
    while (clientReceived < target && !ended) {
      const chunk = res.read() as Buffer | null;
      if (chunk === null) {
        await readableOrEnd(res);
        continue;
      }
      hash.update(chunk);
      clientReceived += chunk.length;
    }
  }
  expect(clientReceived).toBe(TOTAL);
  expect(hash.digest('hex')).toBe(await sent);
  expect(drains).toBeGreaterThan(0);
  expect(widestGap).toBeLessThan(TOTAL / 2);
});

test.each([
  ['Content-Length', true],
  ['chunked', false],
])('holds a fast client back to the pace of a slow upstream instead of buffering the upload (%s)', async (_framing, withLength) => {
  const TOTAL = 50 * MB;
  const state = new EventEmitter();
  let clientWritten = 0;
  let blocked = false; // the client is waiting for 'drain'
  let drains = 0;
  let finished = false;
  let upstreamReq: IncomingMessage | null = null;
  const up = await startHttpUpstream((req, res: ServerResponse) => {
    upstreamReq = req;
    req.pause();
    state.emit('change');
    req.on('end', () => res.end('ok'));
  });
  const gw = await startGateway(proxyConfig(up.url, {}, BIG));
  const req = request(gw.url('/upload'), { method: 'POST', agent: false, headers: withLength ? { 'content-length': String(TOTAL) } : {} });
  req.on('error', () => undefined);
  const sent = (async () => {
    const hash = createHash('sha256');
    while (clientWritten < TOTAL) {
      hash.update(CHUNK);
      clientWritten += CHUNK.length;
      if (!req.write(CHUNK)) {
        blocked = true;
        state.emit('change');
        await once(req, 'drain');
        blocked = false;
        drains++;
      }
    }
    req.end();
    finished = true;
    state.emit('change');
    return hash.digest('hex');
  })();

  const settled = (): Promise<void> => settle(state, () => ({ blocked, finished, progress: clientWritten + drains }));

  // The upstream reads one MB whenever everything has settled; the gap between what the client wrote
  // and what the upstream read is what sits on the way. A gateway reading the upload ahead of its
  // upstream would let it grow to the whole body.
  while (upstreamReq === null) await new Promise((resolve) => state.once('change', resolve));
  const body = upstreamReq as IncomingMessage;
  const hash = createHash('sha256');
  let upstreamReceived = 0;
  let widestGap = 0;
  let ended = false;
  body.on('end', () => (ended = true));
  while (!ended) {
    await settled();
    widestGap = Math.max(widestGap, clientWritten - upstreamReceived);
    const target = upstreamReceived + MB;
    while (upstreamReceived < target && !ended) {
      const chunk = body.read() as Buffer | null;
      if (chunk === null) {
        await readableOrEnd(body);
        continue;
      }
      hash.update(chunk);
      upstreamReceived += chunk.length;
    }
  }
  const [res] = (await once(req, 'response')) as [IncomingMessage];
  expect(res.statusCode).toBe(200);
  expect(upstreamReceived).toBe(TOTAL);
  expect(hash.digest('hex')).toBe(await sent);
  expect(drains).toBeGreaterThan(0);
  expect(widestGap).toBeLessThan(TOTAL / 2);
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
