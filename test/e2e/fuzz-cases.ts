/**
 * Deterministic generator of malformed proxy traffic for fuzz.test.ts. A seeded PRNG makes every
 * run throw the same bytes, so a failure names a case that can be replayed.
 */

/** mulberry32: small, fast, good enough to pick fuzz cases. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One connection's worth of bytes. `afterConnect` is written only if the gateway answers 200 to `first`. */
export interface FuzzCase {
  readonly name: string;
  readonly first: Buffer;
  readonly afterConnect?: Buffer;
}

export interface FuzzContext {
  /** A valid `Proxy-Authorization` value, so cases get past authentication. */
  readonly auth: string;
  /** `host:port` of a plain-HTTP host the policy knows but never lets through. */
  readonly target: string;
  /** `host:port` of an HTTPS host the policy knows but never lets through (for CONNECT). */
  readonly tlsTarget: string;
  /** A complete TLS ClientHello for the TLS target's name. */
  readonly clientHello: Buffer;
}

const CRLF = "\r\n";

/** The lead's named attacks, always included. */
export function fixedCases(ctx: FuzzContext): FuzzCase[] {
  const auth = `Proxy-Authorization: ${ctx.auth}`;
  const connect = (target: string, withAuth = true) =>
    Buffer.from(
      `CONNECT ${target} HTTP/1.1${CRLF}Host: ${target}${CRLF}${withAuth ? `${auth}${CRLF}` : ""}${CRLF}`,
    );
  const lines: Array<[string, Buffer]> = [
    ["CONNECT ::::", connect("::::")],
    ["CONNECT a@b:443", connect("a@b:443")],
    ["CONNECT a@b:443 without auth", connect("a@b:443", false)],
    ["CONNECT unterminated IPv6", connect("[::1:443")],
    ["CONNECT empty target", Buffer.from(`CONNECT  HTTP/1.1${CRLF}${auth}${CRLF}${CRLF}`)],
    ["CONNECT port 0", connect("fuzz.test:0")],
    ["CONNECT port 65536", connect("fuzz.test:65536")],
    ["CONNECT negative port", connect("fuzz.test:-1")],
    ["CONNECT no port", connect("fuzz.test")],
    ["CONNECT double port", connect("fuzz.test:443:443")],
    ["CONNECT absolute URL", connect(`http://${ctx.target}/`)],
    ["CONNECT with path", connect(`${ctx.target}/x`)],
    ["CONNECT percent-encoded NUL", connect("%00:443")],
    ["GET without version", Buffer.from(`GET http://${ctx.target}/${CRLF}${auth}${CRLF}${CRLF}`)],
    ["HTTP/9.9", Buffer.from(`GET http://${ctx.target}/ HTTP/9.9${CRLF}${auth}${CRLF}${CRLF}`)],
    ["HTTP/0.9 style", Buffer.from(`GET /${CRLF}`)],
    ["bare CRLFs", Buffer.from(CRLF.repeat(50))],
    ["LF-only lines", Buffer.from(`GET http://${ctx.target}/ HTTP/1.1\n${auth}\n\n`)],
    ["NUL in method", Buffer.from(`G\0T http://${ctx.target}/ HTTP/1.1${CRLF}${auth}${CRLF}${CRLF}`)],
    [
      "header over 64 KiB",
      Buffer.from(
        `GET http://${ctx.target}/ HTTP/1.1${CRLF}${auth}${CRLF}X-Big: ${"a".repeat(70_000)}${CRLF}${CRLF}`,
      ),
    ],
    [
      "CL and TE together",
      Buffer.from(
        `POST http://${ctx.target}/ HTTP/1.1${CRLF}${auth}${CRLF}Content-Length: 4${CRLF}Transfer-Encoding: chunked${CRLF}${CRLF}0${CRLF}${CRLF}GET http://${ctx.target}/smuggled HTTP/1.1${CRLF}${CRLF}`,
      ),
    ],
    ["empty ClientHello after CONNECT", connect(ctx.tlsTarget)],
  ];
  return lines.map(([name, first]) => ({ name, first }));
}

