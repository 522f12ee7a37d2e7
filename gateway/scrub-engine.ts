/**
 * Finds and replaces secret needles (gateway/secret-forms.ts) in byte strings, whole or streamed.
 * Untrusted: the texts (upstream responses, split anywhere, possibly crafted to straddle chunks).
 *
 * Streaming keeps exactly the result of scrubbing the whole text at once: a chunk is emitted up
 * to the first position whose remainder could still grow into a match (found by stepping every
 * needle as a small NFA over at most `maxLen` tail characters); the rest waits for more bytes.
 * Matches starting before that point cannot depend on bytes not yet seen, so chunking never
 * changes the output — the unit test checks this against whole-text scrubbing on random splits.
 * A replacement that would itself leave a needle behind (a value inside its own placeholder,
 * overlapping values) is caught by re-scanning the output around replacements: fail closed.
 */
import { BASE64_CHAR_CLASS, type Needle } from "./secret-forms.js";

/** Needles compiled once per binding set. */
export interface CompiledNeedles {
  readonly regex: RegExp;
  readonly needles: readonly Needle[];
  /** Needles by the characters they can start with: most positions are skipped with one lookup. */
  readonly byFirst: ReadonlyMap<string, readonly Needle[]>;
  /** Longest possible match, in characters. */
  readonly maxLen: number;
  /** 1 at (c1 << 8 | c2) when some match can start with those two characters (a cheap pre-scan). */
  readonly starts: Uint8Array;
}

/** Thrown when scrubbed output still holds a needle; callers cut the response. */
export class ScrubError extends Error {
  override readonly name = "ScrubError";
}

const esc = (c: string): string =>
  /[A-Za-z0-9_]/.test(c) ? c : `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`;
const atomSource = (a: string): string => (a.length === 1 ? esc(a) : `[${[...a].map(esc).join("")}]`);

/** Builds one regex over all needles, longest values first so a longer overlapping value wins. */
export function compileNeedles(needles: readonly Needle[]): CompiledNeedles {
  const parts = needles.map((n) => {
    const body = n.units.map((u) => `(?:${u.map((alt) => alt.map(atomSource).join("")).join("|")})`);
    return `(${body.join("")}${n.endOfBase64 ? `(?!${BASE64_CHAR_CLASS})` : ""})`;
  });
  const byFirst = new Map<string, Needle[]>();
  for (const n of needles) {
    const first = new Set((n.units[0] ?? []).flatMap((alt) => [...(alt[0] ?? "")]));
    for (const c of first) byFirst.set(c, [...(byFirst.get(c) ?? []), n]);
  }
  const starts = new Uint8Array(1 << 16);
  for (const n of needles) for (const [a, b] of firstPairs(n)) starts[(a << 8) | b] = 1;
  const maxLen = Math.max(
    0,
    ...needles.map((n) => n.units.reduce((s, u) => s + Math.max(...u.map((a) => a.length)), 0)),
  );
  // No needles: a regex that never matches (an empty alternation would match everywhere).
  const regex = new RegExp(parts.length > 0 ? parts.join("|") : "(?!)", "g");
  return { regex, needles, byFirst, maxLen, starts };
}

/** The first two characters a match of `n` can begin with (any second one for 1-char needles). */
function firstPairs(n: Needle): [number, number][] {
  const codes = (atom: string | undefined): number[] => [...(atom ?? "")].map((c) => c.charCodeAt(0));
  const any = Array.from({ length: 256 }, (_, i) => i);
  const pairs: [number, number][] = [];
  for (const alt of n.units[0] ?? []) {
    const seconds =
      alt.length > 1
        ? codes(alt[1])
        : n.units.length > 1
          ? (n.units[1] ?? []).flatMap((next) => codes(next[0]))
          : any;
    for (const a of codes(alt[0])) for (const b of seconds) pairs.push([a, b]);
  }
  return pairs;
}

/** Index of the first position at or after `from` where a match could start, or -1. */
function firstStart(c: CompiledNeedles, text: string, from: number, to: number): number {
  for (let i = from; i < to; i++) {
    const next = i + 1 < text.length ? text.charCodeAt(i + 1) : -1;
    if (
      next < 0
        ? c.byFirst.has(text[i] as string)
        : c.starts[((text.charCodeAt(i) & 0xff) << 8) | (next & 0xff)]
    )
      return i;
  }
  return -1;
}

/** True when text[p..] is (a prefix of, or exactly) some match of `needle`. */
function couldMatch(needle: Needle, text: string, p: number): boolean {
  const { units } = needle;
  // NFA states packed as (unit, alternative, atoms consumed) triples; there are only a few.
  let states: number[] = [];
  for (let a = 0; a < (units[0]?.length ?? 0); a++) states.push(0, a, 0);
  for (let i = p; i < text.length; i++) {
    const ch = text[i] as string;
    const next: number[] = [];
    for (let j = 0; j < states.length; j += 3) {
      const u = states[j] as number;
      const a = states[j + 1] as number;
      const k = states[j + 2] as number;
      const alt = units[u]?.[a] as readonly string[];
      if (!alt[k]?.includes(ch)) continue;
      if (k + 1 < alt.length) pushState(next, u, a, k + 1);
      else if (u + 1 === units.length) {
        if (i === text.length - 1) return true; // a whole match ends exactly at the text's end
      } else for (let b = 0; b < (units[u + 1]?.length ?? 0); b++) pushState(next, u + 1, b, 0);
    }
    if (next.length === 0) return false;
    states = next;
  }
  return true;
}

function pushState(states: number[], u: number, a: number, k: number): void {
  for (let j = 0; j < states.length; j += 3) {
    if (states[j] === u && states[j + 1] === a && states[j + 2] === k) return;
  }
  states.push(u, a, k);
}

/** First position from which the text must wait for more bytes (text.length when none). */
export function cutPoint(c: CompiledNeedles, text: string): number {
  for (let p = Math.max(0, text.length - c.maxLen); p < text.length; p++) {
    p = firstStart(c, text, p, text.length);
    if (p < 0) break;
    const candidates = c.byFirst.get(text[p] as string);
    if (candidates) for (const n of candidates) if (couldMatch(n, text, p)) return p;
  }
  return text.length;
}

/**
 * Replaces every match starting before `cut` (all of them when `cut` is the text's length).
 * Returns the scrubbed output, how much of `text` it covers, and whether anything was replaced.
 */
export function replaceBefore(
  c: CompiledNeedles,
  text: string,
  cut: number,
): { out: string; consumed: number; replaced: boolean } {
  // The one compiled regex is reused (compiling it is the expensive part); calls never interleave.
  const re = c.regex;
  const first = firstStart(c, text, 0, cut);
  if (first < 0) return { out: text.slice(0, cut), consumed: cut, replaced: false };
  re.lastIndex = first;
  let out = "";
  let last = 0;
  for (let m = re.exec(text); m !== null && m.index < cut; m = re.exec(text)) {
    const which = m.findIndex((g, i) => i > 0 && g !== undefined) - 1;
    out += text.slice(last, m.index) + (c.needles[which] as Needle).replace(m[0]);
    last = m.index + m[0].length;
  }
  const end = Math.max(cut, last);
  return { out: out + text.slice(last, end), consumed: end, replaced: last > 0 };
}

/** Throws when `text` still holds a needle (a replacement created one). */
export function assertClean(c: CompiledNeedles, text: string): void {
  c.regex.lastIndex = 0;
  if (c.regex.test(text)) throw new ScrubError("scrubbed output still holds a secret form");
}
