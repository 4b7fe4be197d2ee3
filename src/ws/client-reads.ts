// ws/client-reads: moves an accepted client socket's reads onto one shared buffer, as net's `onread`
// option does for the sockets we connect (upstream-socket.ts); not what is done with a read (the
// tunnel copies it into read-pool.ts's buffers).
//
// Node reads an accepted socket into a fresh 64 KiB allocation per read (an ArrayBuffer V8 counts as
// external memory), and `onread` exists only for sockets a caller constructs, never for those a
// server accepts (Node 20 to 24). So this does what that option does, on the socket after the 101:
// it sets the three fields net.Socket reads on every read (found by their names on a probe socket
// built with `onread`) and tells the TCP handle to read into the shared buffer (`useUserBuffer`, the
// call `onread` makes). Where any of that is missing (another Node, a TLS socket), it changes nothing
// and the socket keeps its 'data' events: the relay works either way, one allocation per read more.
import { Socket } from 'node:net';
import { READ_BYTES } from './read-pool.js';

export type ClientRead = (this: Socket, nread: number, buf: Buffer) => boolean;

// Reads are synchronous callbacks, one at a time, so one buffer serves every client socket; each
// read is copied out of it before the callback returns.
const READ_BUFFER = Buffer.allocUnsafe(READ_BYTES);

interface OnreadFields {
  readonly buffer: symbol;
  readonly callback: symbol;
  readonly generator: symbol;
}

const fields = findOnreadFields();

function findOnreadFields(): OnreadFields | null {
  // @types/node declares `onread` on connect()'s options only; the constructor takes it too (net.js).
  const probe = new Socket({ onread: { buffer: Buffer.alloc(1), callback: () => true } } as ConstructorParameters<typeof Socket>[0]);
  const symbols = Object.getOwnPropertySymbols(probe);
  probe.destroy();
  const named = (name: string): symbol | undefined => symbols.find((s) => s.description === name);
  const buffer = named('kBuffer');
  const callback = named('kBufferCb');
  const generator = named('kBufferGen');
  return buffer && callback && generator ? { buffer, callback, generator } : null;
}

type Handle = { useUserBuffer?: (buf: Buffer) => void };

/** Sends the socket's reads to `onRead` instead of 'data' events; false (nothing changed) where it cannot. */
export function readIntoSharedBuffer(socket: Socket, onRead: ClientRead): boolean {
  if (fields === null || (socket as { encrypted?: boolean }).encrypted === true) return false;
  const handle = (socket as unknown as { _handle: Handle | null })._handle;
  if (handle === null || typeof handle.useUserBuffer !== 'function') return false;
  const s = socket as unknown as Record<symbol, unknown>;
  s[fields.buffer] = READ_BUFFER;
  s[fields.callback] = onRead;
  s[fields.generator] = null;
  handle.useUserBuffer(READ_BUFFER);
  return true;
}
