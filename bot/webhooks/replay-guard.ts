/**
 * Refuses a webhook delivery that was already accepted (same platform event id, or same signature)
 * and one whose signed time is too old or too far ahead. The platforms' adapters accept byte-identical
 * replays and day-old events; Warden must not. Keys are remembered for as long as the event could
 * still pass the age check, so memory stays bounded by the rate of genuinely signed deliveries.
 * With a `ReplayStore` (the bot's SQLite file) they also outlive a restart: a delivery replayed
 * just after Warden restarts is still 409.
 */

/** Signed times further than this from now (either way) are stale: 400, no effect. */
export const MAX_EVENT_AGE_MS = 5 * 60_000;
/** A bound on remembered keys: past it new deliveries are refused (503) rather than forgotten. */
const MAX_KEYS = 200_000;

export type ReplayJudgement =
  | { readonly kind: "fresh"; readonly release: () => Promise<void> }
  | { readonly kind: "stale" }
  | { readonly kind: "replayed" }
  | { readonly kind: "full" };

export interface ReplayGuard {
  /**
   * Judges one verified delivery and, when fresh, remembers its keys at once (so a concurrent copy
   * is a replay). `release` forgets them again when the bot could not take the delivery in, so the
   * platform's own retry is not mistaken for a replay.
   */
  admit(
    platform: string,
    keys: readonly string[],
    signedAtMs: number | undefined,
    expiresAtMs: number | undefined,
  ): Promise<ReplayJudgement>;
}

/** Where remembered keys outlive a restart. Keys are `platform\0key`; `until` is when each may go. */
export interface ReplayStore {
  /** The keys still remembered, soonest forget-time first. */
  load(): Promise<Iterable<readonly [key: string, until: number]>>;
  add(keys: readonly string[], until: number): Promise<void>;
  remove(keys: readonly string[]): Promise<void>;
}

export function createReplayGuard(now: () => number = Date.now, store?: ReplayStore): ReplayGuard {
  /** `platform\0key` → when it may be forgotten. */
  const seen = new Map<string, number>();
  const t0 = now();
  // Every admit waits for the stored keys first: a replay just after a restart must not slip in
  // while they load. A failed load fails every admit (closed) rather than forgetting the keys.
  const ready = (async () => {
    for (const [k, until] of (await store?.load()) ?? []) if (until > t0) seen.set(k, until);
  })();
  ready.catch(() => undefined); // observed by each admit

  function prune(t: number): void {
    // Map iteration is insertion order, and forget-times grow with it closely enough: stop early.
    for (const [k, until] of seen) {
      if (until > t) break;
      seen.delete(k);
    }
  }

  return {
    async admit(platform, keys, signedAtMs, expiresAtMs) {
      await ready;
      // From here to the `seen.set` below there is no await: a concurrent copy sees the keys.
      const t = now();
      if (signedAtMs !== undefined && Math.abs(t - signedAtMs) > MAX_EVENT_AGE_MS) return { kind: "stale" };
      // A token past its expiry (with the same clock tolerance) no longer vouches for anything.
      if (expiresAtMs !== undefined && t - expiresAtMs > MAX_EVENT_AGE_MS) return { kind: "stale" };
      // Fail closed: a delivery must name what makes it unique and carry a signed time, or its keys
      // could not be forgotten safely (a replay after that would pass).
      if (keys.length === 0 || (signedAtMs === undefined && expiresAtMs === undefined))
        return { kind: "stale" };
      prune(t);
      const names = keys.map((k) => `${platform}\0${k}`);
      if (names.some((n) => seen.has(n))) return { kind: "replayed" };
      if (seen.size + names.length > MAX_KEYS) return { kind: "full" };
      // Remember until the event could no longer pass the age checks above.
      const until = Math.max(signedAtMs ?? t, expiresAtMs ?? t, t) + MAX_EVENT_AGE_MS + 60_000;
      for (const n of names) seen.set(n, until);
      // Written before the handler runs: a crash mid-delivery must not let its replay in afterwards.
      await store?.add(names, until);
      return {
        kind: "fresh",
        release: async () => {
          for (const n of names) seen.delete(n);
          await store?.remove(names);
        },
      };
    },
  };
}
