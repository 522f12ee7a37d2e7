/**
 * Method overrides (DESIGN §3.1): the second methods a request names, and the strictest verdict
 * over all of them.
 *
 * Untrusted: headers, query and body, all from the agent. Many frameworks (Rails, Laravel,
 * Symfony, Express method-override, Google APIs, ASP.NET) let `X-HTTP-Method-Override`,
 * `X-HTTP-Method`, `X-Method-Override` or a `_method` parameter turn a POST into a DELETE, so an
 * allowed POST could become a denied DELETE upstream. We collect every method named anywhere a
 * framework looks (any header case, repeated headers, comma lists, `_method` in the query, in a
 * form body, or at the top of a JSON body), and the caller evaluates the policy for each of them
 * and for the real method; the strictest verdict applies (deny > approve > allow).
 *
 * A value that is not an HTTP method token (`DEL ETE`, `DELETE\0`, empty) is refused as
 * `bad_request` rather than evaluated: no policy can name it, and frameworks disagree on how they
 * trim, split or reject it, so we cannot know which method the upstream would run. Pure: no I/O.
 */

import type { CanonicalBody } from "./canonical-body.js";
import { normalizeMethod } from "./normalize.js";
import type { Decision } from "./types.js";

/** One second method: `{ via: "X-HTTP-Method-Override header", method: "DELETE" }`. */
export interface MethodOverride {
  readonly via: string;
  readonly method: string;
}

export type OverrideResult =
  | { readonly ok: true; readonly overrides: readonly MethodOverride[] }
  | { readonly ok: false; readonly message: string };

const OVERRIDE_HEADERS: Readonly<Record<string, string>> = {
  "x-http-method-override": "X-HTTP-Method-Override header",
  "x-http-method": "X-HTTP-Method header",
  "x-method-override": "X-Method-Override header",
};

/**
 * Finds every method override a request carries.
 * @param headers end-to-end header pairs as sent (names in any case).
 * @param query the raw query string without `?` (may be "").
 * @param body the canonical body when the gateway buffered it.
 * @param raw the body bytes as sent, when buffered: an unreadable body (multipart, …) that
 *   mentions `_method` is refused, since frameworks read `_method` from multipart forms too.
 */
export function methodOverrides(
  headers: readonly (readonly [string, string])[],
  query: string,
  body?: CanonicalBody,
  raw?: Uint8Array,
): OverrideResult {
  const found: MethodOverride[] = [];
  const add = (via: string, raw: string): string | undefined => {
    const method = normalizeMethod(raw.trim());
    if (method === undefined) return `${via} does not name an HTTP method`;
    if (!found.some((o) => o.via === via && o.method === method)) found.push({ via, method });
    return undefined;
  };
  for (const [name, value] of headers) {
    const via = OVERRIDE_HEADERS[name.toLowerCase()];
    if (via === undefined) continue;
    // Comma lists: some frameworks take the first element, some the last, some the whole value.
    for (const part of value.split(",")) {
      const problem = add(via, part);
      if (problem) return { ok: false, message: problem };
    }
  }
  for (const value of methodParams(query)) {
    if (value === undefined) return { ok: false, message: "_method query parameter is not decodable" };
    const problem = add("_method query parameter", value);
    if (problem) return { ok: false, message: problem };
  }
  if (
    body?.kind === "unreadable" &&
    raw !== undefined &&
    /_method/i.test(new TextDecoder("latin1").decode(raw))
  )
    return { ok: false, message: "an unreadable body names _method" };
  for (const value of bodyMethods(body)) {
    if (typeof value !== "string") return { ok: false, message: "_method in the body is not a method" };
    const problem = add("_method in the body", value);
    if (problem) return { ok: false, message: problem };
  }
  return { ok: true, overrides: found };
}

/**
 * Values of `_method` in a raw query. Split on `&` and `;` (some servers split on both), keys
 * percent-decoded and compared case-insensitively; undefined marks a value we cannot decode.
 */
function methodParams(query: string): (string | undefined)[] {
  const out: (string | undefined)[] = [];
  for (const part of query.split(/[&;]/)) {
    const eq = part.indexOf("=");
    const key = decode(eq < 0 ? part : part.slice(0, eq));
    if (key === undefined) {
      // An undecodable key might still be read as `_method` by a lenient server.
      if (/_method/i.test(part)) out.push(undefined);
      continue;
    }
    if (key.trim().toLowerCase() === "_method") out.push(decode(eq < 0 ? "" : part.slice(eq + 1)));
  }
  return out;
}

/** `_method` in a form body, or a top-level `_method` member of a JSON object body. */
function bodyMethods(body: CanonicalBody | undefined): unknown[] {
  if (body?.kind !== "readable") return [];
  if (body.form) return body.form.filter(([k]) => k.trim().toLowerCase() === "_method").map(([, v]) => v);
  const json = body.json;
  if (json === null || typeof json !== "object" || Array.isArray(json)) return [];
  return Object.entries(json)
    .filter(([k]) => k.trim().toLowerCase() === "_method")
    .map(([, v]) => v);
}

function decode(s: string): string | undefined {
  try {
    return decodeURIComponent(s.replaceAll("+", " "));
  } catch {
    return undefined;
  }
}

const RANK = { allow: 0, approve: 1, deny: 2 } as const;

/**
 * The strictest of several decisions: deny > approve > allow; between approvals, the one that
 * needs more approvers. Ties keep the earlier decision (callers list the real method first).
 */
export function strictest(decisions: readonly Decision[]): Decision {
  let best = decisions[0];
  if (best === undefined) throw new Error("strictest() needs at least one decision");
  for (const d of decisions.slice(1)) {
    const more = RANK[d.verdict] - RANK[best.verdict];
    const needsMore = d.verdict === "approve" && best.verdict === "approve" && d.approvals > best.approvals;
    if (more > 0 || needsMore) best = d;
  }
  return best;
}
