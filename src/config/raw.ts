// config/raw: safe reads of the unchecked input the cross-checks walk: they run even when the schema
// failed on it, so nothing about its shape is assumed.

export type Obj = Record<string, unknown>;
export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
export function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}
