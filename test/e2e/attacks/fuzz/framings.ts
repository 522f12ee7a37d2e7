/**
 * Body framings for the framing fuzzer: each one turns a body into the framing header lines and the
 * bytes that follow the head, right or deliberately wrong (short, long, duplicated, differing,
 * signed, hex, spaced, chunked variants, chunked with Content-Length, odd chunk sizes and
 * extensions, bare LF inside chunks). What an upstream makes of them is the point of the fuzzer.
 */

/** A seeded source of choices (see `generate.ts`). */
export interface Pick {
  int(min: number, max: number): number;
  one<T>(items: readonly T[]): T;
  chance(p: number): boolean;
}

export interface Framed {
  readonly label: string;
  /** Header lines without CRLF, e.g. `Content-Length: 5`. */
  readonly lines: string[];
  readonly payload: Buffer;
  /** Use `HTTP/1.0` in the request line. */
  readonly http10?: boolean;
}

const TE_VARIANTS = [
  "Chunked",
  "CHUNKED",
  "chunked, chunked",
  "gzip, chunked",
  "chunked, gzip",
  "identity",
  "identity, chunked",
  "xchunked",
  "chunked;q=1",
  "chunk",
  "\tchunked",
  "chunked\t",
  '"chunked"',
  "chunked, identity",
];

const CHUNK_EXTS = [";a=b", ';a="q;x"', "; x", ";a=b;c", " ;a", ";a=\x7f", ';a="\\"', ";=x"];
const ODD_SIZE = [
  (n: number) => `000${n.toString(16)}`,
  (n: number) => n.toString(16).toUpperCase(),
  (n: number) => `0x${n.toString(16)}`,
  (n: number) => `+${n.toString(16)}`,
  (n: number) => ` ${n.toString(16)}`,
  (n: number) => `${n.toString(16)} `,
  (n: number) => `-${n.toString(16)}`,
  (n: number) => `${n.toString(16)}_`,
  () => "ffffffffffffffffffff",
  () => "10000000000000001",
];

interface ChunkOptions {
  ext?: string;
  size?: (n: number) => string;
  eol?: string;
  dataEol?: string;
  trailer?: string;
  skew?: number;
}

/** Chunked encoding of `body` in 1–3 chunks, with optional faults. */
export function chunked(p: Pick, body: Buffer, o: ChunkOptions = {}): Buffer {
  const eol = o.eol ?? "\r\n";
  const parts: Buffer[] = [];
  let at = 0;
  const pieces = body.length === 0 ? 0 : p.int(1, Math.min(3, body.length));
  for (let i = 0; i < pieces; i++) {
    const size = i === pieces - 1 ? body.length - at : p.int(1, body.length - at - (pieces - 1 - i));
    const declared = i === 0 && o.skew ? Math.max(0, size + o.skew) : size;
    const sizeText = o.size && i === 0 ? o.size(declared) : declared.toString(16);
    parts.push(Buffer.from(`${sizeText}${i === 0 && o.ext ? o.ext : ""}${eol}`, "latin1"));
    parts.push(body.subarray(at, at + size), Buffer.from(o.dataEol ?? eol, "latin1"));
    at += size;
  }
  parts.push(Buffer.from(`0${eol}${o.trailer ?? ""}${eol}`, "latin1"));
  return Buffer.concat(parts);
}

type Maker = (p: Pick, body: Buffer) => Framed;

const cl = (label: string, value: (n: number, p: Pick) => string | string[]): Maker => {
  return (p, body) => {
    const v = value(body.length, p);
    const lines = (Array.isArray(v) ? v : [v]).map((x) => `Content-Length: ${x}`);
    return { label, lines, payload: body };
  };
};

const te = (label: string, value: (p: Pick) => string | string[], o?: (p: Pick) => ChunkOptions): Maker => {
  return (p, body) => {
    const v = value(p);
    const lines = (Array.isArray(v) ? v : [v]).map((x) => `Transfer-Encoding: ${x}`);
    return { label, lines, payload: chunked(p, body, o?.(p)) };
  };
};

