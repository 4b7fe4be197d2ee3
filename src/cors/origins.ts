// cors/origins: an allowed-origins list compiled once (exact origins in a Set, `https://*.example.com`
// subdomain patterns as scheme + suffix), asked per request whether an Origin header is in it; shared
// by CORS and by the WebSocket handshake's Origin check. Not what to answer (cors/cors.ts).

// RFC 6454 §6.1: an origin is serialised as scheme://host[:port], lower case, no path. A pattern puts
// "*." before the host: any non-empty run of labels in front of it, never the bare domain itself.
export const ORIGIN_PATTERN = /^[a-z][a-z0-9+.-]*:\/\/(\*\.)?[a-z0-9\-._~%]+(:\d{1,5})?$|^[a-z][a-z0-9+.-]*:\/\/\[[0-9a-f:.]+\](:\d{1,5})?$/;

interface Suffix {
  readonly scheme: string; // "https://"
  readonly tail: string;   // ".example.com" or ".example.com:8443"
}

export class OriginList {
  private readonly exact: ReadonlySet<string>;
  private readonly suffixes: readonly Suffix[];

  // `list` entries are lower case and valid (config/schema.ts checks them); "*" is not one of them.
  constructor(readonly list: readonly string[]) {
    const exact = new Set<string>();
    const suffixes: Suffix[] = [];
    for (const o of list) {
      const star = o.indexOf('://*.');
      if (star === -1) exact.add(o);
      else suffixes.push({ scheme: o.slice(0, star + 3), tail: o.slice(star + 4) });
    }
    this.exact = exact;
    this.suffixes = suffixes;
  }

  // HOT: per request on a CORS route. Browsers send the origin lower case; a client that does not
  // gets the same answer (hosts are case-insensitive), at the cost of one lower-casing.
  includes(origin: string): boolean {
    if (this.exact.has(origin)) return true;
    const lower = origin.toLowerCase();
    if (lower !== origin && this.exact.has(lower)) return true;
    for (const s of this.suffixes) {
      // At least one label before the tail, and no '/', '@' or ':' smuggled into it.
      if (lower.length > s.scheme.length + s.tail.length && lower.startsWith(s.scheme) && lower.endsWith(s.tail)) {
        const head = lower.slice(s.scheme.length, lower.length - s.tail.length);
        if (/^[a-z0-9\-._~%]+$/.test(head) && !head.startsWith('.') && !head.endsWith('.')) return true;
      }
    }
    return false;
  }

  // The admin API shows the list as it was written.
  toJSON(): readonly string[] {
    return this.list;
  }
}
