// config/check-tls: the TLS keys of a config and the files they name: which form a listener's `tls`
// takes, and whether each certificate, key and CA can be read, parsed and paired. Problems carry the
// key that names the file; compile.ts reads the files through the same functions.
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { Problem } from './load.js';
import { isObj } from './raw.js';

// One certificate a listener can present, with the names it answers for (SAN DNS entries, else the
// CN), lower-cased; `*.example.com` stays a wildcard.
export interface ServerCert {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly names: readonly string[];
}


function readFile(file: string, path: string, problems: Problem[]): Buffer | null {
  try {
    return readFileSync(file);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EACCES' ? 'permission denied' : e.code === 'EISDIR' ? 'it is a directory' : e.message;
    problems.push({ path, message: `cannot read ${file} (${why})`, unreadable: true });
    return null;
  }
}

function parseCert(pem: Buffer, file: string, path: string, problems: Problem[]): X509Certificate | null {
  try {
    return new X509Certificate(pem);
  } catch {
    problems.push({ path, message: `${file} holds no certificate: expected PEM ("-----BEGIN CERTIFICATE-----")` });
    return null;
  }
}

function parseKey(pem: Buffer, file: string, path: string, problems: Problem[]): KeyObject | null {
  try {
    return createPrivateKey(pem);
  } catch (err) {
    const encrypted = (err as { code?: unknown }).code === 'ERR_MISSING_PASSPHRASE';
    problems.push({
      path,
      message: encrypted
        ? `${file} is an encrypted key, and wsgate has no passphrase for it: write it unencrypted (openssl pkey -in ${file} -out key.pem) and protect the file instead`
        : `${file} holds no private key: expected PEM ("-----BEGIN PRIVATE KEY-----")`,
    });
    return null;
  }
}

/** The names a certificate answers for: its SAN DNS entries, else its subject CN; lower-cased. */
export function certNames(x509: X509Certificate): string[] {
  const names: string[] = [];
  for (const entry of (x509.subjectAltName ?? '').split(', ')) if (entry.startsWith('DNS:')) names.push(entry.slice(4).toLowerCase());
  if (names.length > 0) return names;
  const cn = /^CN=(.+)$/m.exec(x509.subject)?.[1];
  return cn === undefined ? [] : [cn.toLowerCase()];
}

/** Reads a certificate and its key and checks they belong together; null (and problems) when not. */
export function readCertPair(certFile: string, keyFile: string, path: string, problems: Problem[]): ServerCert | null {
  const cert = readFile(certFile, `${path}.cert`, problems);
  const key = readFile(keyFile, `${path}.key`, problems);
  const x509 = cert === null ? null : parseCert(cert, certFile, `${path}.cert`, problems);
  const keyObject = key === null ? null : parseKey(key, keyFile, `${path}.key`, problems);
  if (cert === null || key === null || x509 === null || keyObject === null) return null;
  if (!x509.checkPrivateKey(keyObject)) {
    problems.push({ path: `${path}.key`, message: `the key in ${keyFile} does not match the certificate in ${certFile}: give the key the certificate was issued for` });
    return null;
  }
  return { cert, key, names: certNames(x509) };
}

/** Reads a CA bundle: at least one PEM certificate. */
export function readCa(file: string, path: string, problems: Problem[]): Buffer | null {
  const pem = readFile(file, path, problems);
  if (pem === null) return null;
  return parseCert(pem, file, path, problems) === null ? null : pem;
}

/** A listener's `tls` as a list of certificate files, the default first; null when its form is wrong. */
export function listenerCertFiles(tls: Record<string, unknown>): { cert: string; key: string; path: string }[] {
  if (Array.isArray(tls.certs)) {
    return tls.certs.flatMap((c: unknown, i) => (isObj(c) && typeof c.cert === 'string' && typeof c.key === 'string' ? [{ cert: c.cert, key: c.key, path: `certs[${i}]` }] : []));
  }
  return typeof tls.cert === 'string' && typeof tls.key === 'string' ? [{ cert: tls.cert, key: tls.key, path: '' }] : [];
}

// ---- cross-checks on the raw config (no file is read) ----

export function checkTlsShape(raw: Record<string, unknown>, problems: Problem[]): void {
  if (Array.isArray(raw.listen)) {
    raw.listen.forEach((l: unknown, i) => {
      if (!isObj(l) || !isObj(l.tls)) return;
      const tls = l.tls;
      const at = `listen[${i}].tls`;
      const single = tls.cert !== undefined || tls.key !== undefined;
      if (single && tls.certs !== undefined) problems.push({ path: at, message: 'give either cert and key, or certs: [{ cert, key }, ...], not both' });
      else if (!single && tls.certs === undefined) problems.push({ path: at, message: 'needs cert and key (PEM files), or certs: [{ cert, key }, ...] chosen by SNI' });
      else if (single && tls.cert === undefined) problems.push({ path: `${at}.cert`, message: 'key needs its cert: add cert (a PEM certificate file)' });
      else if (single && tls.key === undefined) problems.push({ path: `${at}.key`, message: 'cert needs its key: add key (a PEM private key file)' });
    });
  }
  if (!isObj(raw.upstreams)) return;
  for (const [name, u] of Object.entries(raw.upstreams)) {
    if (!isObj(u) || !isObj(u.tls)) continue;
    const at = `upstreams.${name}.tls`;
    if (u.tls.cert !== undefined && u.tls.key === undefined) problems.push({ path: `${at}.key`, message: 'a client certificate needs its key: add key (a PEM private key file)' });
    if (u.tls.key !== undefined && u.tls.cert === undefined) problems.push({ path: `${at}.cert`, message: 'a client key needs its certificate: add cert (a PEM certificate file)' });
    if (typeof u.tls.servername === 'string' && isIP(u.tls.servername) !== 0) {
      problems.push({ path: `${at}.servername`, message: 'an IP address cannot be sent as SNI (RFC 6066): remove servername, and the certificate is checked against the target\'s IP' });
    }
    const targets = Array.isArray(u.targets) ? u.targets : [];
    const secure = targets.some((t: unknown) => isObj(t) && typeof t.url === 'string' && /^(https|wss):/i.test(t.url));
    if (targets.length > 0 && !secure) problems.push({ path: at, message: 'no target of this upstream is https:// or wss://, and tls applies only to those: use https:// targets or remove tls' });
  }
}

// ---- the files (wsgate validate, start and every reload of a file) ----

/** Every file a TLS key names is read and parsed; certificates are paired with their keys. */
export function checkTlsFiles(raw: Record<string, unknown>, problems: Problem[]): void {
  // An empty name (an unset ${VAR}) already has its problem: no second one for reading ''.
  const named = (v: unknown): v is string => typeof v === 'string' && v !== '';
  if (Array.isArray(raw.listen)) {
    raw.listen.forEach((l: unknown, i) => {
      if (!isObj(l) || !isObj(l.tls)) return;
      for (const f of listenerCertFiles(l.tls)) {
        if (named(f.cert) && named(f.key)) readCertPair(f.cert, f.key, `listen[${i}].tls${f.path === '' ? '' : `.${f.path}`}`, problems);
      }
    });
  }
  if (!isObj(raw.upstreams)) return;
  for (const [name, u] of Object.entries(raw.upstreams)) {
    if (!isObj(u) || !isObj(u.tls)) continue;
    const at = `upstreams.${name}.tls`;
    if (named(u.tls.ca)) readCa(u.tls.ca, `${at}.ca`, problems);
    if (named(u.tls.cert) && named(u.tls.key)) readCertPair(u.tls.cert, u.tls.key, at, problems);
  }
}
