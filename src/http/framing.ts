// http/framing: requests llhttp refused before any route saw them. Node's parser already rejects
// ambiguous framing (Content-Length with Transfer-Encoding, differing duplicate Content-Length, bad
// chunk sizes, obs-fold); this module only names each refusal with our error code and status.
import { GatewayError, type ErrorCode } from '../core/errors.js';

const PARSE_ERRORS: Record<string, ErrorCode> = {
  HPE_HEADER_OVERFLOW: 'HEADERS_TOO_LARGE',
  HPE_UNEXPECTED_CONTENT_LENGTH: 'AMBIGUOUS_FRAMING',
  HPE_INVALID_CONTENT_LENGTH: 'AMBIGUOUS_FRAMING',
  HPE_INVALID_TRANSFER_ENCODING: 'AMBIGUOUS_FRAMING',
  HPE_INVALID_CHUNK_SIZE: 'AMBIGUOUS_FRAMING',
  HPE_CHUNK_EXTENSIONS_OVERFLOW: 'AMBIGUOUS_FRAMING',
  HPE_STRICT: 'AMBIGUOUS_FRAMING',
  HPE_LF_EXPECTED: 'AMBIGUOUS_FRAMING',
  HPE_CR_EXPECTED: 'AMBIGUOUS_FRAMING',
  ERR_HTTP_REQUEST_TIMEOUT: 'REQUEST_TIMEOUT',
};

// null: nothing to answer (the peer reset or went away).
export function parseErrorToGatewayError(err: Error & { code?: string }): GatewayError | null {
  const code = err.code ?? '';
  if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'ERR_STREAM_DESTROYED') return null;
  const mapped = PARSE_ERRORS[code] ?? (code.startsWith('HPE_') ? 'BAD_REQUEST' : null);
  if (mapped === null) return null;
  return new GatewayError(mapped, undefined, { cause: err });
}
