// core/size: "64kb", "1mb", "512b" or a number of bytes → bytes (binary units: 1kb = 1024). NaN if invalid.

const UNIT_BYTES: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };
const SIZE = /^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)$/i;

export function parseSize(value: string | number): number {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 ? value : NaN;
  const m = SIZE.exec(value);
  if (m === null) return NaN;
  return Math.floor(Number(m[1]) * (UNIT_BYTES[m[2]!.toLowerCase()] ?? NaN));
}
