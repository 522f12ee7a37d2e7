/**
 * Per-agent, per-policy rate limits (`rate_limit: 120/min`). A fixed window per key: simple to audit,
 * and a burst at a window edge is at most twice the rate, which is fine for a safety limit.
 */
import { createHash } from "node:crypto";
import type { Store } from "./store.js";

/**
 * Returns `undefined` when allowed, or the seconds to wait before retrying. With `shared` (replicas
 * on one database) the count lives in the store: windows are aligned to the clock (every replica
 * agrees where one starts) and each use is one atomic upsert, so N per window holds across replicas.
 */
export function createRateLimiter(
  now: () => number = Date.now,
  shared?: Pick<Store, "takeRate">,
): (key: string, limit: { count: number; perMs: number }) => Promise<number | undefined> {
  const windows = new Map<string, { start: number; used: number }>();
  if (shared) {
    return async (key, limit) => {
      const t = now();
      const start = t - (t % limit.perMs);
      // Keys hold a NUL separator, which PostgreSQL text cannot store: the store sees a digest.
      const id = createHash("sha256").update(`${key}\u0000${limit.perMs}`).digest("hex");
      const used = await shared.takeRate(id, start);
      return used <= limit.count ? undefined : Math.max(1, Math.ceil((start + limit.perMs - t) / 1000));
    };
  }
  return async function take(key, limit) {
    const t = now();
    let w = windows.get(key);
    if (!w || t - w.start >= limit.perMs) {
      w = { start: t, used: 0 };
      windows.set(key, w);
    }
    if (w.used >= limit.count) return Math.max(1, Math.ceil((w.start + limit.perMs - t) / 1000));
    w.used++;
    return undefined;
  };
}

export type RateLimiter = ReturnType<typeof createRateLimiter>;