/** `count` generated cases from `seed`. */
export function generatedCases(seed: number, count: number, ctx: FuzzContext): FuzzCase[] {
  const rand = mulberry32(seed);
  const int = (min: number, max: number) => min + Math.floor(rand() * (max - min + 1));
  const pick = <T>(items: readonly T[]): T => items[int(0, items.length - 1)] as T;
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(0, 255)));
  const printable = (n: number) =>
    Array.from({ length: n }, () => String.fromCharCode(int(33, 126))).join("");
  const auth = `Proxy-Authorization: ${ctx.auth}`;
  const valid = (method = "GET", target = `http://${ctx.target}/x`) =>
    `${method} ${target} HTTP/1.1${CRLF}Host: ${ctx.target}${CRLF}${auth}${CRLF}${CRLF}`;

  const makers: Record<string, () => Pick<FuzzCase, "first" | "afterConnect">> = {
    "random bytes": () => ({ first: bytes(int(1, 4096)) }),
    "absurd method": () => ({
      first: Buffer.from(
        valid(
          pick([printable(int(1, 20_000)), "ＧＥＴ", "GET\tPOST", "get", "M-SEARCH", "PRI", "*", "GE T"]),
        ),
      ),
    }),
    "bad request line": () => ({
      first: Buffer.from(
        `${pick(["GET", "CONNECT", "POST", printable(5)])}${pick([" ", "  ", "\t", ""])}${pick([`http://${ctx.target}/`, "/", "*", "http://", "http://[::1", `http://${ctx.target}:99999/`, `http://u:p@${ctx.target}/`, "ftp://fuzz.invalid/", printable(int(1, 300))])}${pick([" HTTP/1.1", " HTTP/1.0", " HTTP/2", " HTTP/1.1 extra", "", " http/1.1"])}${pick([CRLF, "\n", "\r"])}${auth}${CRLF}${CRLF}`,
      ),
    }),
    "oversized headers": () =>
      pick([
        () => ({
          first: Buffer.from(
            `GET http://${ctx.target}/ HTTP/1.1${CRLF}${auth}${CRLF}X-Big: ${"b".repeat(int(65_537, 300_000))}${CRLF}${CRLF}`,
          ),
        }),
        () => ({
          first: Buffer.from(
            `GET http://${ctx.target}/ HTTP/1.1${CRLF}${auth}${CRLF}${Array.from({ length: int(2000, 6000) }, (_, i) => `X-H${i}: ${printable(20)}`).join(CRLF)}${CRLF}${CRLF}`,
          ),
        }),
        () => ({
          first: Buffer.from(
            `GET http://${ctx.target}/${"p".repeat(int(65_537, 200_000))} HTTP/1.1${CRLF}${auth}${CRLF}${CRLF}`,
          ),
        }),
      ])(),
    "garbage CONNECT target": () => {
      const target = pick([
        `${printable(int(1, 40))}.invalid:${int(0, 99_999)}`,
        `${printable(int(1, 10))}@${pick(["fuzz-tls.test", "fuzz.invalid", "127.0.0.1"])}:${int(0, 70_000)}`,
        `[${printable(int(0, 30))}]:${int(0, 70_000)}`,
        `${":".repeat(int(1, 10))}`,
        `fuzz-tls.test:${printable(int(1, 8))}`,
        `${"a.".repeat(int(60, 200))}invalid:443`,
        "fuzz-tls.test%2f..:443",
        "",
      ]);
      return {
        first: Buffer.from(
          `CONNECT ${target} HTTP/1.1${CRLF}Host: ${target}${CRLF}${rand() < 0.8 ? `${auth}${CRLF}` : ""}${CRLF}`,
        ),
      };
    },
    "truncated ClientHello": () => ({
      first: Buffer.from(
        `CONNECT ${ctx.tlsTarget} HTTP/1.1${CRLF}Host: ${ctx.tlsTarget}${CRLF}${auth}${CRLF}${CRLF}`,
      ),
      afterConnect: ctx.clientHello.subarray(0, int(1, ctx.clientHello.length - 1)),
    }),
    "corrupted ClientHello": () => {
      const hello = Buffer.from(ctx.clientHello);
      for (let i = int(1, 8); i > 0; i--) hello[int(0, hello.length - 1)] = int(0, 255);
      return {
        first: Buffer.from(
          `CONNECT ${ctx.tlsTarget} HTTP/1.1${CRLF}Host: ${ctx.tlsTarget}${CRLF}${auth}${CRLF}${CRLF}`,
        ),
        afterConnect: hello,
      };
    },
    "mutated valid request": () => {
      const base = Buffer.from(valid(pick(["GET", "POST", "DELETE"])));
      const out = [...base];
      for (let i = int(1, 6); i > 0; i--) {
        const at = int(0, out.length - 1);
        const op = int(0, 3);
        if (op === 0) out[at] = int(0, 255);
        else if (op === 1) out.splice(at, int(1, 10));
        else if (op === 2) out.splice(at, 0, ...bytes(int(1, 10)));
        else out.splice(at, 0, ...out.slice(at, at + int(1, 40)));
      }
      return { first: Buffer.from(out) };
    },
    "bad body framing": () => ({
      first: Buffer.from(
        `POST http://${ctx.target}/x HTTP/1.1${CRLF}Host: ${ctx.target}${CRLF}${auth}${CRLF}${pick(["Transfer-Encoding: chunked", "Transfer-Encoding: chunked, identity", "Transfer-Encoding: xchunked", "Content-Length: -1", "Content-Length: 1, 2", "Content-Length: 99999999999999999999", "Content-Length: 5\r\nContent-Length: 6"])}${CRLF}${CRLF}${pick(["zz\r\n", "5\r\nabc", "ffffffffffffffff\r\n", "0\r\n\r\n", printable(int(0, 100))])}`,
      ),
    }),
  };

  const names = Object.keys(makers);
  return Array.from({ length: count }, (_, i) => {
    const kind = names[i % names.length] as string;
    return { name: `#${i} ${kind}`, ...(makers[kind] as () => Pick<FuzzCase, "first" | "afterConnect">)() };
  });
}
