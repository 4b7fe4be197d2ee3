// upstream/h1/response-faults: the numeric faults ResponseParser returns for a response it refuses,
// and the reason each gives in the UPSTREAM_BAD_RESPONSE error the client raises for it.

export const FAULT_NONE = 0;
export const FAULT_HEAD_TOO_LARGE = 1;
export const FAULT_BAD_STATUS = 2;
export const FAULT_BAD_HEADER = 3;
export const FAULT_BAD_LENGTH = 4;
export const FAULT_BAD_CHUNK = 5;
export const FAULT_UNEXPECTED_UPGRADE = 6;

const FAULT_REASONS = [
  '',
  'upstream response head is too large',
  'upstream sent an invalid status line',
  'upstream sent an invalid header line',
  'upstream sent an invalid or conflicting Content-Length',
  'upstream sent invalid chunked framing',
  'upstream switched protocols on a plain request',
] as const;

export function faultReason(fault: number): string {
  return FAULT_REASONS[fault] ?? 'upstream sent an invalid response';
}
