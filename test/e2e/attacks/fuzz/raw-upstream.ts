/**
 * A recording upstream on raw sockets (plain TCP or TLS) for the framing fuzzer. It keeps every
 * byte each connection delivered, in order, and answers the requests its strict parser finds with
 * small fixed responses (exactly framed; none for HEAD), closing on a parse error or after
 * `Connection: close`. Untrusted: what the gateway sends. Listens on 127.0.0.1 only.
 */
import { createServer as createNetServer, type AddressInfo, type Server, type Socket } from "node:net";
import { createServer as createTlsServer } from "node:tls";
import { parseRequest } from "./strict-parser.js";

export interface UpstreamConnection {
  readonly id: string;
  readonly tls: boolean;
  readonly chunks: Buffer[];
  /** Why the live parser stopped answering, if it did. */
  liveError?: string;
  closed: boolean;
}

export interface RawUpstream {
  readonly port: number;
  readonly connections: UpstreamConnection[];
  close(): Promise<void>;
}

/** Starts one recording upstream; `tls` = certificate and key PEM to serve HTTPS. */
export async function startRawUpstream(
  name: string,
  tls?: { cert: string; key: string },
): Promise<RawUpstream> {
  const connections: UpstreamConnection[] = [];
  const sockets = new Set<Socket>();

  function serve(socket: Socket): void {
    const conn: UpstreamConnection = {
      id: `${name}#${connections.length}`,
      tls: tls !== undefined,
      chunks: [],
      closed: false,
    };
    connections.push(conn);
    sockets.add(socket);
    let buf = Buffer.alloc(0);
    let pos = 0;
    let done = false;
    socket.on("error", () => socket.destroy());
    socket.on("close", () => {
      conn.closed = true;
      sockets.delete(socket);
    });
    socket.on("data", (chunk: Buffer) => {
      conn.chunks.push(Buffer.from(chunk));
      if (done) return;
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const r = parseRequest(buf, pos);
        if (r.kind === "incomplete") {
          // Keep only the unparsed tail: pooled connections carry thousands of requests.
          buf = buf.subarray(pos);
          pos = 0;
          return;
        }
        if (r.kind === "error") {
          conn.liveError = `${r.reason} at ${r.offset}`;
          done = true;
          socket.end("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
          return;
        }
        const m = r.message;
        pos = m.end;
        const text = `ok ${m.method} ${m.target} ${m.body.length}`;
        // A hostile upstream, when the request asks for it: an unsolicited second response, or a
        // response delimited only by closing the connection.
        const mode = m.headers.find(([n]) => n.toLowerCase() === "x-upstream-mode")?.[1];
        const unframed = mode === "unframed" && m.method !== "HEAD";
        const head = [
          "HTTP/1.1 200 OK",
          "Content-Type: text/plain",
          ...(unframed ? [] : [`Content-Length: ${Buffer.byteLength(text)}`]),
          `X-Upstream-Conn: ${conn.id}`,
          ...(m.close ? ["Connection: close"] : []),
        ];
        const answer = `${head.join("\r\n")}\r\n\r\n${m.method === "HEAD" ? "" : text}`;
        // `slow`: answer late (so a stale byte can arrive first); `extra-late`: the unsolicited
        // response comes after the connection went back to the gateway's pool.
        if (mode === "slow") setTimeout(() => socket.write(answer), 150);
        else socket.write(answer);
        const extra = `ok EXTRA ${m.target} 0`;
        const extraBytes = `HTTP/1.1 200 OK\r\nContent-Length: ${extra.length}\r\n\r\n${extra}`;
        if (mode === "extra") socket.write(extraBytes);
        if (mode === "extra-late") setTimeout(() => socket.write(extraBytes), 40);
        if (m.close || unframed) {
          done = true;
          socket.end();
          return;
        }
      }
    });
  }

  const server: Server = tls
    ? createTlsServer({ cert: tls.cert, key: tls.key }, serve)
    : createNetServer(serve);
  server.on("tlsClientError", () => undefined);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    connections,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
