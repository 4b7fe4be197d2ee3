import { test, expect, onTestFinished } from 'vitest';
import { createServer, connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { createHash } from 'node:crypto';
import { copyRead, freeReads, PooledWrites, READ_BYTES, releaseRead } from '../../../src/ws/read-pool.js';
import { receiveAll } from '../../helpers/ws.js';

// Two ends of one TCP connection on 127.0.0.1: `writer` is what the ledger writes to, `reader` its peer.
async function socketPair(): Promise<{ writer: Socket; reader: Socket }> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'connection');
  const writer = connect((server.address() as { port: number }).port, '127.0.0.1');
  const [reader] = (await accepted) as [Socket];
  await once(writer, 'connect');
  onTestFinished(() => {
    writer.destroy();
    reader.destroy();
    server.close();
  });
  return { writer, reader };
}

function filled(length: number, seed: number): Buffer {
  const buf = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) buf[i] = (i * 7 + seed * 13 + (i >> 9)) & 0xff;
  return buf;
}

// Writable calls write callbacks in order: once this one ran, every earlier write's has.
function flushed(socket: Socket): Promise<void> {
  return new Promise((resolve) => socket.write(Buffer.from('.'), () => resolve()));
}

test('copyRead copies a read into a pooled buffer, and a released buffer is the next one taken', () => {
  const source = filled(READ_BYTES, 1);
  const chunk = copyRead(source, 1000);
  expect(chunk.length).toBe(1000);
  expect(chunk.buffer.byteLength).toBe(READ_BYTES);
  expect(chunk.equals(source.subarray(0, 1000))).toBe(true);
  const before = freeReads();
  releaseRead(chunk);
  expect(freeReads()).toBe(before + 1);
  const next = copyRead(filled(10, 2), 10);
  expect(next.buffer).toBe(chunk.buffer);
  expect(next.equals(filled(10, 2))).toBe(true);
});

test('a chunk no write took goes back at end()', () => {
  const chunk = copyRead(filled(64, 3), 64);
  const writes = new PooledWrites(null as unknown as Socket); // never written to
  const before = freeReads();
  writes.begin(chunk);
  writes.end();
  expect(freeReads()).toBe(before + 1);
});

test('a chunk written in two views goes back once, after the second write called back', async () => {
  const { writer, reader } = await socketPair();
  const content = filled(5000, 4);
  const got = receiveAll(reader, 5000 + 1);
  const chunk = copyRead(content, content.length);
  const writes = new PooledWrites(writer);
  const before = freeReads();
  writes.begin(chunk);
  writes.write(chunk.subarray(0, 100));
  writes.write(chunk.subarray(100));
  writes.end();
  expect(freeReads()).toBe(before); // the writes have not called back yet
  await flushed(writer);
  expect(freeReads()).toBe(before + 1);
  const { sha256 } = await got;
  expect(sha256).toBe(createHash('sha256').update(content).update('.').digest('hex'));
});

test('behind a queue a write takes a copy: the pooled buffer goes back at once and its reuse changes nothing sent', async () => {
  const { writer, reader } = await socketPair();
  reader.pause();
  const filler = Buffer.alloc(8 * 1024 * 1024, 0x2e);
  writer.write(filler);
  expect(writer.writableLength).toBeGreaterThan(0); // the kernel took part of it; the rest is queued
  const content = filled(READ_BYTES, 5);
  const chunk = copyRead(content, content.length);
  const writes = new PooledWrites(writer);
  const before = freeReads();
  writes.begin(chunk);
  writes.write(chunk);
  writes.end();
  expect(freeReads()).toBe(before + 1);
  const reused = copyRead(filled(READ_BYTES, 6), READ_BYTES); // overwrites the buffer the write came from
  expect(reused.buffer).toBe(chunk.buffer);
  const got = receiveAll(reader, filler.length + content.length);
  reader.resume();
  const { sha256 } = await got;
  expect(sha256).toBe(createHash('sha256').update(filler).update(content).digest('hex'));
});

test('a write the kernel took only partly keeps its pooled buffer until it is written, and every byte arrives as copied', async () => {
  const { writer, reader } = await socketPair();
  reader.pause();
  const writes = new PooledWrites(writer);
  const hash = createHash('sha256');
  let total = 0;
  let partial: Buffer | null = null;
  // Pooled writes to a reader that reads nothing: each is sent at once until the kernel's buffers fill.
  for (let i = 0; i < 2000 && partial === null; i++) {
    const content = filled(READ_BYTES, 100 + i);
    hash.update(content);
    total += content.length;
    const chunk = copyRead(content, content.length);
    writes.begin(chunk);
    writes.write(chunk);
    writes.end();
    if (writer.writableLength > 0) partial = chunk;
  }
  expect(partial).not.toBeNull();
  // Empty the free list and take more: none of them may be the buffer the kernel has not read yet.
  const taken: Buffer[] = [];
  for (let i = 0; i < 200; i++) {
    const other = copyRead(filled(READ_BYTES, 7), READ_BYTES);
    expect(other.buffer).not.toBe(partial!.buffer);
    taken.push(other);
  }
  const got = receiveAll(reader, total);
  reader.resume();
  const { bytes, sha256 } = await got;
  expect(bytes).toBe(total);
  expect(sha256).toBe(hash.digest('hex'));
  for (const other of taken) releaseRead(other);
});

test('once a write to the socket failed, nothing the ledger held goes back to the free list', async () => {
  const { writer } = await socketPair();
  writer.destroy();
  await once(writer, 'close');
  const writes = new PooledWrites(writer);
  const first = copyRead(filled(100, 8), 100);
  const second = copyRead(filled(100, 9), 100);
  const after = freeReads();
  writes.begin(first);
  writes.write(first);
  writes.end();
  await flushed(writer); // its callback, with the error, comes after the one for `first`
  writes.begin(second);
  writes.write(second);
  writes.end();
  await flushed(writer);
  expect(freeReads()).toBe(after);
});
