/**
 * A strict HTTP/1.1 message parser (RFC 9112) of our own, for the framing fuzzer: the recording
 * upstream parses what the gateway sent with it, and the agent side uses it as a reference reading
 * of what the fuzzer wrote. Untrusted: every byte. It refuses everything RFC 9112 lets a recipient
 * refuse instead of guessing: bare LF or CR, obs-fold, whitespace before a colon, control bytes in
 * values, a Content-Length that is not plain digits or appears twice, a Transfer-Encoding other than
 * exactly one `chunked`, both together, a missing or repeated Host, bytes after `Connection: close`.
 */

export type HeaderList = [name: string, value: string][];

export interface ParsedRequest {
  readonly method: string;
  readonly target: string;
  readonly version: "1.0" | "1.1";
  readonly headers: HeaderList;
  readonly body: Buffer;
  /** Offsets of the message in the buffer it was parsed from. */
  readonly start: number;
  readonly end: number;
  /** The sender said this is the last message on the connection. */
  readonly close: boolean;
}

export type Parsed<T> =
  | { readonly kind: "message"; readonly message: T }
  | { readonly kind: "incomplete" }
  | { readonly kind: "error"; readonly reason: string; readonly offset: number };

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const REQUEST_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([\x21-\x7e]+) HTTP\/1\.([01])$/;
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const CHUNK_LINE =
  /^([0-9A-Fa-f]{1,15})((?:[ \t]*;[ \t]*[!#$%&'*+\-.^_`|~0-9A-Za-z]+(?:[ \t]*=[ \t]*(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+|"(?:[\t\x20\x21\x23-\x5b\x5d-\x7e]|\\[\t\x20-\x7e])*"))?)*)$/;
const MAX_HEAD = 64 * 1024;
const MAX_LINE = 4096;

const err = (reason: string, offset: number) => ({ kind: "error", reason, offset }) as const;
const INCOMPLETE = { kind: "incomplete" } as const;

/** Finds the CRLF that ends the line at `from`; a bare CR or LF before it is an error. */
function lineEnd(buf: Buffer, from: number, max: number): number | "incomplete" | { bad: number } {
  const stop = Math.min(buf.length, from + max);
  for (let i = from; i < stop; i++) {
    const b = buf[i];
    if (b === 0x0a) return { bad: i };
    if (b === 0x0d) {
      if (i + 1 >= buf.length) return "incomplete";
      return buf[i + 1] === 0x0a ? i : { bad: i };
    }
  }
  return stop - from >= max ? { bad: stop } : "incomplete";
}

/** Reads header lines from `pos` up to and including the empty line. */
export function parseFields(buf: Buffer, pos: number): Parsed<{ headers: HeaderList; next: number }> {
  const headers: HeaderList = [];
  const limit = pos + MAX_HEAD;
  for (;;) {
    if (pos >= limit) return err("header section too large", pos);
    const end = lineEnd(buf, pos, MAX_HEAD);
    if (end === "incomplete") return INCOMPLETE;
    if (typeof end !== "number") return err("bare CR or LF in header section", end.bad);
    if (end === pos) return { kind: "message", message: { headers, next: end + 2 } };
    const line = buf.toString("latin1", pos, end);
    if (line[0] === " " || line[0] === "\t") return err("obs-fold line", pos);
    const colon = line.indexOf(":");
    if (colon <= 0) return err("header line without a name and colon", pos);
    const name = line.slice(0, colon);
    if (!TOKEN.test(name)) return err(`bad header name ${JSON.stringify(name)}`, pos);
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, "");
    if (!FIELD_VALUE.test(value)) return err(`control byte in ${name}`, pos);
    headers.push([name, value]);
    pos = end + 2;
  }
}

const all = (h: HeaderList, name: string) => h.filter(([n]) => n.toLowerCase() === name).map(([, v]) => v);

function connectionTokens(h: HeaderList): string[] {
  return all(h, "connection").flatMap((v) => v.split(",").map((t) => t.trim().toLowerCase()));
}

/** Decides the body length: a number, "chunked", or an error reason. */
function framing(h: HeaderList, version: "1.0" | "1.1"): number | "chunked" | { bad: string } {
  const te = all(h, "transfer-encoding");
  const cl = all(h, "content-length");
  if (te.length > 0) {
    if (version === "1.0") return { bad: "Transfer-Encoding in HTTP/1.0" };
    if (cl.length > 0) return { bad: "Transfer-Encoding with Content-Length" };
    if (te.length > 1 || te[0]?.toLowerCase() !== "chunked")
      return { bad: `Transfer-Encoding ${JSON.stringify(te)} is not exactly chunked` };
    return "chunked";
  }
  if (cl.length > 1) return { bad: "several Content-Length fields" };
  if (cl.length === 1) {
    if (!/^[0-9]{1,15}$/.test(cl[0] ?? "")) return { bad: `bad Content-Length ${JSON.stringify(cl[0])}` };
    return Number(cl[0]);
  }
  return 0;
}

/** Reads a chunked body starting at `pos`; returns the decoded body and where the message ends. */
export function parseChunked(buf: Buffer, pos: number): Parsed<{ body: Buffer; next: number }> {
  const parts: Buffer[] = [];
  for (;;) {
    const end = lineEnd(buf, pos, MAX_LINE);
    if (end === "incomplete") return INCOMPLETE;
    if (typeof end !== "number") return err("bare CR or LF (or overlong line) in chunk size line", end.bad);
    const m = CHUNK_LINE.exec(buf.toString("latin1", pos, end));
    if (!m?.[1]) return err("bad chunk size line", pos);
    const size = Number.parseInt(m[1], 16);
    pos = end + 2;
    if (size === 0) {
      const trailers = parseFields(buf, pos);
      if (trailers.kind !== "message") return trailers;
      for (const [n] of trailers.message.headers)
        if (/^(content-length|transfer-encoding|host)$/i.test(n)) return err(`trailer ${n}`, pos);
      return { kind: "message", message: { body: Buffer.concat(parts), next: trailers.message.next } };
    }
    if (buf.length < pos + size + 2) return INCOMPLETE;
    parts.push(buf.subarray(pos, pos + size));
    pos += size;
    if (buf[pos] !== 0x0d || buf[pos + 1] !== 0x0a) return err("chunk data not followed by CRLF", pos);
    pos += 2;
  }
}

/** Parses one request starting at `start` (leading empty lines are skipped, as RFC 9112 allows). */
export function parseRequest(buf: Buffer, start: number): Parsed<ParsedRequest> {
  let pos = start;
  while (buf[pos] === 0x0d && buf[pos + 1] === 0x0a) pos += 2;
  if (pos >= buf.length || (buf[pos] === 0x0d && pos + 1 >= buf.length)) return INCOMPLETE;
  const end = lineEnd(buf, pos, MAX_LINE);
  if (end === "incomplete") return INCOMPLETE;
  if (typeof end !== "number") return err("bare CR or LF (or overlong) request line", end.bad);
  const m = REQUEST_LINE.exec(buf.toString("latin1", pos, end));
  if (!m?.[1] || !m[2]) return err("bad request line", pos);
  const version = m[3] === "0" ? "1.0" : "1.1";
  const fields = parseFields(buf, end + 2);
  if (fields.kind !== "message") return fields;
  const { headers } = fields.message;
  if (version === "1.1" && all(headers, "host").length !== 1) return err("not exactly one Host", pos);
  const frame = framing(headers, version);
  if (typeof frame === "object") return err(frame.bad, pos);
  let body: Buffer;
  let next: number;
  if (frame === "chunked") {
    const chunked = parseChunked(buf, fields.message.next);
    if (chunked.kind !== "message") return chunked;
    ({ body, next } = chunked.message);
  } else {
    next = fields.message.next + frame;
    if (buf.length < next) return INCOMPLETE;
    body = buf.subarray(fields.message.next, next);
  }
  const tokens = connectionTokens(headers);
  const close = tokens.includes("close") || (version === "1.0" && !tokens.includes("keep-alive"));
  return {
    kind: "message",
    message: { method: m[1], target: m[2], version, headers, body, start, end: next, close },
  };
}

/** Every request in one connection's bytes, and why parsing stopped if it stopped early. */
export interface StreamParse {
  readonly requests: ParsedRequest[];
  /** Undefined when the bytes ended exactly at a message boundary. */
  readonly stop?: { readonly reason: string; readonly offset: number };
}

/** Parses a whole connection's bytes: requests until the end, an error, or `Connection: close`. */
export function parseRequestStream(buf: Buffer): StreamParse {
  const requests: ParsedRequest[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const r = parseRequest(buf, pos);
    if (r.kind === "incomplete") return { requests, stop: { reason: "incomplete message", offset: pos } };
    if (r.kind === "error") return { requests, stop: { reason: r.reason, offset: r.offset } };
    requests.push(r.message);
    pos = r.message.end;
    if (r.message.close && pos < buf.length)
      return { requests, stop: { reason: "bytes after Connection: close", offset: pos } };
  }
  return { requests };
}
