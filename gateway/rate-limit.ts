/**
 * Per-agent, per-policy rate limits (`rate_limit: 120/min`). A fixed window per key: simple to audit,
 * and a burst at a window edge is at most twice the rate, which is fine for a safety limit.
 */

/** Returns `undefined` when allowed, or the seconds to wait before retrying. */
export function createRateLimiter(now: () => number = Date.now) {
  const windows = new Map<string, { start: number; used: number }>();
  return function take(key: string, limit: { count: number; perMs: number }): number | undefined {
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
