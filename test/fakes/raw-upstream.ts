/**
 * A raw recording upstream: a TCP (or TLS) server on 127.0.0.1 that keeps every byte received on
 * every connection and answers with exactly the bytes a test scripts. It parses requests only as far
 * as a strict HTTP/1.1 reader would (head, then Content-Length or chunked body, else no body), so a
 * body sent without framing shows up as a second, garbage "request" — the smuggling a test looks for.
 */
import { createServer as createNetServer, type Server, type Socket } from "node:net";
import { createServer as createTlsServer } from "node:tls";
import type { LeafPair } from "./test-ca.js";

/** One request as a strict reader splits the byte stream. */
export interface RawRequest {
  /** Index of the connection it arrived on (0-based, in accept order). */
  readonly conn: number;
  /** Request line. */
  readonly line: string;
  /** Header names lowercased, in order. */
  readonly headers: [string, string][];
  /** The head exactly as received, CRLFs included. */
  readonly head: string;
  /** The body as framed on the wire (chunk sizes included when chunked). */
  readonly rawBody: Buffer;
  /** The body decoded. */
  readonly body: Buffer;
}

/** Decides what to answer to one request; return bytes to write (nothing: the test writes later). */
export type RawScript = (req: RawRequest, conn: RawConn) => string | Buffer | undefined;

export interface RawConn {
  readonly index: number;
  readonly socket: Socket;
  /** Every byte received so far on this connection. */
  bytes(): Buffer;
  readonly closed: boolean;
}

export interface RawUpstream {
  readonly host: string;
  readonly port: number;
  readonly conns: RawConn[];
  readonly requests: RawRequest[];
  /** Every byte received on every connection, in order, as latin1 text. */
  allText(): string;
  /** Replaces the script (default: 200 with body "ok", no body for HEAD). */
  script(fn: RawScript): void;
  close(): Promise<void>;
}

export const OK_RESPONSE = "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok";
/** The same head for HEAD: no body follows. */
export const OK_HEAD_RESPONSE = "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\n";

/** Starts a raw upstream; with `tls` it serves TLS with that certificate. */
export async function startRawUpstream(options: { tls?: LeafPair } = {}): Promise<RawUpstream> {
  const conns: RawConn[] = [];
  const requests: RawRequest[] = [];
  let script: RawScript = (req) => (req.line.startsWith("HEAD ") ? OK_HEAD_RESPONSE : OK_RESPONSE);

  const onSocket = (socket: Socket): void => {
    const index = conns.length;
    let all = Buffer.alloc(0);
    let pending = Buffer.alloc(0);
    const conn = {
      index,
      socket,
      bytes: () => all,
      closed: false,
    };
    conns.push(conn);
    socket.on("error", () => undefined);
    socket.on("close", () => {
      conn.closed = true;
    });
    socket.on("data", (d: Buffer) => {
      all = Buffer.concat([all, d]);
      pending = Buffer.concat([pending, d]);
      for (;;) {
        const parsed = parseOne(pending, index);
        if (!parsed) break;
        pending = pending.subarray(parsed.used);
        requests.push(parsed.req);
        const answer = script(parsed.req, conn);
        if (answer !== undefined && !socket.destroyed) socket.write(answer);
      }
    });
  };
  const server: Server = options.tls
    ? createTlsServer({ cert: options.tls.cert, key: options.tls.key }, onSocket)
    : createNetServer(onSocket);
  server.on("tlsClientError", () => undefined);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    host: "127.0.0.1",
    port,
    conns,
    requests,
    allText: () => conns.map((c) => c.bytes().toString("latin1")).join(""),
    script: (fn) => {
      script = fn;
    },
    close: async () => {
      for (const c of conns) c.socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Parses one request from the front of `buf`, or undefined when incomplete. */
function parseOne(buf: Buffer, conn: number): { req: RawRequest; used: number } | undefined {
  const end = buf.indexOf("\r\n\r\n");
  if (end < 0) return undefined;
  const head = buf.subarray(0, end + 4).toString("latin1");
  const [line = "", ...rest] = head.slice(0, -4).split("\r\n");
  const headers = rest.map((l): [string, string] => {
    const colon = l.indexOf(":");
    return [l.slice(0, colon).trim().toLowerCase(), l.slice(colon + 1).trim()];
  });
  const get = (n: string) => headers.find(([k]) => k === n)?.[1];
  let pos = end + 4;
  const te = get("transfer-encoding");
  if (te?.toLowerCase() === "chunked") {
    const parts: Buffer[] = [];
    for (;;) {
      const lineEnd = buf.indexOf("\r\n", pos);
      if (lineEnd < 0) return undefined;
      const size = Number.parseInt(buf.subarray(pos, lineEnd).toString("latin1"), 16);
      if (Number.isNaN(size)) return undefined;
      if (size === 0) {
        const trailerEnd = buf.indexOf("\r\n\r\n", lineEnd);
        if (trailerEnd < 0 && buf.indexOf("\r\n", lineEnd + 2) !== lineEnd + 2) return undefined;
        const stop = buf.subarray(lineEnd, lineEnd + 4).toString("latin1") === "\r\n\r\n";
        const used = stop ? lineEnd + 4 : trailerEnd + 4;
        const rawBody = buf.subarray(end + 4, used);
        return { req: { conn, line, headers, head, rawBody, body: Buffer.concat(parts) }, used };
      }
      if (buf.length < lineEnd + 2 + size + 2) return undefined;
      parts.push(buf.subarray(lineEnd + 2, lineEnd + 2 + size));
      pos = lineEnd + 2 + size + 2;
    }
  }
  const length = Number(get("content-length") ?? 0);
  if (buf.length < pos + length) return undefined;
  const body = buf.subarray(pos, pos + length);
  return { req: { conn, line, headers, head, rawBody: body, body }, used: pos + length };
}
