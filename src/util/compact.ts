/** `o` without its undefined properties, so results compare, persist and serialise cleanly. */
export function compact<T extends object>(o: T): T {
  const out: Record<string, unknown> = {};
  for (const k in o) if (o[k] !== undefined) out[k] = o[k];
  return out as T;
}
