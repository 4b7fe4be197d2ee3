// test/helpers/tls: certificates made for one test with openssl (a CA, leaves it signs, self-signed
// ones), written as PEM files into a temp dir removed when the test finishes.
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { onTestFinished } from 'vitest';

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
  /** A certificate for `names` (DNS names or IPs; the first is also the CN), signed by `ca` or self-signed. */
  leaf(name: string, names: readonly string[], options?: { ca?: CertFiles; clientAuth?: boolean }): Promise<CertFiles>;
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
        await run(OPENSSL, ['req', '-x509', ...keyArgs, '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${names[0] ?? name}`,
          '-addext', `subjectAltName=${san(names)}`, '-addext', `extendedKeyUsage=${usage}`]);
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
