/**
 * Path globs from policy rules (`/v1/charges/*`, `/calendar/**`) compiled to matchers over the
 * decoded segments `splitPath` produces.
 *
 * `*` is exactly one non-empty segment, `**` any number of segments including none. Any other
 * use of `*` inside a segment (`/foo*`) is rejected rather than guessed at. Literal segments are
 * percent-decoded exactly like request paths and compared ASCII-case-insensitively: many upstreams
 * route `/MERGE` like `/merge`, and a case change must not let a request slip past an approve or
 * deny rule. The price is that an allow rule also covers case variants of its literal segments.
 */

import { splitPath } from "./split-path.js";

/** Tests the decoded segments of a request path. */
export type PathMatcher = (segments: readonly string[]) => boolean;

const STAR = Symbol("*");
const GLOBSTAR = Symbol("**");
type Token = typeof STAR | typeof GLOBSTAR | string;

/**
 * Compiles a path glob from a policy file.
 * @returns a matcher, or `undefined` when the pattern is malformed: not starting with `/`,
 * partial wildcards, or a literal segment `splitPath` would call ambiguous (`..`, `%2f`, `//`…).
 */
export function compileGlob(pattern: string): PathMatcher | undefined {
  const tokens = parseGlob(pattern);
  if (tokens === undefined) return undefined;
  return function matchGlob(segments: readonly string[]): boolean {
    return matchTokens(tokens, segments.map(asciiLower));
  };
}

function parseGlob(pattern: string): Token[] | undefined {
  if (!pattern.startsWith("/")) return undefined;
  const raw = pattern.slice(1).split("/");
  // Same trailing-slash rule as splitPath: "/a/" is "/a".
  if (raw[raw.length - 1] === "") raw.pop();
  const tokens: Token[] = [];
  for (const segment of raw) {
    if (segment === "*") tokens.push(STAR);
    else if (segment === "**") tokens.push(GLOBSTAR);
    else if (segment.includes("*")) return undefined;
    else {
      // Reuse the request-side decoder so a literal means exactly what a request segment means.
      const decoded = splitPath(`/${segment}`);
      if (decoded?.length !== 1 || decoded[0] === undefined) return undefined;
      tokens.push(asciiLower(decoded[0]));
    }
  }
  return tokens;
}

/**
 * Segment-level glob match by dynamic programming: O(tokens × segments), so a pattern with
 * several `**` cannot be made to backtrack exponentially by a long hostile path.
 */
function matchTokens(tokens: readonly Token[], segments: readonly string[]): boolean {
  // row[j]: the tokens seen so far match the first j segments.
  let row: boolean[] = segments.map(() => false);
  row.unshift(true);
  for (const token of tokens) {
    const next: boolean[] = [token === GLOBSTAR && row[0] === true];
    for (let j = 1; j <= segments.length; j++) {
      const segment = segments[j - 1] ?? "";
      if (token === GLOBSTAR) next.push(row[j] === true || next[j - 1] === true);
      else if (token === STAR) next.push(row[j - 1] === true && segment !== "");
      else next.push(row[j - 1] === true && segment === token);
    }
    row = next;
  }
  return row[segments.length] === true;
}

/** Lowercases A–Z only, so no non-ASCII character can fold into an ASCII literal. */
function asciiLower(text: string): string {
  return text.replace(/[A-Z]+/g, (run) => run.toLowerCase());
}
