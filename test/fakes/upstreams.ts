/**
 * Recording upstream servers for the gateway's far side. Every server listens on a 127.0.0.0/8
 * address, port 0, and records what reached it so tests can prove "nothing was sent upstream".
 *
 * Built-in routes (any server, HTTP or HTTPS):
 * - `/sse`         text/event-stream: event 1, then waits for the test to release a gate, then 2 and 3.
 * - `/redirect`    302 to `/target`.
 * - `/large?mb=N`  N MiB of random bytes, streamed; the digest of what was sent is recorded.
 * - `/echo-auth`   echoes the request's Authorization header in the body and in `x-echo-authorization`.
 * - `/gate`        waits for the test to release a gate, then answers 200 "released".
 * - anything else  200 JSON echo of method, url, headers, body text and body digest.
 * WebSocket upgrades on any path are accepted (except the test's own `route` overrides) and echo.
 */
import { createHash, randomBytes } from "node:crypto";
import {
  createServer as createHttpServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import { WebSocketServer } from "ws";
import type { LeafPair } from "./test-ca.js";

const BODY_RECORD_LIMIT = 1 << 20;

/** One request as the upstream saw it. `body` holds at most the first MiB. */
export interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  body: Buffer;
  bodyBytes: number;
  bodySha256: string;
  /** sha256 of the response body this server sent (set by `/large`). */
  responseSha256?: string;
  /** Resolves when the request body has been read completely. */
  readonly done: Promise<void>;
}

/** A WebSocket handshake as the upstream saw it. */
export interface RecordedHandshake {
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
}

export type RouteHandler = (req: IncomingMessage, res: ServerResponse, recorded: RecordedRequest) => void;

export interface RecordingUpstream {
  readonly host: string;
  readonly port: number;
  /** `http://host:port` or `https://host:port`. */
  readonly origin: string;
  readonly requests: RecordedRequest[];
  readonly handshakes: RecordedHandshake[];
  /** TCP connections accepted so far. */
  readonly connections: () => number;
  /** Requests plus WebSocket handshakes received. */
  received(): number;
  /** Overrides one path (exact match on the path without query). */
  route(path: string, handler: RouteHandler): void;
  /** Resolves when a `/sse` or `/gate` request is parked; call the result to let it continue. */
  nextGate(): Promise<() => void>;
  reset(): void;
  close(): Promise<void>;
}

export interface UpstreamOptions {
  /** Listen address; defaults to 127.0.0.1. Must be inside 127.0.0.0/8. */
  readonly host?: string;
  /** Serve HTTPS with this certificate. */
  readonly tls?: LeafPair;
}

