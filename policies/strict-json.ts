/**
 * JSON as every upstream reads it, or a reason it might not. Untrusted: the whole text (an agent's
 * request body). `JSON.parse` gives the RFC 8259 grammar; on top we refuse what parsers disagree
 * on, because a body rule must read what the upstream reads: duplicate keys in one object (first
 * wins in some parsers, last in others), strings with lone surrogates (replaced, dropped or kept
 * depending on the parser) and nesting deeper than any real API body. Pure: no I/O.
 */

/** Deeper than this is refused: no real request nests this far, and rendering recurses. */
export const MAX_JSON_DEPTH = 200;

// A high surrogate not followed by a low one, or a low one not preceded by a high one.
const LONE_SURROGATE_RE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export type StrictJson = { ok: true; value: unknown } | { ok: false; why: string };

/** Parses `text` as JSON, refusing anything two JSON parsers could read differently. */
export function parseJsonStrict(text: string): StrictJson {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, why: "not JSON" };
  }
  const problem = scan(text);
  return problem === undefined ? { ok: true, value } : { ok: false, why: problem };
}

interface Frame {
  readonly keys?: Set<string>; // present for objects
  expectKey: boolean;
}

/**
 * Walks already-valid JSON once: per object, the set of its (decoded) keys; every string is
 * checked for lone surrogates. Strings are decoded with `JSON.parse` on their own token, so
 * `"a"` and `"\u0061"` are the same key.
 */
function scan(text: string): string | undefined {
  const stack: Frame[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    const top = stack[stack.length - 1];
    if (c === "{" || c === "[") {
      if (stack.length >= MAX_JSON_DEPTH) return "JSON nested too deeply";
      stack.push(c === "{" ? { keys: new Set(), expectKey: true } : { expectKey: false });
    } else if (c === "}" || c === "]") {
      stack.pop();
    } else if (c === ",") {
      if (top?.keys) top.expectKey = true;
    } else if (c === '"') {
      let end = i + 1;
      while (text[end] !== '"') end += text[end] === "\\" ? 2 : 1;
      const s = JSON.parse(text.slice(i, end + 1)) as string;
      if (LONE_SURROGATE_RE.test(s)) return "JSON string with a lone surrogate";
      if (top?.keys && top.expectKey) {
        if (top.keys.has(s)) return "duplicate JSON key";
        top.keys.add(s);
        top.expectKey = false;
      }
      i = end;
    }
  }
  return undefined;
}
