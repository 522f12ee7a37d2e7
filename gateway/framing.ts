/**
 * Request framing checks (DESIGN §3.1 "Framing", "Upgrades"). Pure functions over the request line
 * and the raw header list exactly as the agent sent them (untrusted, every byte). A request whose
 * framing two HTTP parsers could read differently is refused before anything else looks at it, and
 * the framing the gateway will use upstream is decided here once, so a body never travels without
 * explicit framing set by the gateway.
 */
import type { HeaderPairs } from "./headers.js";

/** How the request body is framed, as the gateway will frame it upstream. */
export type BodyFraming =
  | { readonly kind: "none" }
  | { readonly kind: "length"; readonly length: number }
  | { readonly kind: "chunked" };

export type FramingVerdict =
  | { readonly ok: true; readonly body: BodyFraming }
  | { readonly ok: false; readonly reason: string };

/**
 * Headers that `Connection` may not name: dropping them as hop-by-hop would change how upstream
 * frames or interprets the body, or where the request goes, after the gateway has checked it.
 */
const PROTECTED = new Set([
  "content-length",
  "transfer-encoding",
  "host",
  "content-encoding",
  "content-type",
]);

/** The headers whose values the checks below read. */
const FRAMING_HEADERS = new Set(["connection", "host", "content-length", "transfer-encoding"]);

const DIGITS = /^[0-9]{1,15}$/;
/** Real clients send a few dozen headers; more is an attempt to hide one or to burn memory. */
export const MAX_HEADERS = 100;

/** Checks the framing of one request head; `version` is e.g. "1.1". */
export function checkFraming(method: string, version: string, raw: HeaderPairs): FramingVerdict {
  const refuse = (reason: string): FramingVerdict => ({ ok: false, reason });
  if (method === "PRI") return refuse("HTTP/2 preface is not accepted");
  if (raw.length > MAX_HEADERS) return refuse(`more than ${MAX_HEADERS} headers`);

  // One pass over the head (this runs on every request): each header is checked, and the values
  // of the headers that decide framing are collected for the checks below.
  const framingValues = new Map<string, string[]>();
  for (const [n, v] of raw) {
    // llhttp already refuses most of these; checked again so no other parser can disagree.
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(n)) return refuse("malformed header name");
    if (/[\0\r\n]/.test(v)) return refuse(`header ${n.toLowerCase()} holds a control character`);
    const l = n.toLowerCase();
    if (FRAMING_HEADERS.has(l)) framingValues.set(l, [...(framingValues.get(l) ?? []), v]);
  }
  const values = (name: string): readonly string[] => framingValues.get(name) ?? [];

  for (const v of values("connection")) {
    for (const token of v.split(",")) {
      const t = token.trim().toLowerCase();
      if (PROTECTED.has(t)) return refuse(`Connection may not name ${t}`);
    }
  }
  if (values("host").length > 1) return refuse("several Host headers");

  const lengths = values("content-length");
  const encodings = values("transfer-encoding");
  if (lengths.length > 0 && encodings.length > 0)
    return refuse("Content-Length together with Transfer-Encoding");
  if (lengths.length > 1) return refuse("several Content-Length headers");
  if (encodings.length > 1) return refuse("several Transfer-Encoding headers");

  const length = lengths[0];
  if (length !== undefined) {
    if (!DIGITS.test(length)) return refuse("Content-Length is not one decimal number");
    const n = Number(length);
    return { ok: true, body: n === 0 ? { kind: "none" } : { kind: "length", length: n } };
  }
  const encoding = encodings[0];
  if (encoding !== undefined) {
    if (version !== "1.1") return refuse("Transfer-Encoding needs HTTP/1.1");
    // Exactly `chunked`: any other coding, list, or case variant is read differently by someone.
    if (encoding !== "chunked") return refuse("Transfer-Encoding other than chunked");
    return { ok: true, body: { kind: "chunked" } };
  }
  return { ok: true, body: { kind: "none" } };
}

/** Whether a request asks for a protocol upgrade at all (then `checkUpgrade` decides). */
export function wantsUpgrade(raw: HeaderPairs): boolean {
  return raw.some(([n]) => n.toLowerCase() === "upgrade");
}

/**
 * Only a WebSocket handshake may upgrade: GET, HTTP/1.1, `Upgrade: websocket` as the only token,
 * `Connection` naming upgrade, one `Sec-WebSocket-Key` and one `Sec-WebSocket-Version`, no body.
 */
export function checkUpgrade(method: string, version: string, raw: HeaderPairs): string | undefined {
  const values = (name: string): string[] => raw.filter(([n]) => n.toLowerCase() === name).map(([, v]) => v);
  const upgrade = values("upgrade");
  if (upgrade.length !== 1 || upgrade[0]?.trim().toLowerCase() !== "websocket")
    return "only Upgrade: websocket is proxied";
  if (method !== "GET") return "a WebSocket handshake must be GET";
  if (version !== "1.1") return "a WebSocket handshake needs HTTP/1.1";
  const connection = values("connection").flatMap((v) => v.split(",").map((t) => t.trim().toLowerCase()));
  if (!connection.includes("upgrade")) return "Connection must name upgrade";
  const key = values("sec-websocket-key");
  if (key.length !== 1 || !/^[A-Za-z0-9+/]{22}==$/.test(key[0] ?? ""))
    return "one valid Sec-WebSocket-Key is required";
  const ver = values("sec-websocket-version");
  if (ver.length !== 1 || !/^[0-9]{1,3}$/.test(ver[0] ?? "")) return "one Sec-WebSocket-Version is required";
  if (values("content-length").some((v) => v !== "0") || values("transfer-encoding").length > 0)
    return "a WebSocket handshake carries no body";
  return undefined;
}
