// ws/close-codes: the WebSocket close codes the gateway names, and which codes may travel in a close frame.

export const CLOSE_CODES = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  UNSUPPORTED_DATA: 1003,
  // RFC 6455 §7.4.1: 1005 and 1006 are what an endpoint reports (a close frame without a code, a
  // connection lost without a close frame); they never travel in a close frame themselves.
  NO_STATUS: 1005,
  ABNORMAL: 1006,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  INTERNAL_ERROR: 1011,
  SERVICE_RESTART: 1012,
  TRY_AGAIN_LATER: 1013,
  BAD_GATEWAY: 1014,
} as const;

export type CloseCode = (typeof CLOSE_CODES)[keyof typeof CLOSE_CODES];

// RFC 6455 §7.4: 1004 is reserved, 1005/1006/1015 are never sent, 1016-2999 are unassigned,
// 3000-3999 are registered by libraries and 4000-4999 are private use.
export function isValidWireCloseCode(code: number): boolean {
  if (!Number.isInteger(code)) return false;
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}
