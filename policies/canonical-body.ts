/**
 * Canonical body: raw request bytes → the text an upstream would act on, or "unreadable".
 *
 * Untrusted: the bytes, the Content-Type and the Content-Encoding all come from the (hostile)
 * agent. A body rule must read what the upstream reads, so we decode the way upstreams do (JSON
 * string escapes, form percent-encoding, declared charsets) and give up (`unreadable`) whenever
 * an upstream could plausibly read the bytes two ways: invalid JSON for a JSON type, duplicate
 * JSON keys, lone surrogates, unknown charsets, invalid bytes, multipart, any Content-Encoding.
 * Deny and approve rules match an unreadable body; allow rules never do (see `evaluate.ts`).
 *
 * A readable body has one or more `readings`. Rules that ask (deny/approve) match when ANY reading
 * contains a needle; rules that let through (allow) only when EVERY reading does. Readings are:
 * the decoded text as an upstream sees it (lowercased), and the same text folded for look-alikes
 * (NFKC, full case folding, default-ignorable code points removed) so `ｍutation` or `mu\u00ADtation`
 * cannot slip past a deny rule, while an allow rule still needs the needle in the literal text.
 * Pure: no I/O.
 */

import { parseJsonStrict } from "./strict-json.js";

/** What a body means to an upstream, as far as we can tell. */
export type CanonicalBody =
  | { readonly kind: "empty" }
  | { readonly kind: "unreadable"; readonly why: string }
  | {
      readonly kind: "readable";
      /** Lowercase media type without parameters, "" when absent. */
      readonly mediaType: string;
      /** Decoded text (JSON: compact rendering with escapes decoded). */
      readonly text: string;
      /** Texts to match needles against; see the file header. */
      readonly readings: readonly string[];
      /** The parsed JSON value when the body was read as JSON. */
      readonly json?: unknown;
      /** Percent-decoded `[key, value]` pairs when the body was read as a form. */
      readonly form?: readonly (readonly [string, string])[];
    };

