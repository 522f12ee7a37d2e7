/**
 * Placeholder swap and response scrubbing: the only place real secret values are revealed.
 * Untrusted: everything the agent sends (it may put placeholders anywhere, including inside Basic
 * auth) and everything upstream answers (it may echo a real value back). We swap only this agent's
 * placeholders, only for secrets the caller allowed, and replace any echoed real value with its
 * placeholder before the agent sees it, across chunk boundaries of streamed bodies.
 */
import { Transform, type TransformCallback } from "node:stream";
import {
  assertClean,
  type CompiledNeedles,
  compileNeedles,
  cutPoint,
  replaceBefore,
} from "./scrub-engine.js";
import type { Secret } from "./secret.js";
import { base64Needles, textNeedle } from "./secret-forms.js";

/** Shape of every placeholder: "wdn_" and 40 hex characters. */
export const PLACEHOLDER_PATTERN = /wdn_[0-9a-f]{40}/g;

/** One secret an exchange may use: the agent's placeholder and the real value. */
export interface Binding {
  readonly placeholder: string;
  readonly value: Secret;
}

/**
 * Warden secrets that hold the bot's OWN platform credentials (a mailbox password, a Matrix access
 * token, the BlueBubbles password), for people who would rather not keep them in the environment.
 * Only these names are ever revealed to the chat wiring, and only here, so `reveal()` stays in this
 * file (ARCHITECTURE invariant 1). A policy could still name one for an agent's requests, like any
 * secret: owners choose where a secret may go.
 */
export const PLATFORM_SECRETS: readonly string[] = [
  "EMAIL_PASSWORD",
  "MATRIX_ACCESS_TOKEN",
  "IMESSAGE_BLUEBUBBLES_PASSWORD",
];

/** The value of a platform credential kept as a Warden secret; undefined for any other name. */
export function revealPlatformSecret(
  name: string,
  lookup: (name: string) => Secret | undefined,
): string | undefined {
  return PLATFORM_SECRETS.includes(name) ? lookup(name)?.reveal() : undefined;
}

/** Names of this agent's secrets whose placeholders appear in `texts`. */
export function findPlaceholders(
  texts: readonly string[],
  placeholders: ReadonlyMap<string, string>,
): Set<string> {
  const found = new Set<string>();
  // An agent without placeholders (no secret made for it yet) has nothing to find.
  if (placeholders.size === 0) return found;
  for (const raw of texts) {
    for (const text of [raw, ...decodedBasic(raw)]) {
      for (const m of text.matchAll(PLACEHOLDER_PATTERN)) {
        const name = placeholders.get(m[0]);
        if (name !== undefined) found.add(name);
      }
    }
  }
  return found;
}

/** Replaces every placeholder in `bindings` by its real value; Basic credentials are swapped inside. */
export function swap(text: string, bindings: readonly Binding[]): string {
  if (bindings.length === 0) return text;
  const replace = (s: string): string => {
    let out = s;
    for (const b of bindings) out = out.split(b.placeholder).join(b.value.reveal());
    return out;
  };
  const [basic] = decodedBasic(text);
  if (basic?.includes("wdn_")) return `Basic ${Buffer.from(replace(basic)).toString("base64")}`;
  return text.includes("wdn_") ? replace(text) : text;
}

function decodedBasic(value: string): string[] {
  const m = /^basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(value);
  return m?.[1] ? [Buffer.from(m[1], "base64").toString("utf8")] : [];
}

/**
 * The needles for a binding set, compiled once per agent and secret version: keyed by placeholders
 * and values (a changed value compiles afresh; the old entry ages out), and per bindings array,
 * since one exchange scrubs many header values with the same array.
 */
const compiledCache = new Map<string, CompiledNeedles>();
const compiledByArray = new WeakMap<readonly Binding[], CompiledNeedles>();
const CACHE_ENTRIES = 256;

