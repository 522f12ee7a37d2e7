/**
 * Header hygiene for both directions. Hop-by-hop headers (RFC 9110 §7.6.1, plus every name the
 * sender listed in `Connection`) describe one connection and must not cross the proxy; the agent's
 * proxy credentials and its stated reason are for Warden only and never reach upstream.
 */

const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authorization",
  "proxy-authenticate",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

/** Headers the agent sends for Warden itself. */
const WARDEN_ONLY = new Set(["x-warden-reason"]);

/** A flat list of name/value pairs, as in `IncomingMessage.rawHeaders` (names keep their case). */
export type HeaderPairs = [name: string, value: string][];

/** Pairs from Node's raw header array. */
export function pairsOf(raw: readonly string[]): HeaderPairs {
  const out: HeaderPairs = [];
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i] as string, raw[i + 1] as string]);
  return out;
}

/** Drops hop-by-hop headers, those named in `Connection`, and Warden's own request headers. */
export function endToEnd(pairs: HeaderPairs, keep: ReadonlySet<string> = new Set()): HeaderPairs {
  const named = new Set<string>();
  for (const [n, v] of pairs) {
    if (n.toLowerCase() === "connection") for (const t of v.split(",")) named.add(t.trim().toLowerCase());
  }
  return pairs.filter(([n]) => {
    const l = n.toLowerCase();
    if (keep.has(l)) return true;
    return !HOP_BY_HOP.has(l) && !WARDEN_ONLY.has(l) && !named.has(l);
  });
}

/** Sets (replacing every case variant) or removes one header. */
export function setHeader(pairs: HeaderPairs, name: string, value: string | undefined): HeaderPairs {
  const l = name.toLowerCase();
  const out = pairs.filter(([n]) => n.toLowerCase() !== l);
  if (value !== undefined) out.push([name, value]);
  return out;
}

/** First value of a header, case-insensitively. */
export function getHeader(pairs: HeaderPairs, name: string): string | undefined {
  const l = name.toLowerCase();
  return pairs.find(([n]) => n.toLowerCase() === l)?.[1];
}

/** Node's flat array form for `http.request({ headers })` and `writeHead`. */
export function flat(pairs: HeaderPairs): string[] {
  return pairs.flat();
}
