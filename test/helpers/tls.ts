// test/helpers/tls: certificates made for one test with openssl (a CA, leaves it signs, self-signed
// ones), written as PEM files into a temp dir removed when the test finishes; and an https upstream.
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type ServerOptions } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import { onTestFinished } from 'vitest';
import { WebSocketServer } from 'ws';

const run = promisify(execFile);
const OPENSSL = '/usr/bin/openssl';

export interface CertFiles {
  readonly cert: string;   // path of the PEM certificate
  readonly key: string;    // path of the PEM private key
  readonly pem: Buffer;    // the certificate's bytes
  readonly fingerprint: string; // sha256, as X509Certificate#fingerprint256 and TLSSocket#getPeerCertificate().fingerprint256 write it
}

export interface TlsDir {
  readonly dir: string;
  /** A CA certificate that can sign leaves (`leaf(..., { ca })`). */
  ca(name: string): Promise<CertFiles>;
  /** A certificate for `names` (DNS names or IPs; the first is also the CN), signed by `ca` or self-signed; `cnOnly`: no subjectAltName. */
  leaf(name: string, names: readonly string[], options?: { ca?: CertFiles; clientAuth?: boolean; cnOnly?: boolean }): Promise<CertFiles>;
}

function filesOf(cert: string, key: string): CertFiles {
  const pem = readFileSync(cert);
  return { cert, key, pem, fingerprint: new X509Certificate(pem).fingerprint256 };
}

function san(names: readonly string[]): string {
  return names.map((n) => (/^[\d.]+$|:/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
}

export function tlsDir(): TlsDir {
  const dir = mkdtempSync(join(tmpdir(), 'wsgate-tls-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  const keyArgs = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  return {
    dir,
    async ca(name) {
      const cert = join(dir, `${name}.pem`);
      const key = join(dir, `${name}-key.pem`);
      await run(OPENSSL, ['req', '-x509', ...keyArgs, '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${name}`,
        '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
      return filesOf(cert, key);
    },
    async leaf(name, names, options = {}) {
      const cert = join(dir, `${name}.pem`);
      const key = join(dir, `${name}-key.pem`);
      const usage = options.clientAuth === true ? 'clientAuth' : 'serverAuth';
      if (options.ca === undefined) {
        const sanArgs = options.cnOnly === true ? [] : ['-addext', `subjectAltName=${san(names)}`];
        await run(OPENSSL, ['req', '-x509', ...keyArgs, '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${names[0] ?? name}`,
          ...sanArgs, '-addext', `extendedKeyUsage=${usage}`]);
        return filesOf(cert, key);
      }
      const csr = join(dir, `${name}.csr`);
      const ext = join(dir, `${name}.ext`);
      writeFileSync(ext, `subjectAltName=${san(names)}\nextendedKeyUsage=${usage}\nbasicConstraints=CA:FALSE\n`);
      await run(OPENSSL, ['req', '-new', ...keyArgs, '-keyout', key, '-out', csr, '-subj', `/CN=${names[0] ?? name}`]);
      await run(OPENSSL, ['x509', '-req', '-in', csr, '-CA', options.ca.cert, '-CAkey', options.ca.key, '-CAcreateserial',
        '-out', cert, '-days', '2', '-extfile', ext]);
      return filesOf(cert, key);
    },
  };
}

export interface HttpsUpstream {
  readonly port: number;
  readonly url: string;          // https://127.0.0.1:port
  readonly wsUrl: string;        // wss://127.0.0.1:port
  readonly requests: { path: string; clientCert: string | null; servername: string | null }[];
  /** Resolves with the first request (seen now or later) whose path is `path`. */
  waitFor(path: string): Promise<HttpsUpstream['requests'][number]>;
}

// An https server answering every request with JSON `{ path, clientCert }` (the client certificate's
// CN when one was presented), and echoing WebSocket messages; `options` are node:https's (requestCert...).
export async function startHttpsUpstream(cert: CertFiles, options: ServerOptions = {}): Promise<HttpsUpstream> {
  const requests: HttpsUpstream['requests'] = [];
  const waiters: { path: string; resolve: (r: HttpsUpstream['requests'][number]) => void }[] = [];
  const seen = (socket: TLSSocket, path: string): void => {
    const cn = (socket.getPeerCertificate() as Partial<PeerCertificate>).subject?.CN; // {} without a certificate
    const servername = (socket as TLSSocket & { servername?: string | false }).servername;
    const entry = { path, clientCert: typeof cn === 'string' ? cn : null, servername: typeof servername === 'string' ? servername : null };
    requests.push(entry);
    for (let i = waiters.length - 1; i >= 0; i--) if (waiters[i]!.path === path) waiters.splice(i, 1)[0]!.resolve(entry);
  };
  const server = createServer({ cert: cert.pem, key: readFileSync(cert.key), ...options }, (req, res) => {
    seen(req.socket as TLSSocket, req.url ?? '');
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ path: req.url, clientCert: requests.at(-1)?.clientCert ?? null }));
  });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws, req) => {
    seen(req.socket as TLSSocket, req.url ?? '');
    ws.on('error', () => ws.terminate());
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  server.on('tlsClientError', () => undefined);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  onTestFinished(() => {
    for (const ws of wss.clients) ws.terminate();
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const port = (server.address() as AddressInfo).port;
  const waitFor = (path: string): Promise<HttpsUpstream['requests'][number]> => {
    const found = requests.find((r) => r.path === path);
    return found !== undefined ? Promise.resolve(found) : new Promise((resolve) => waiters.push({ path, resolve }));
  };
  return { port, url: `https://127.0.0.1:${port}`, wsUrl: `wss://127.0.0.1:${port}`, requests, waitFor };
}
