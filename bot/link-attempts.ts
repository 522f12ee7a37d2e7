/**
 * Wrong `/link` codes, counted per identity and over everyone. Link codes are typed by hand (8
 * characters, 40 bits, 10 minutes), so guessing is the attack: one sender trying many codes, or many
 * throwaway accounts trying a few each. Either limit, once reached, locks `/link CODE` for whoever it
 * covers until the window frees up; while locked, a code is not even looked at (a right guess does not
 * burn or redeem it), so guessing gains nothing. The identities are the platforms' (untrusted only
 * in how many there are: the map is pruned on every failure and bounded by the global limit).
 * Kept in memory: a restart is not something a guesser can cause from chat.
 * The person linking is always a stranger to the bot on the new app, so the global limit must not
 * let strangers lock everyone out: once it is reached, a sender with no wrong code in the window
 * still gets one try (a code is 40 bits, so single tries from throwaway accounts gain nothing), and
 * only further tries wait. Guessers then get one try per account instead of `perPerson`.
 */

export interface LinkAttemptLimits {
  /** Wrong codes one identity may send per window. */
  readonly perPerson: number;
  /** Wrong codes everyone together may send per window. */
  readonly global: number;
  readonly windowMs: number;
}

export const DEFAULT_LINK_LIMITS: LinkAttemptLimits = { perPerson: 5, global: 30, windowMs: 15 * 60_000 };

/** Whether `identity` may try a code now; when not, whose limit it is and when it frees up. */
export type LinkGate =
  | { readonly ok: true }
  | { readonly ok: false; readonly scope: "person" | "global"; readonly retryInMs: number };

export interface LinkAttempts {
  check(identity: string): LinkGate;
  /** Records a wrong code from `identity`; returns the gate as it stands after it. */
  failed(identity: string): LinkGate;
}

/** A limiter over the clock `now`. */
export function createLinkAttempts(
  now: () => number,
  limits: LinkAttemptLimits = DEFAULT_LINK_LIMITS,
): LinkAttempts {
  const byIdentity = new Map<string, number[]>();
  let everyone: number[] = [];

  const recent = (times: readonly number[], t: number): number[] =>
    times.filter((at) => at > t - limits.windowMs);

  function prune(t: number): void {
    everyone = recent(everyone, t);
    for (const [id, times] of byIdentity) {
      const kept = recent(times, t);
      if (kept.length === 0) byIdentity.delete(id);
      else byIdentity.set(id, kept);
    }
  }

  /** Time until the oldest of the last `limit` failures leaves the window. */
  const freeIn = (times: readonly number[], limit: number, t: number): number =>
    Math.max(1, (times[times.length - limit] ?? t) + limits.windowMs - t);

  function check(identity: string): LinkGate {
    const t = now();
    const mine = recent(byIdentity.get(identity) ?? [], t);
    if (mine.length >= limits.perPerson)
      return { ok: false, scope: "person", retryInMs: freeIn(mine, limits.perPerson, t) };
    const all = recent(everyone, t);
    if (mine.length > 0 && all.length >= limits.global)
      return { ok: false, scope: "global", retryInMs: freeIn(all, limits.global, t) };
    return { ok: true };
  }

  return {
    check,
    failed(identity) {
      const t = now();
      prune(t);
      everyone.push(t);
      byIdentity.set(identity, [...(byIdentity.get(identity) ?? []), t]);
      return check(identity);
    },
  };
}

/** What a locked-out sender reads: whose limit, and roughly when to try again. */
export function lockedText(gate: Extract<LinkGate, { ok: false }>): string {
  const minutes = Math.max(1, Math.ceil(gate.retryInMs / 60_000));
  const wait = `${minutes} minute${minutes === 1 ? "" : "s"}`;
  return gate.scope === "person"
    ? `Too many wrong link codes from you. Try again in ${wait}, with a fresh code (send /link on the app you already use).`
    : `Too many wrong link codes were sent to me recently, so linking is paused for everyone. Try again in ${wait}.`;
}
