/**
 * Placeholder swap and response scrubbing: the only place real secret values are revealed.
 * Untrusted: everything the agent sends (it may put placeholders anywhere, including inside Basic
 * auth) and everything upstream answers (it may echo a real value back). We swap only this agent's
 * placeholders, only for secrets the caller allowed, and replace any echoed real value with its
 * placeholder before the agent sees it, across chunk boundaries of streamed bodies.
 */
import { Transform, type TransformCallback } from "node:stream";
import type { Secret } from "./secret.js";

/** Shape of every placeholder: "wdn_" and 40 hex characters. */
export const PLACEHOLDER_PATTERN = /wdn_[0-9a-f]{40}/g;

/** One secret an exchange may use: the agent's placeholder and the real value. */
export interface Binding {
  readonly placeholder: string;
  readonly value: Secret;
}

/** Names of this agent's secrets whose placeholders appear in `texts`. */
export function findPlaceholders(
  texts: readonly string[],
  placeholders: ReadonlyMap<string, string>,
): Set<string> {
  const found = new Set<string>();
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

/** Replaces echoed real values by their placeholders in a complete string (headers, buffered bodies). */
export function scrub(text: string, bindings: readonly Binding[]): string {
  let out = text;
  for (const b of bindings) {
    const real = b.value.reveal();
    if (real.length > 0 && out.includes(real)) out = out.split(real).join(b.placeholder);
  }
  return out;
}

/** Masks real values and placeholders for previews shown to humans. */
export function mask(text: string, bindings: readonly Binding[]): string {
  return scrub(text, bindings).replace(PLACEHOLDER_PATTERN, "•••");
}

/**
 * A byte stream filter that replaces real values by placeholders. It holds back only a chunk's tail
 * that could be the start of a secret, so SSE events still flow through one by one.
 */
export function createScrubber(bindings: readonly Binding[]): Transform {
  const pairs = bindings
    .map((b) => ({ real: Buffer.from(b.value.reveal()).toString("latin1"), placeholder: b.placeholder }))
    .filter((p) => p.real.length > 0);
  let carry = "";
  const replaceAll = (s: string): string => {
    let out = s;
    for (const p of pairs) if (out.includes(p.real)) out = out.split(p.real).join(p.placeholder);
    return out;
  };
  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
      const text = replaceAll(carry + chunk.toString("latin1"));
      const keep = heldTail(text, pairs);
      carry = text.slice(text.length - keep);
      done(null, Buffer.from(text.slice(0, text.length - keep), "latin1"));
    },
    flush(done: TransformCallback): void {
      done(null, carry.length > 0 ? Buffer.from(replaceAll(carry), "latin1") : undefined);
    },
  });
}

/** Length of the longest suffix of `text` that is a proper prefix of some real value. */
function heldTail(text: string, pairs: readonly { real: string }[]): number {
  let best = 0;
  for (const { real } of pairs) {
    for (let n = Math.min(real.length - 1, text.length); n > best; n--) {
      if (text.endsWith(real.slice(0, n))) {
        best = n;
        break;
      }
    }
  }
  return best;
}
