/**
 * Request path → decoded segments, or `undefined` when the path is ambiguous.
 *
 * Threat model: the path comes from a hostile agent that wants a request to match a lenient rule
 * (or miss a strict one) while the upstream server resolves it to something else. Servers disagree
 * about dot segments, encoded separators, backslashes, `;` path parameters, double encoding and
 * invalid UTF-8, so instead of guessing which interpretation the upstream uses we refuse every
 * path on which they could disagree: `.`/`..` segments (raw, encoded in any case, or as `..;`),
 * encoded `/` or `\`, raw `\`, raw `;`, empty segments (`//`), NUL and other control characters
 * (raw or encoded), malformed or overlong percent-escapes, escapes that still decode to an escape
 * (`%252e`), raw non-ASCII, and a query or fragment left in the path. What remains has one
 * meaning, and literal segments are compared after decoding so `/m%65rge` is `/merge`.
 */

// Raw characters a well-behaved client leaves unescaped in a path (RFC 3986 pchar, plus the few
// WHATWG URL leaves alone: | ^ [ ]). Everything else (space, \ ? # " < > { } ` ; controls,
// non-ASCII) makes the path ambiguous. `;` is excluded because Tomcat-style servers strip
// ";params" from a segment, so "/merge;x" would reach them as "/merge".
const RAW_PATH_RE = /^[A-Za-z0-9\-._~!$&'()*+,=:@%|^[\]/]*$/;
const HEX2_RE = /^[0-9A-Fa-f]{2}$/;
const ESCAPE_RE = /%[0-9A-Fa-f]{2}/;
const SLASH = 0x2f;
const BACKSLASH = 0x5c;

// Stateless when used without `stream`, so sharing one instance is safe. `fatal` rejects invalid
// and overlong UTF-8 (`%c0%ae` = "." on lenient decoders); `ignoreBOM` keeps a leading U+FEFF so
// "%EF%BB%BFmerge" stays different from "merge".
const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Splits a raw request path (no query) into percent-decoded segments.
 * A single trailing slash is ignored (`/a/` → `["a"]`, `/` → `[]`) so a rule for `/a` also
 * governs `/a/`, the form most servers treat as the same resource.
 * @returns the decoded segments, or `undefined` when the path is ambiguous (see file header).
 */
export function splitPath(rawPath: string): string[] | undefined {
  if (!rawPath.startsWith("/") || !RAW_PATH_RE.test(rawPath)) return undefined;
  const raw = rawPath.slice(1).split("/");
  if (raw[raw.length - 1] === "") raw.pop();
  const segments: string[] = [];
  for (const segment of raw) {
    const decoded = decodeSegment(segment);
    if (decoded === undefined) return undefined;
    segments.push(decoded);
  }
  return segments;
}

function decodeSegment(segment: string): string | undefined {
  // An empty segment here comes from "//", which servers variously collapse or keep.
  if (segment === "") return undefined;
  const bytes: number[] = [];
  for (let i = 0; i < segment.length; i++) {
    if (segment[i] !== "%") {
      bytes.push(segment.charCodeAt(i)); // ASCII, guaranteed by RAW_PATH_RE
      continue;
    }
    const hex = segment.slice(i + 1, i + 3);
    if (!HEX2_RE.test(hex)) return undefined;
    const byte = Number.parseInt(hex, 16);
    // An encoded separator is a separator to some servers and data to others.
    if (byte === SLASH || byte === BACKSLASH) return undefined;
    bytes.push(byte);
    i += 2;
  }
  let decoded: string;
  try {
    decoded = UTF8.decode(Uint8Array.from(bytes));
  } catch {
    return undefined;
  }
  if (hasControlChar(decoded)) return undefined;
  // Still an escape after one decode: a server that decodes twice would see something else.
  if (ESCAPE_RE.test(decoded)) return undefined;
  // Dot segments, also with a ";param" tail (encoded ";" decodes here, so "..%3B" lands too).
  const head = decoded.split(";")[0];
  if (head === "." || head === "..") return undefined;
  return decoded;
}

/** C0 controls (incl. NUL), DEL and C1 controls: never meaningful in a path, often truncating. */
function hasControlChar(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) return true;
  }
  return false;
}