/** Starts one recording upstream. */
export async function startUpstream(options: UpstreamOptions = {}): Promise<RecordingUpstream> {
  const host = options.host ?? "127.0.0.1";
  if (!host.startsWith("127.")) throw new Error(`upstream fakes only listen on 127.0.0.0/8, not ${host}`);
  const requests: RecordedRequest[] = [];
  const handshakes: RecordedHandshake[] = [];
  const routes = new Map<string, RouteHandler>();
  const parked: Array<() => void> = [];
  const gateWaiters: Array<(release: () => void) => void> = [];
  const sockets = new Set<Socket>();
  let connections = 0;

  function park(release: () => void): void {
    const waiter = gateWaiters.shift();
    if (waiter) waiter(release);
    else parked.push(release);
  }

  function record(req: IncomingMessage): RecordedRequest {
    const hash = createHash("sha256");
    const chunks: Buffer[] = [];
    let kept = 0;
    const rec: RecordedRequest = {
      method: req.method ?? "",
      url: req.url ?? "",
      headers: req.headers,
      body: Buffer.alloc(0),
      bodyBytes: 0,
      bodySha256: "",
      done: new Promise<void>((resolve) => {
        req.on("data", (chunk: Buffer) => {
          hash.update(chunk);
          rec.bodyBytes += chunk.length;
          if (kept < BODY_RECORD_LIMIT) {
            chunks.push(chunk);
            kept += chunk.length;
          }
        });
        req.on("end", () => {
          rec.body = Buffer.concat(chunks);
          rec.bodySha256 = hash.digest("hex");
          resolve();
        });
        req.on("error", () => resolve());
        req.on("close", () => resolve());
      }),
    };
    requests.push(rec);
    return rec;
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const rec = record(req);
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    const custom = routes.get(path);
    if (custom) {
      custom(req, res, rec);
      return;
    }
    if (path === "/sse") {
      serveSse(res, park);
      return;
    }
    if (path === "/redirect") {
      res.writeHead(302, { location: "/target", "content-type": "text/plain" }).end("moved");
      return;
    }
    if (path === "/large") {
      serveLarge(req, res, rec);
      return;
    }
    if (path === "/gate") {
      void rec.done.then(() =>
        park(() => res.writeHead(200, { "content-type": "text/plain" }).end("released")),
      );
      return;
    }
    void rec.done.then(() => {
      if (path === "/echo-auth") {
        const auth = req.headers.authorization ?? "";
        res.writeHead(200, { "content-type": "application/json", "x-echo-authorization": auth });
        res.end(JSON.stringify({ authorization: auth }));
        return;
      }
      const body = JSON.stringify({
        method: rec.method,
        url: rec.url,
        headers: rec.headers,
        body: rec.body.subarray(0, 65536).toString("utf8"),
        bodyBytes: rec.bodyBytes,
        bodySha256: rec.bodySha256,
      });
      res.writeHead(200, { "content-type": "application/json" }).end(body);
    });
  }

  const server: Server = options.tls
    ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, handle)
    : createHttpServer(handle);
  server.on("connection", (socket: Socket) => {
    connections += 1;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  server.on("tlsClientError", () => {});

  const wss = new WebSocketServer({ noServer: true });
  wss.on("connection", (ws) => {
    ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  server.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => {
    handshakes.push({ url: req.url ?? "", headers: req.headers });
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit("connection", ws, req));
  });

  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = (server.address() as AddressInfo).port;
  const scheme = options.tls ? "https" : "http";

  return {
    host,
    port,
    origin: `${scheme}://${host}:${port}`,
    requests,
    handshakes,
    connections: () => connections,
    received: () => requests.length + handshakes.length,
    route: (path, handler) => void routes.set(path, handler),
    nextGate: () => {
      const ready = parked.shift();
      if (ready) return Promise.resolve(ready);
      return new Promise((resolve) => gateWaiters.push(resolve));
    },
    reset: () => {
      requests.length = 0;
      handshakes.length = 0;
    },
    close: async () => {
      for (const client of wss.clients) client.terminate();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function serveSse(res: ServerResponse, park: (release: () => void) => void): void {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  res.flushHeaders();
  res.write("id: 1\ndata: one\n\n");
  park(() => {
    res.write("id: 2\ndata: two\n\n");
    res.end("id: 3\ndata: three\n\n");
  });
}

function serveLarge(req: IncomingMessage, res: ServerResponse, rec: RecordedRequest): void {
  const mb = Number(new URL(req.url ?? "/", "http://x").searchParams.get("mb") ?? "32");
  const total = Math.max(0, Math.min(256, mb)) * (1 << 20);
  const hash = createHash("sha256");
  res.writeHead(200, { "content-type": "application/octet-stream" });
  let sent = 0;
  const pump = (): void => {
    while (sent < total) {
      const chunk = randomBytes(Math.min(256 * 1024, total - sent));
      sent += chunk.length;
      hash.update(chunk);
      if (!res.write(chunk)) {
        res.once("drain", pump);
        return;
      }
    }
    rec.responseSha256 = hash.digest("hex");
    res.end();
  };
  pump();
}
