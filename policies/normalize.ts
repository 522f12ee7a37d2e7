/**
 * Host and method normalisation.
 *
 * Threat model: the host and method come from a hostile agent, and whatever string we match a
 * policy against must be the same host the gateway connects to. We accept only what real clients
 * send: lowercase-able ASCII hostnames (letters, digits, `-`, `.`), at most one trailing dot, or a
 * strict dotted-quad IPv4 literal. We reject userinfo (`@`), ports (`:`), brackets (IPv6 literals
 * are not supported: no policy can name them, so they fail closed), percent-escapes, empty labels,
 * numeric-looking names such as `0x7f000001` or `127.1` that resolvers read as IP addresses, and
 * any non-ASCII character, checked BEFORE lowercasing because `toLowerCase` folds e.g. U+212A
 * KELVIN SIGN into ASCII `k`. Methods must be RFC 9110 tokens and are uppercased.
 */

export { splitPath } from "./split-path.js";

const HOST_CHARS_RE = /^[A-Za-z0-9.-]+$/;
const LABEL_RE = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const IPV4_OCTET_RE = /^(?:0|[1-9][0-9]{0,2})$/;
// Last labels that inet_aton-style resolvers would read as a number rather than a name.
const NUMERIC_LABEL_RE = /^(?:[0-9]+|0x[0-9a-f]*)$/;
// RFC 9110 `token`; 32 chars is far longer than any real method.
const METHOD_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}$/;

/**
 * Normalises a request host for policy matching: lowercase, one trailing dot stripped.
 * @returns the normalised host, or `undefined` when it is not a name we accept (see file header).
 */
export function normalizeHost(raw: string): string | undefined {
  // Check the raw string first: lowercasing non-ASCII can produce ASCII look-alikes.
  if (raw.length > 254 || !HOST_CHARS_RE.test(raw)) return undefined;
  let host = raw.toLowerCase();
  // DNS treats "a.com." and "a.com" as the same name, so one trailing dot folds; two is garbage.
  if (host.endsWith(".")) host = host.slice(0, -1);
  if (host.length === 0 || host.length > 253) return undefined;
  const labels = host.split(".");
  if (!labels.every((label) => LABEL_RE.test(label))) return undefined;
  const last = labels[labels.length - 1] ?? "";
  if (NUMERIC_LABEL_RE.test(last) && !isDottedQuad(labels)) return undefined;
  return host;
}

/**
 * Validates and lowercases a host pattern from a policy file: an exact host (see `normalizeHost`,
 * but no trailing dot) or `*.` followed by such a host. IP literals can only be named exactly.
 * @returns the lowercased pattern, or `undefined` when it is not a pattern we accept.
 */
export function normalizeHostPattern(raw: string): string | undefined {
  // A policy author never needs the trailing-dot form; refusing it keeps patterns canonical.
  if (raw.endsWith(".")) return undefined;
  const wildcard = raw.startsWith("*.");
  const host = normalizeHost(wildcard ? raw.slice(2) : raw);
  if (host === undefined) return undefined;
  // "*.0.0.1" would match IP literals by suffix; addresses must be listed one by one.
  if (wildcard && isDottedQuad(host.split("."))) return undefined;
  return wildcard ? `*.${host}` : host;
}

/**
 * Checks whether an already-normalised host matches a normalised pattern. `*.example.com`
 * matches `a.example.com` and `a.b.example.com`, never `example.com` or `badexample.com`.
 */
export function hostMatches(pattern: string, host: string): boolean {
  if (!pattern.startsWith("*.")) return pattern === host;
  // Keep the leading dot of the suffix so "badexample.com" cannot match "*.example.com".
  const suffix = pattern.slice(1);
  return host.length > suffix.length && host.endsWith(suffix) && !isDottedQuad(host.split("."));
}

/**
 * Validates an HTTP method (RFC 9110 token) and uppercases it.
 * @returns the uppercased method, or `undefined` when it is not a token.
 */
export function normalizeMethod(raw: string): string | undefined {
  // Test before uppercasing: "ſ" (U+017F) uppercases to ASCII "S".
  return METHOD_RE.test(raw) ? raw.toUpperCase() : undefined;
}

function isDottedQuad(labels: readonly string[]): boolean {
  return labels.length === 4 && labels.every((label) => IPV4_OCTET_RE.test(label) && Number(label) <= 255);
}
