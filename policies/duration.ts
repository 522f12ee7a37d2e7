/**
 * Durations (`30s`, `15m`, `2h`, `1d`) and rates (`120/min`) as written in policy files.
 * Deliberately narrow: one positive integer and one unit, nothing else. `1h30m`, `1.5h`, `90`,
 * ` 5m`, `05m` and `0s` are all rejected so a typo can never silently become "zero" or "forever".
 */

import type { RateLimit } from "./types.js";

/** Milliseconds per duration unit. */
const DURATION_UNIT_MS = {
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
} as const;

/** Milliseconds per rate unit. `min`, not `m`, so a rate can't be misread as "per month". */
const RATE_UNIT_MS = {
  s: 1_000,
  min: 60_000,
  h: 3_600_000,
} as const;

// No leading zeros ("007m" is a typo) and at most 9 digits so Number() is exact; the product can
// still pass Number.MAX_SAFE_INTEGER (999999999d), which parseDuration guards separately.
const DURATION_RE = /^([1-9][0-9]{0,8})(s|m|h|d)$/;
const RATE_RE = /^([1-9][0-9]{0,8})\/(s|min|h)$/;

/** Human description of the accepted duration syntax, for error messages. */
export const DURATION_HINT = "a duration like 30s, 15m, 2h or 1d";

/** Human description of the accepted rate syntax, for error messages. */
export const RATE_HINT = "a rate like 10/s, 120/min or 1000/h";

/**
 * Parses a policy duration into milliseconds.
 * @returns the duration in ms, or `undefined` when `text` is not exactly `<positive int><s|m|h|d>`.
 */
export function parseDuration(text: string): number | undefined {
  const match = DURATION_RE.exec(text);
  if (match === null) return undefined;
  const [, count, unit] = match;
  if (count === undefined || unit === undefined) return undefined;
  const ms = Number(count) * DURATION_UNIT_MS[unit as keyof typeof DURATION_UNIT_MS];
  // Refuse anything a timer could not represent exactly rather than rounding it.
  return Number.isSafeInteger(ms) ? ms : undefined;
}

/**
 * Parses a policy rate such as `120/min`.
 * @returns `{ count, perMs }`, or `undefined` when `text` is not exactly `<positive int>/<s|min|h>`.
 */
export function parseRate(text: string): RateLimit | undefined {
  const match = RATE_RE.exec(text);
  if (match === null) return undefined;
  const [, count, unit] = match;
  if (count === undefined || unit === undefined) return undefined;
  return { count: Number(count), perMs: RATE_UNIT_MS[unit as keyof typeof RATE_UNIT_MS] };
}
