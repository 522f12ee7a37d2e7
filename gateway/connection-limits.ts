/**
 * Connection limits for the agent-facing listeners, so one agent cannot exhaust the gateway: head,
 * body-stall and idle timeouts, a per-agent cap on open connections, and the tunnel's first-byte
 * peek. Untrusted: every connection and byte an agent opens or sends (or does not send).
 */
import http, { type IncomingMessage } from "node:http";
import type { Socket } from "node:net";

/** Limits that keep one agent from exhausting the gateway. */
export interface ProxyLimits {
  /** A request body with no byte for this long is answered 408 and its connection closed. */
  readonly bodyTimeoutMs: number;
  /** A request head not complete after this long: 408 and closed (also idle new connections). */
  readonly headersTimeoutMs: number;
  /** Idle keep-alive connections are closed after this long. */
  readonly keepAliveTimeoutMs: number;
  /** Open connections (tunnels included) one agent may hold; beyond it 429 and closed. */
  readonly maxConnectionsPerAgent: number;
}

export const DEFAULT_PROXY_LIMITS: ProxyLimits = {
  bodyTimeoutMs: 30_000,
  headersTimeoutMs: 20_000,
  keepAliveTimeoutMs: 30_000,
  maxConnectionsPerAgent: 256,
};

/**
 * A server with the limits applied. Every header reaches the framing check (framing.ts caps the
 * count): Node's default cut at 2000 would hide later headers from it while llhttp still honours them.
 */
export function limitedServer(options: http.ServerOptions): http.Server {
  const server = http.createServer(options);
  server.maxHeadersCount = 0;
  return server;
}

/** Node server options carrying the limits (head timeout checked every quarter of it, at most 5 s). */
export function serverOptions(l: ProxyLimits): http.ServerOptions {
  return {
    maxHeaderSize: 32 * 1024,
    requestTimeout: 0,
    headersTimeout: l.headersTimeoutMs,
    keepAliveTimeout: l.keepAliveTimeoutMs,
    connectionsCheckingInterval: Math.max(250, Math.min(5_000, Math.floor(l.headersTimeoutMs / 4))),
  };
}

/**
 * Counts each agent's open connections; a connection counts once, from its first request, for the
 * agent of its latest request. A client may pool proxy connections across credentials (Node's
 * global agent does): a request with other credentials moves the connection to that agent, if it
 * has room. Each request is authenticated on its own either way.
 */
export function createConnectionCounter(max: number) {
  const open = new Map<string, number>();
  const owner = new WeakMap<Socket, string>();
  const add = (agent: string, delta: number): void => {
    const n = (open.get(agent) ?? 0) + delta;
    if (n > 0) open.set(agent, n);
    else open.delete(agent);
  };
  return {
    admit(agent: string, socket: Socket): boolean {
      const known = owner.get(socket);
      if (known === agent) return true;
      if ((open.get(agent) ?? 0) >= max) return false;
      owner.set(socket, agent);
      add(agent, 1);
      if (known !== undefined) add(known, -1);
      else
        socket.once("close", () => {
          const last = owner.get(socket);
          if (last !== undefined) add(last, -1);
        });
      return true;
    },
    agentOf: (socket: Socket): string | undefined => owner.get(socket),
  };
}

/** The first bytes a tunnel's client sends, or undefined on hang-up (FIN too) or `ms` of silence. */
export function firstChunk(socket: Socket, ms: number): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    if (socket.readableEnded || socket.destroyed) return resolve(undefined);
    const done = (chunk?: Buffer): void => {
      clearTimeout(timer);
      socket.off("data", done);
      socket.off("end", gone);
      socket.off("close", gone);
      resolve(chunk);
    };
    const gone = (): void => done(undefined);
    const timer = setTimeout(gone, ms);
    socket.on("data", done);
    socket.once("end", gone);
    socket.once("close", gone);
  });
}

/**
 * Calls `onStall` when a request body is being read but no byte came for `ms`. Time spent while
 * nobody reads (policy, approval) or while upstream pushes back (paused pipe) is not the agent's.
 * Progress is read from the socket's byte counter: a 'data' listener here would start the flow.
 */
export function watchBody(req: IncomingMessage, ms: number, onStall: () => void): () => void {
  if (req.complete) return () => undefined;
  const socket = req.socket;
  let seen = socket.bytesRead;
  let since = Date.now();
  const timer = setInterval(
    () => {
      if (req.complete || req.destroyed) return clearInterval(timer);
      const now = Date.now();
      if (socket.bytesRead !== seen || req.readableFlowing !== true) {
        seen = socket.bytesRead;
        since = now;
        return;
      }
      if (now - since < ms) return;
      clearInterval(timer);
      onStall();
    },
    Math.max(50, Math.floor(ms / 4)),
  );
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * A signal for "the agent hung up", built only when asked for (only a request held for a human
 * waits on one): an AbortController per request is a measurable share of the proxy's CPU. Call
 * `hungUp()` when the agent goes; a signal asked for afterwards is already aborted.
 */
export function lazyHangup(): { hungUp(): void; signal(): AbortSignal } {
  let controller: AbortController | undefined;
  let gone = false;
  return {
    hungUp() {
      gone = true;
      controller?.abort();
    },
    signal() {
      controller ??= new AbortController();
      if (gone) controller.abort();
      return controller.signal;
    },
  };
}
