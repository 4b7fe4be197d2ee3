import { test, expect, onTestFinished } from 'vitest';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, connect as tlsConnect, type TLSSocket } from 'node:tls';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { readIntoSharedBuffer } from '../../../src/ws/client-reads.js';
import { stalled } from '../../helpers/ws.js';

const fixture = (name: string): Buffer => readFileSync(fileURLToPath(new URL(`../../fixtures/${name}`, import.meta.url)));

async function listening(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  onTestFinished(() => void server.close());
  return (server.address() as { port: number }).port;
}

// An accepted socket moved onto the shared buffer as it arrives; `reads` collects copies of what the
// callback saw, `events` what came as 'data' instead.
async function acceptedPair(): Promise<{ client: Socket; accepted: Socket; moved: boolean; reads: Buffer[]; events: Buffer[] }> {
  const reads: Buffer[] = [];
  const events: Buffer[] = [];
  let moved = false;
  const server = createServer((socket) => {
    socket.on('data', (chunk: Buffer) => events.push(chunk));
    moved = readIntoSharedBuffer(socket, (nread, buf) => {
      reads.push(Buffer.from(buf.subarray(0, nread)));
      return true;
    });
  });
  const port = await listening(server);
  const accepted = once(server, 'connection');
  const client = connect(port, '127.0.0.1');
  const [socket] = (await accepted) as [Socket];
  onTestFinished(() => {
    client.destroy();
    socket.destroy();
  });
  return { client, accepted: socket, moved, reads, events };
}

const total = (chunks: readonly Buffer[]): number => chunks.reduce((n, c) => n + c.length, 0);

test('an accepted socket reads into the shared buffer: every byte reaches the callback and none comes as data', async () => {
  const pair = await acceptedPair();
  expect(pair.moved).toBe(true);
  const sent = Buffer.alloc(300_000);
  for (let i = 0; i < sent.length; i++) sent[i] = (i * 11) & 0xff;
  pair.client.write(sent);
  await stalled(() => total(pair.reads));
  expect(Buffer.concat(pair.reads).equals(sent)).toBe(true);
  expect(pair.events).toEqual([]);
});

test('pause() stops its reads and resume() starts them again, as with onread', async () => {
  const pair = await acceptedPair();
  pair.accepted.pause();
  pair.client.write(Buffer.alloc(1000, 1));
  await stalled(() => total(pair.reads));
  expect(total(pair.reads)).toBe(0);
  pair.accepted.resume();
  await stalled(() => total(pair.reads));
  expect(total(pair.reads)).toBe(1000);
});

test("the peer's end still arrives as 'end'", async () => {
  const pair = await acceptedPair();
  const ended = once(pair.accepted, 'end');
  pair.client.end(Buffer.from('last'));
  await ended;
  expect(Buffer.concat(pair.reads).toString()).toBe('last');
});

test('a TLS socket is left as it is: it keeps its data events', async () => {
  let moved: boolean | null = null;
  const server = createTlsServer({ cert: fixture('tls-cert.pem'), key: fixture('tls-key.pem') }, (socket: TLSSocket) => {
    moved = readIntoSharedBuffer(socket, () => true);
    socket.on('data', (chunk: Buffer) => socket.end(chunk));
  });
  const port = await listening(server);
  const client = tlsConnect({ port, host: '127.0.0.1', rejectUnauthorized: false });
  onTestFinished(() => void client.destroy());
  await once(client, 'secureConnect');
  client.write('echo');
  const [echoed] = (await once(client, 'data')) as [Buffer];
  expect(moved).toBe(false);
  expect(echoed.toString()).toBe('echo');
});
