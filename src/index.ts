// index: the library API (SPEC "Developers" face). Everything exported here is public.
export { Gateway, type GatewayOptions, type BoundAddress } from './server/gateway.js';
export type { WarmupLimits } from './server/warmup.js';
export type { GatewayConfigInput as GatewayConfig } from './config/schema.js';
export type { Context, GatewayContext, Middleware, Next, Identity, WsOpenInfo, WsCloseInfo } from './middleware/chain.js';
export { GatewayError, ERRORS, type ErrorCode } from './core/errors.js';
export { ConfigError } from './config/check.js';
