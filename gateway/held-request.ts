/**
 * What an approval is bound to and what the humans deciding it are shown. Untrusted: the whole
 * request (method, URL, every header, body) comes from the agent. Pure: no I/O.
 *
 * Fingerprint = sha256 of JSON [agent, method, URL, headers digest, body digest]. The headers digest
 * covers the end-to-end headers as the agent sent them (placeholders, not real values), after
 * hop-by-hop removal, canonicalised as: names lowercased; values byte for byte (case kept); headers
 * stably sorted by name, so the order of repeated headers is kept and counted. Excluded are only the
 * headers the gateway itself replaces before forwarding: Host (set from the URL) and Content-Length
 * (recomputed from the body, which the body digest covers). `x-warden-reason` and Proxy-* never get
 * here (hop-by-hop / Warden's own). A request differing in any other header is another request.
 */
import { isUtf8 } from "node:buffer";
import { createHash } from "node:crypto";
import { bodyDigest } from "./held-bodies.js";
import { type Binding, mask, PLACEHOLDER_PATTERN, scrub } from "./inject.js";
import { prettyJson } from "./pretty-json.js";

/** Pairs as sent (names keep their case). */
type Pairs = readonly (readonly [string, string])[];

/** Characters of the masked body a card shows. */
export const PREVIEW_CHARS = 2000;

/** Headers the gateway sets itself before forwarding: not part of what the agent chose. */
const GATEWAY_SET = new Set(["host", "content-length"]);

export interface HeldInput {
  readonly agent: string;
  readonly method: string;
  readonly url: string;
  /** Path and query as sent (for placements). */
  /** End-to-end headers as sent: placeholders, never real values. */
  readonly headers: Pairs;
  readonly body: Buffer;
  /** This agent's placeholder → secret name. */
  readonly placeholders: ReadonlyMap<string, string>;
  /** Real values that must not show (masked back to placeholders first). */
  readonly bindings: readonly Binding[];
}

export interface HeldFacts {
  readonly fingerprint: string;
  readonly bodyDigest: string;
  readonly bodyBytes: number;
  readonly bodyPreview: string;
  readonly bodyHidden: number;
  readonly contentType: string | null;
  readonly contentEncoding: string | null;
  /** Headers for the full-request page, secrets named, never shown. */
  readonly headers: [string, string][];
}

/** Digest of the canonical end-to-end headers (see the header comment for the rules). */
export function headersDigest(headers: Pairs): string {
  const canon = headers
    .map(([n, v]) => [n.toLowerCase(), v] as const)
    .filter(([n]) => !GATEWAY_SET.has(n))
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)); // Array#sort is stable
  return createHash("sha256").update(JSON.stringify(canon)).digest("hex");
}

/** The fingerprint an approval is bound to. */
export function fingerprint(agent: string, method: string, url: string, headers: Pairs, digest: string) {
  return createHash("sha256")
    .update(JSON.stringify([agent, method, url, headersDigest(headers), digest]))
    .digest("hex");
}

/** Everything the approval records about a held request. */
export function describeHeld(h: HeldInput): HeldFacts {
  const digest = bodyDigest(h.body);
  const contentType = header(h.headers, "content-type");
  const contentEncoding = header(h.headers, "content-encoding");
  const { text, described } = previewText(h.body, contentType, contentEncoding, h.bindings);
  const bodyPreview = text.slice(0, PREVIEW_CHARS);
  return {
    fingerprint: fingerprint(h.agent, h.method, h.url, h.headers, digest),
    bodyDigest: digest,
    bodyBytes: h.body.length,
    bodyPreview,
    bodyHidden: described ? h.body.length : text.length - bodyPreview.length,
    contentType: contentType === undefined ? null : nameSecrets(contentType, h.placeholders, h.bindings),
    contentEncoding:
      contentEncoding === undefined ? null : nameSecrets(contentEncoding, h.placeholders, h.bindings),
    headers: h.headers.map(([n, v]) => [n, nameSecrets(v, h.placeholders, h.bindings)]),
  };
}

