// observability/events: the log event names of SPEC section 8; the only place they are spelled.

export const EVENTS = {
  HTTP_REQUEST: 'http_request',
  WS_OPEN: 'ws_open',
  WS_CLOSE: 'ws_close',
  UPSTREAM_HEALTH: 'upstream_health',
  CONFIG_LOADED: 'config_loaded',
  CONFIG_REJECTED: 'config_rejected',
  LISTENING: 'listening',
  DRAINING: 'draining',
  STOPPED: 'stopped',
  ERROR: 'error',
  ANOMALY: 'anomaly',
  ANOMALY_WEBHOOK: 'anomaly_webhook',
  STORE_DEGRADED: 'store_degraded', // the shared store stopped answering: limits count per instance
  STORE_UP: 'store_up',             // it answers (first connect, or back after store_degraded)
  WARMUP: 'warmup',                 // the start-up warm-up ran (its counts), or was skipped (why)
} as const;

export type EventName = (typeof EVENTS)[keyof typeof EVENTS];
