/**
 * The forms a real secret value can take in a response, as needles for the scrubber: the literal
 * bytes, percent-encoding, JSON string escapes and base64. Pure: no I/O, and it never sees a
 * `Secret` (gateway/inject.ts reveals the values and hands them in).
 * Untrusted: nothing here reads agent or upstream bytes; the needles are later matched against
 * hostile responses, so every needle has a fixed, bounded shape (no unbounded repetition).
 *
 * Texts are "byte strings": one char per byte (latin1), so UTF-8 values, binary bodies and
 * header values (which Node decodes as latin1) are all matched the same way.
 *
 * How far the forms go, and why:
 * - Text needle (UTF-8, and latin1 for values with non-ASCII characters): each character of the value may appear as itself, as `%XX` (either hex case;
 *   all its UTF-8 bytes), as `+` when it is a space, or JSON-escaped: `\uXXXX` (either hex case,
 *   surrogate pairs for astral characters) for EVERY character, and the short escapes `\" \\ \/
 *   \b \f \n \r \t`. Characters may mix forms. That covers encodeURIComponent, full encoding,
 *   form encoding, JSON.stringify and "escape everything" serializers (ensure_ascii, HTML-safe
 *   JSON) in one needle per secret. Nested encodings (JSON inside a JSON string) are not
 *   followed: alphanumeric characters survive them literally, and each level would multiply the
 *   patterns for forms no echo plausibly produces.
 * - Base64 (values of at least MIN_BASE64_BYTES): the value at byte offset 0, 1 or 2 mod 3 of a
 *   larger encoded string, standard and url-safe alphabets, padded or not. At the end of an
 *   encoded string (the Basic pair `base64("user:" + value)`) the replacement is the exact
 *   encoding of the placeholder, so the agent gets back the pair it sent. Inside a longer string
 *   the characters that only carry the value are replaced; the one character mixing the value's
 *   last bits with what follows stays (at most 4 bits of the last byte), since the placeholder's
 *   length cannot keep the rest of the string aligned.
 */

/** Characters accepted at one position. */
type Atom = string;
/** One way to write one unit (a character of the value, or one base64 character). */
type Alt = readonly Atom[];
/** The ways to write one unit. */
type Unit = readonly Alt[];

/** One pattern to find, and what to put in its place. */
export interface Needle {
  readonly units: readonly Unit[];
  /** The pattern must not be followed by a base64 character (end of an encoded string). */
  readonly endOfBase64: boolean;
  replace(match: string): string;
}

/** Shorter values get no base64 needles: a few base64 characters match unrelated data. */
export const MIN_BASE64_BYTES = 6;

const STD = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_SAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
/** What may follow the end of an encoded string (a negative lookahead in the regex). */
export const BASE64_CHAR_CLASS = "[A-Za-z0-9+/=_\\-]";

const hexAtoms = (n: number, width: number): Atom[] =>
  [...n.toString(16).padStart(width, "0")].map((d) => (/[a-f]/.test(d) ? d + d.toUpperCase() : d));

const JSON_SHORT: Readonly<Record<string, string>> = {
  '"': '"',
  "\\": "\\",
  "/": "/",
  "\b": "b",
  "\f": "f",
  "\n": "n",
  "\r": "r",
  "\t": "t",
};

/** Every accepted spelling of one character of the value. */
function charUnit(ch: string, encoding: "utf8" | "latin1"): Unit {
  const bytes = [...Buffer.from(ch, encoding)];
  const alts: Alt[] = [bytes.map((b) => String.fromCharCode(b))];
  alts.push(bytes.flatMap((b) => ["%", ...hexAtoms(b, 2)]));
  if (ch === " ") alts.push(["+"]);
  const short = JSON_SHORT[ch];
  if (short !== undefined) alts.push(["\\", short]);
  const units: Atom[] = [];
  for (let i = 0; i < ch.length; i++) units.push("\\", "u", ...hexAtoms(ch.charCodeAt(i), 4));
  alts.push(units);
  return alts;
}

/**
 * The literal, percent-encoded and JSON-escaped value, replaced by the placeholder. `latin1` is
 * the form Node gives a header value holding non-ASCII characters (one byte per UTF-16 unit, the
 * low one): how the gateway itself sends such a value in a header, and how an echo returns it.
 */
