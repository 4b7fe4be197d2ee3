// http/framing: requests llhttp refused before any route saw them. Node's parser already rejects
// ambiguous framing (Content-Length with Transfer-Encoding, differing duplicate Content-Length, bad
// chunk sizes, obs-fold); core/errors.ts names each refusal with our code, as it does every foreign error.
import { clientErrorToGatewayError, type GatewayError } from '../core/errors.js';

// null: nothing to answer (the peer reset or went away, or the error is no refusal of a request).
export function parseErrorToGatewayError(err: Error & { code?: string }): GatewayError | null {
  return clientErrorToGatewayError(err);
}