/** Every framing the fuzzer knows, by weight (the right ones appear more often). */
export const FRAMINGS: readonly (readonly [weight: number, make: Maker])[] = [
  [10, (_p, body) => ({ label: "none", lines: [], payload: body })],
  [22, cl("cl", (n) => String(n))],
  [3, cl("cl-short", (n, p) => String(Math.max(0, n - p.int(1, 8))))],
  [3, cl("cl-long", (n, p) => String(n + p.int(1, 8)))],
  [2, cl("cl-dup-same", (n) => [String(n), String(n)])],
  [2, cl("cl-dup-differ", (n, p) => [String(n), String(n + p.one([-1, 1, 5]))])],
  [2, cl("cl-list", (n, p) => p.one([`${n}, ${n}`, `${n},${n + 1}`, `${n},`]))],
  [2, cl("cl-spaces", (n, p) => p.one([`  ${n}  `, `\t${n}`, `${n} `, `1 ${n}`, `${n} 0`]))],
  [2, cl("cl-sign", (n, p) => p.one([`+${n}`, `-${n}`, `-0`, `+0`]))],
  [2, cl("cl-zeros", (n) => `000${n}`)],
  [2, cl("cl-hex", (n, p) => p.one([`0x${n.toString(16)}`, `${n.toString(16)}h`, `${n}.0`, `${n}e0`]))],
  [1, cl("cl-huge", (_n, p) => p.one(["18446744073709551617", "9007199254740993", "99999999999999999999"]))],
  [1, cl("cl-empty", () => "")],
  [18, te("te", () => "chunked")],
  [3, te("te-variant", (p) => p.one(TE_VARIANTS))],
  [
    2,
    te("te-dup", (p) =>
      p.one([
        ["chunked", "chunked"],
        ["chunked", "identity"],
        ["gzip", "chunked"],
      ]),
    ),
  ],
  [
    3,
    te(
      "te-ext",
      () => "chunked",
      (p) => ({ ext: p.one(CHUNK_EXTS) }),
    ),
  ],
  [
    3,
    te(
      "te-odd-size",
      () => "chunked",
      (p) => ({ size: p.one(ODD_SIZE) }),
    ),
  ],
  [
    2,
    te(
      "te-bare-lf",
      () => "chunked",
      (p) => p.one([{ eol: "\n" }, { dataEol: "\n" }, { dataEol: "" }]),
    ),
  ],
  [
    2,
    te(
      "te-trailer",
      () => "chunked",
      (p) => ({ trailer: p.one(["X-T: 1\r\n", "Content-Length: 3\r\n"]) }),
    ),
  ],
  [
    2,
    te(
      "te-skew",
      () => "chunked",
      (p) => ({ skew: p.one([-2, -1, 1, 3]) }),
    ),
  ],
  [
    3,
    (p, body) => {
      const payload = chunked(p, body);
      const length = p.one([body.length, payload.length, 0]);
      const lines = [`Transfer-Encoding: chunked`, `Content-Length: ${length}`];
      return { label: "te-and-cl", lines: p.chance(0.5) ? lines.reverse() : lines, payload };
    },
  ],
  [
    1,
    (p, body) => ({
      label: "te-http10",
      lines: ["Transfer-Encoding: chunked", ...(p.chance(0.5) ? [`Content-Length: ${body.length}`] : [])],
      payload: chunked(p, body),
      http10: true,
    }),
  ],
  [
    1,
    (_p, body) => ({
      label: "cl-http10",
      lines: [`Content-Length: ${body.length}`],
      payload: body,
      http10: true,
    }),
  ],
  [
    2,
    (p, body) => ({
      label: "te-name-odd",
      lines: [
        p.one(["Transfer-Encoding : chunked", "Transfer_Encoding: chunked", "Transfer-Encoding:\tchunked"]),
      ],
      payload: chunked(p, body),
    }),
  ],
];

const TOTAL = FRAMINGS.reduce((sum, [w]) => sum + w, 0);

/** Picks a framing by weight and applies it. */
export function frame(p: Pick, body: Buffer): Framed {
  let roll = p.int(0, TOTAL - 1);
  for (const [weight, make] of FRAMINGS) {
    if (roll < weight) return make(p, body);
    roll -= weight;
  }
  return (FRAMINGS[0] as readonly [number, Maker])[1](p, body);
}