export function textNeedle(value: string, placeholder: string, encoding: "utf8" | "latin1" = "utf8"): Needle {
  const chars = encoding === "utf8" ? [...value] : value.split("");
  return { units: chars.map((ch) => charUnit(ch, encoding)), endOfBase64: false, replace: () => placeholder };
}

/** Index of a base64 character in either alphabet. */
const sextet = (ch: string): number => Math.max(STD.indexOf(ch), URL_SAFE.indexOf(ch));
/** Both alphabets' spelling of one sextet. */
const b64Atom = (i: number): Atom =>
  STD[i] === URL_SAFE[i] ? (STD[i] as string) : `${STD[i]}${URL_SAFE[i]}`;

/** Base64 needles for the value at the three byte alignments. */
export function base64Needles(value: Buffer, placeholder: string): Needle[] {
  if (value.length < MIN_BASE64_BYTES) return [];
  const p = Buffer.from(placeholder, "latin1");
  const needles: Needle[] = [];
  for (const k of [0, 1, 2] as const) {
    const enc = Buffer.concat([Buffer.alloc(k), value]).toString("base64");
    const penc = Buffer.concat([Buffer.alloc(k), p]).toString("base64");
    // Sextets before `start` carry (some of) the k bytes in front; from `pureEnd` on, what follows.
    const start = k === 0 ? 0 : k + 1;
    const pureEnd = Math.floor(((k + value.length) * 8) / 6);
    const rem = (k + value.length) % 3;
    const lead: Unit[] = k === 0 ? [] : [leadUnit(k, value[0] as number)];
    const pure: Unit[] = [...enc.slice(start, pureEnd)].map((c) => [[b64Atom(sextet(c))]]);
    const tail: Unit[] = rem === 0 ? [] : [[[b64Atom(sextet(enc[pureEnd] as string))]]];
    const pad = rem === 0 ? "" : "=".repeat(3 - rem);
    const pPure = penc.slice(start, Math.floor(((k + p.length) * 8) / 6));
    const pAll = penc.slice(start).replace(/=+$/, "");
    const pPad = penc.slice(start).length - pAll.length;
    const leadFor = (m: string, url: boolean): string => (k === 0 ? "" : newLead(k, m, p[0] as number, url));
    const body = [...lead, ...pure, ...tail];
    const terminal = (padded: boolean): Needle => ({
      units: padded ? [...body, ...[...pad].map((c): Unit => [[c]])] : body,
      endOfBase64: true,
      replace: (m: string): string => {
        const url = urlSafe(m, padded || rem === 0);
        const padding = padded || (rem === 0 && !url) ? "=".repeat(pPad) : "";
        return leadFor(m, url) + alphabet(pAll, url) + padding;
      },
    });
    if (pad) needles.push(terminal(true));
    needles.push(terminal(false));
    needles.push({
      units: [...lead, ...pure],
      endOfBase64: false,
      replace: (m) => {
        const url = urlSafe(m, true);
        return leadFor(m, url) + alphabet(pPure, url);
      },
    });
  }
  return needles;
}

/** The sextet that mixes the k bytes in front with the value's first byte: any front bits. */
function leadUnit(k: 1 | 2, first: number): Unit {
  const atoms = new Set<string>();
  for (let front = 0; front < (k === 1 ? 4 : 16); front++) {
    atoms.add(b64Atom(k === 1 ? (front << 4) | (first >> 4) : (front << 2) | (first >> 6)));
  }
  return [[[...atoms].join("")]];
}

/** The lead sextet with the matched front bits and the placeholder's first bits. */
function newLead(k: 1 | 2, match: string, first: number, url: boolean): string {
  const front = k === 1 ? sextet(match[0] as string) >> 4 : sextet(match[0] as string) >> 2;
  const i = k === 1 ? (front << 4) | (first >> 4) : (front << 2) | (first >> 6);
  return (url ? URL_SAFE : STD)[i] as string;
}

/** Url-safe when the match says so; when it cannot tell, `preferStd` picks the standard one. */
function urlSafe(match: string, preferStd: boolean): boolean {
  if (/[-_]/.test(match)) return true;
  if (/[+/]/.test(match)) return false;
  return !preferStd;
}

const alphabet = (std: string, url: boolean): string =>
  url ? std.replace(/\+/g, "-").replace(/\//g, "_") : std;