/** Replaces real values and placeholders by `[secret NAME]` (Basic credentials decoded first). */
export function nameSecrets(
  text: string,
  placeholders: ReadonlyMap<string, string>,
  bindings: readonly Binding[],
): string {
  const named = (s: string): string =>
    scrub(s, bindings).replace(PLACEHOLDER_PATTERN, (p) => `[secret ${placeholders.get(p) ?? "unknown"}]`);
  const basic = /^(basic\s+)([A-Za-z0-9+/=]+)\s*$/i.exec(text);
  if (basic?.[1] && basic[2]) {
    const decoded = Buffer.from(basic[2], "base64").toString("latin1");
    const shown = named(decoded);
    if (shown !== decoded) return `${basic[1]}base64(${shown})`;
  }
  return named(text);
}

const TEXTUAL =
  /^(text\/|application\/(json|xml|x-www-form-urlencoded|javascript|[a-z0-9.+-]*\+(json|xml)))/i;
const JSON_TYPE = /^application\/([a-z0-9.+-]*\+)?json\b/i;

/** Masked, pretty-printed text; non-text bodies are described, never shown (all their bytes hidden). */
function previewText(
  body: Buffer,
  type: string | undefined,
  enc: string | undefined,
  b: readonly Binding[],
): { text: string; described: boolean } {
  if (body.length === 0) return { text: "", described: false };
  const charset = /;\s*charset="?([^";\s]+)/i.exec(type ?? "")?.[1]?.toLowerCase();
  const readable =
    (!enc || enc.toLowerCase() === "identity") &&
    (type === undefined || TEXTUAL.test(type)) &&
    (charset === undefined || charset === "utf-8" || charset === "utf8" || charset === "us-ascii") &&
    isUtf8(body);
  if (!readable) {
    const what = [
      type ?? "no declared type",
      enc && enc.toLowerCase() !== "identity" ? `${enc}-encoded` : "",
    ];
    return { text: `${body.length} bytes of ${what.filter(Boolean).join(", ")}, not shown`, described: true };
  }
  const raw = body.toString("utf8");
  const pretty = type !== undefined && JSON_TYPE.test(type) ? (prettyJson(raw) ?? raw) : raw;
  return { text: mask(pretty, b), described: false };
}

function header(pairs: Pairs, name: string): string | undefined {
  return pairs.find(([n]) => n.toLowerCase() === name)?.[1];
}

/** `GET /v1/approvals/{id}/request`: the whole held request, every secret named, none shown. */
export interface HeldRequestView {
  readonly id: string;
  readonly method: string;
  readonly url: string;
  readonly headers: readonly (readonly [string, string])[];
  /** null once the approval is settled (its body is deleted then) or for rows older than this field. */
  readonly body: string | null;
  readonly bodyEncoding: "utf8" | "base64" | null;
  readonly bodyBytes: number;
}

/** The full-request view of a held approval (`body` as `approvals.held()` returns it). */
export function heldRequestView(
  rec: {
    readonly id: string;
    readonly method: string;
    readonly url: string;
    readonly headers?: readonly (readonly [string, string])[];
    readonly bodyBytes?: number;
  },
  body: Buffer | null,
  placeholders: ReadonlyMap<string, string>,
  bindings: readonly Binding[],
): HeldRequestView {
  const name = (s: string): string => nameSecrets(s, placeholders, bindings);
  let shown: string | null = null;
  let bodyEncoding: HeldRequestView["bodyEncoding"] = null;
  if (body) {
    const utf8 = isUtf8(body);
    const text = name(body.toString(utf8 ? "utf8" : "latin1"));
    shown = utf8 ? text : Buffer.from(text, "latin1").toString("base64");
    bodyEncoding = utf8 ? "utf8" : "base64";
  }
  return {
    id: rec.id,
    method: rec.method,
    url: name(rec.url),
    // Stored already named; named again in case a secret was set after the request was held.
    headers: (rec.headers ?? []).map(([n, v]) => [n, name(v)] as const),
    body: shown,
    bodyEncoding,
    bodyBytes: rec.bodyBytes ?? body?.length ?? 0,
  };
}