const JSON_TYPE_RE = /^application\/(?:json|[a-z0-9.!#$&^_-]+\+json)$/;
const TEXT_TYPE_RE =
  /^(?:text\/[a-z0-9.+-]+|application\/(?:xml|[a-z0-9.!#$&^_-]+\+xml|graphql|javascript|yaml|x-yaml|x-ndjson))$/;
const FORM_TYPE = "application/x-www-form-urlencoded";
const MARKUP_TYPE_RE = /^(?:text\/(?:xml|html)|application\/(?:xml|xhtml\+xml|[a-z0-9.!#$&^_-]+\+xml))$/;
const XML_ENTITIES: Readonly<Record<string, string>> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };
// Code points a reader does not see (soft hyphen, zero-width joiners, variation selectors, …).
const INVISIBLE_RE = /\p{Default_Ignorable_Code_Point}/gu;

/**
 * Reads a body the way an upstream would.
 * @param bytes the body exactly as the agent sent it.
 * @param contentType the Content-Type header (undefined when absent; a list when sent repeatedly).
 * @param contentEncoding the Content-Encoding header (likewise).
 */
export function canonicalBody(
  bytes: Uint8Array,
  contentType: string | readonly string[] | undefined,
  contentEncoding: string | readonly string[] | undefined,
): CanonicalBody {
  if (bytes.length === 0) return { kind: "empty" };
  // Two Content-Types (or encodings): the upstream may pick either one.
  const typeHeader = single(contentType);
  const encodingHeader = single(contentEncoding);
  if (typeHeader === null) return unreadable("several content-type headers");
  if (encodingHeader === null) return unreadable("several content-encoding headers");
  const encoding = (encodingHeader ?? "").trim().toLowerCase();
  // We do not inflate: a compressed body can hide anything, and decompression bombs are real.
  if (encoding !== "" && encoding !== "identity") return unreadable(`content-encoding ${encoding}`);
  const type = parseContentType(typeHeader);
  if (type === undefined) return unreadable("malformed content-type");
  const { mediaType, charset } = type;
  if (mediaType.startsWith("multipart/")) return unreadable("multipart body");

  const text = decodeText(
    bytes,
    charset ?? (mediaType === "" || isJsonType(mediaType) ? "utf-8" : undefined),
  );
  if (text === undefined) return unreadable(charset ? `not valid ${charset}` : "not text");

  if (isJsonType(mediaType)) {
    const json = parseJsonStrict(text);
    return json.ok ? readable(mediaType, renderJson(json.value), { json: json.value }) : unreadable(json.why);
  }
  if (mediaType === FORM_TYPE) {
    const form = parseForm(text);
    if (form === undefined) return unreadable("bad percent-encoding in form");
    const rendered = form.map(([k, v]) => `${k}=${v}`).join("&");
    // Form fields often carry JSON (Slack's `blocks`, `attachments`): read it decoded too.
    const nested = formJson(form);
    if (nested === undefined) return unreadable("ambiguous JSON inside a form field");
    return readable(mediaType, rendered, { form, ...(nested !== rendered && { also: nested }) });
  }
  if (mediaType === "" || mediaType === "text/plain") {
    // No type (or a lazy text/plain): an upstream that sniffs would read JSON as JSON. If it is
    // JSON, it must be JSON we can read; then both the raw text and the decoded JSON are readings.
    const trimmed = text.trimStart();
    if (trimmed.startsWith("{") || trimmed.startsWith("[")) {
      const json = parseJsonStrict(text);
      if (json.ok) return readable(mediaType, renderJson(json.value), { json: json.value, also: text });
      if (json.why !== "not JSON") return unreadable(json.why);
    }
    return readable(mediaType, text, {});
  }
  if (MARKUP_TYPE_RE.test(mediaType)) {
    // An XML/HTML parser decodes character references: `&#119;ire` is "wire" upstream.
    const decoded = decodeMarkup(text);
    if (decoded === undefined) return unreadable("markup with entity declarations or unknown entities");
    return readable(mediaType, text, decoded === text ? {} : { also: decoded });
  }
  if (TEXT_TYPE_RE.test(mediaType)) return readable(mediaType, text, {});
  return unreadable(`binary content-type ${mediaType}`);
}

/** True for `application/json` and `application/<anything>+json`. */
export function isJsonType(mediaType: string): boolean {
  return JSON_TYPE_RE.test(mediaType);
}

/**
 * Folds text for look-alike matching: NFKC, full case folding (upper then lower, so `ß` → `ss`,
 * `ſ` → `s`, `K` (Kelvin) → `k`) and no default-ignorable code points.
 */
export function foldForMatch(text: string): string {
  return text.normalize("NFKC").replace(INVISIBLE_RE, "").toUpperCase().toLowerCase();
}

/**
 * Parses `type/subtype; charset=x` strictly enough: one media type, an optional charset.
 * @returns undefined when the header is garbage (fail closed: such a body is unreadable).
 */
export function parseContentType(
  header: string | undefined,
): { mediaType: string; charset?: string } | undefined {
  if (header === undefined || header.trim() === "") return { mediaType: "" };
  const [type = "", ...params] = header.split(";");
  const mediaType = type.trim().toLowerCase();
  if (!/^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(mediaType)) return undefined;
  let charset: string | undefined;
  for (const param of params) {
    const eq = param.indexOf("=");
    if (param.trim() === "") continue;
    if (eq < 0) return undefined;
    const key = param.slice(0, eq).trim().toLowerCase();
    const value = param
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, "$1")
      .toLowerCase();
    if (key !== "charset") continue;
    // Two charsets: which one does the upstream use? Nobody knows.
    if (charset !== undefined && charset !== value) return undefined;
    charset = value;
  }
  return charset === undefined ? { mediaType } : { mediaType, charset };
}

/** The one value of a header, undefined when absent, null when sent with different values. */
function single(value: string | readonly string[] | undefined): string | undefined | null {
  if (value === undefined || typeof value === "string") return value;
  const distinct = [...new Set(value)];
  return distinct.length > 1 ? null : distinct[0];
}

function unreadable(why: string): CanonicalBody {
  return { kind: "unreadable", why };
}

function readable(
  mediaType: string,
  text: string,
  extra: { json?: unknown; form?: readonly (readonly [string, string])[]; also?: string },
): CanonicalBody {
  const literal = [text, ...(extra.also === undefined ? [] : [extra.also])];
  const readings = [...new Set([...literal.map((t) => t.toLowerCase()), ...literal.map(foldForMatch)])];
  return {
    kind: "readable",
    mediaType,
    text,
    readings,
    ...("json" in extra && { json: extra.json }),
    ...(extra.form && { form: extra.form }),
  };
}

/**
 * Decodes bytes in a declared charset with a fatal decoder; a BOM must agree with the charset.
 * @param charset undefined = no charset and not a type that defaults to one: only UTF-8 is tried.
 */
function decodeText(bytes: Uint8Array, charset: string | undefined): string | undefined {
  const label = charset ?? "utf-8";
  let decoder: TextDecoder;
  try {
    // ignoreBOM: keep a BOM as U+FEFF so we can see it; we strip it ourselves below.
    decoder = new TextDecoder(label, { fatal: true, ignoreBOM: true });
  } catch {
    return undefined; // unknown charset
  }
  // A UTF-16 body declared as UTF-8 (or the reverse) is read differently by different servers.
  const bom = sniffBom(bytes);
  if (bom !== undefined && bom !== decoder.encoding) return undefined;
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    return undefined; // invalid bytes for that charset
  }
  // NUL is never text: it is how UTF-16 looks when read as UTF-8, and servers that sniff read it so.
  if (text.includes("\u0000")) return undefined;
  return text.startsWith("\uFEFF") ? text.slice(1) : text;
}

function sniffBom(bytes: Uint8Array): string | undefined {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return "utf-8";
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return "utf-16be";
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return "utf-16le";
  return undefined;
}

/** `a=1&b=x+y%21` → [["a","1"],["b","x y!"]]; undefined on bad escapes or non-UTF-8 bytes. */
export function parseForm(text: string): [string, string][] | undefined {
  const out: [string, string][] = [];
  for (const part of text.split("&")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    const key = decodeFormComponent(eq < 0 ? part : part.slice(0, eq));
    const value = decodeFormComponent(eq < 0 ? "" : part.slice(eq + 1));
    if (key === undefined || value === undefined) return undefined;
    out.push([key, value]);
  }
  return out;
}

function decodeFormComponent(s: string): string | undefined {
  try {
    return decodeURIComponent(s.replaceAll("+", " "));
  } catch {
    return undefined; // "%zz", "%", or escapes that are not UTF-8
  }
}

/**
 * Compact JSON with strings written raw (escapes decoded), so `"wire\u002dtransfer"` reads
 * `"wire-transfer"` and a needle such as `"type":"wire"` still finds `{ "type" : "wire" }`.
 */
export function renderJson(value: unknown): string {
  if (typeof value === "string") return `"${value}"`;
  if (Array.isArray(value)) return `[${value.map(renderJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>);
    return `{${entries.map(([k, v]) => `"${k}":${renderJson(v)}`).join(",")}}`;
  }
  return String(value);
}

/**
 * Markup text with character references decoded (`&#119;`, `&#x77;`, the five XML entities).
 * @returns undefined when a parser could expand something we cannot: a DOCTYPE (entity
 *   declarations), or a named entity other than the five (HTML has thousands).
 */
function decodeMarkup(text: string): string | undefined {
  if (/<!(?:doctype|entity)/i.test(text)) return undefined;
  let unknown = false;
  const out = text.replace(/&(#[0-9]+|#x[0-9a-f]+|[a-z][a-z0-9]*);/gi, (whole, ref: string) => {
    if (ref.startsWith("#")) {
      const code =
        ref[1] === "x" || ref[1] === "X" ? Number.parseInt(ref.slice(2), 16) : Number(ref.slice(1));
      if (code <= 0x10ffff) return String.fromCodePoint(code);
      unknown = true;
      return whole;
    }
    const named = XML_ENTITIES[ref.toLowerCase()];
    if (named === undefined) unknown = true;
    return named ?? whole;
  });
  return unknown ? undefined : out;
}

/**
 * The form rendered again with every field that is JSON replaced by its decoded rendering.
 * @returns undefined when a field is JSON that parsers could read two ways (duplicate keys, …).
 */
function formJson(form: readonly (readonly [string, string])[]): string | undefined {
  const parts: string[] = [];
  for (const [k, v] of form) {
    const t = v.trimStart();
    if (!t.startsWith("{") && !t.startsWith("[")) {
      parts.push(`${k}=${v}`);
      continue;
    }
    const json = parseJsonStrict(v);
    if (!json.ok && json.why !== "not JSON") return undefined;
    parts.push(`${k}=${json.ok ? renderJson(json.value) : v}`);
  }
  return parts.join("&");
}