function compiledFor(bindings: readonly Binding[]): CompiledNeedles {
  const known = compiledByArray.get(bindings);
  if (known) return known;
  const pairs = bindings
    .map((b) => ({ real: b.value.reveal(), placeholder: b.placeholder }))
    .filter((p) => p.real.length > 0)
    // Longer values first: where two values overlap, the longer one is replaced whole.
    .sort((a, b) => b.real.length - a.real.length || (a.real < b.real ? -1 : 1));
  // A plain string key: hashing it costs more than the Map's own string hash.
  const key = pairs.map((p) => `${p.placeholder}\u0000${p.real}`).join("\u0000");
  let c = compiledCache.get(key);
  if (c) {
    compiledCache.delete(key); // re-insert: the Map's order is the LRU order
  } else {
    c = compileNeedles(
      pairs.flatMap((p) => [
        textNeedle(p.real, p.placeholder),
        ...(Buffer.byteLength(p.real) === p.real.length ? [] : [textNeedle(p.real, p.placeholder, "latin1")]),
        ...base64Needles(Buffer.from(p.real, "utf8"), p.placeholder),
      ]),
    );
    if (compiledCache.size >= CACHE_ENTRIES)
      compiledCache.delete(compiledCache.keys().next().value as string);
  }
  compiledCache.set(key, c);
  compiledByArray.set(bindings, c);
  return c;
}

/**
 * Replaces echoed real values (every form in secret-forms.ts) by their placeholders in a complete
 * byte string (header values, reason phrases, close reasons). A result that would still hold a
 * form after three rounds is dropped whole: fail closed.
 */
export function scrub(text: string, bindings: readonly Binding[]): string {
  if (bindings.length === 0 || text.length === 0) return text;
  const c = compiledFor(bindings);
  let out = text;
  for (let round = 0; round < 3; round++) {
    const r = replaceBefore(c, out, out.length);
    if (!r.replaced) return out;
    out = r.out;
  }
  c.regex.lastIndex = 0;
  return c.regex.test(out) ? "" : out;
}

/** Scrubs a complete message given as bytes (WebSocket messages, close reasons, pings). */
export function scrubBytes(bytes: Buffer, bindings: readonly Binding[]): Buffer {
  if (bindings.length === 0 || bytes.length === 0) return bytes;
  const text = bytes.toString("latin1");
  const out = scrub(text, bindings);
  return out === text ? bytes : Buffer.from(out, "latin1");
}

/** Masks real values and placeholders for previews shown to humans (`text` is decoded UTF-8). */
export function mask(text: string, bindings: readonly Binding[]): string {
  const bytes = Buffer.from(text, "utf8").toString("latin1");
  return Buffer.from(scrub(bytes, bindings), "latin1").toString("utf8").replace(PLACEHOLDER_PATTERN, "•••");
}

/**
 * A byte stream filter that replaces real values by placeholders. It holds back only a chunk's tail
 * that could still grow into a match, so SSE events still flow through one by one. When scrubbed
 * output would still hold a form (see scrub-engine.ts), the stream fails instead.
 */
export function createScrubber(bindings: readonly Binding[]): Transform {
  const c = compiledFor(bindings);
  let carry = "";
  let emittedTail = "";
  // Characters emitted since the last replacement: a needle a replacement created ends within
  // maxLen characters of it, possibly chunks later, so the check runs until then.
  let quiet = Number.POSITIVE_INFINITY;
  const emit = (text: string, final: boolean): Buffer => {
    const r = replaceBefore(c, text, final ? text.length : cutPoint(c, text));
    carry = text.slice(r.consumed);
    if (r.replaced || quiet < c.maxLen) assertClean(c, emittedTail + r.out);
    quiet = r.replaced ? 0 : quiet + r.out.length;
    // Only the tail is kept: slicing a large concatenation would copy the whole chunk again.
    emittedTail = r.out.length >= c.maxLen ? r.out.slice(-c.maxLen) : (emittedTail + r.out).slice(-c.maxLen);
    return Buffer.from(r.out, "latin1");
  };
  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
      try {
        done(null, emit(carry + chunk.toString("latin1"), false));
      } catch (err) {
        done(err as Error);
      }
    },
    flush(done: TransformCallback): void {
      try {
        done(null, carry.length > 0 ? emit(carry, true) : undefined);
      } catch (err) {
        done(err as Error);
      }
    },
  });
}
