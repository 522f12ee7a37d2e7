/**
 * The runner's only way out: every HTTP request goes to the Warden proxy, never to its target.
 * Plain http:// is sent in absolute-form; https:// opens a CONNECT tunnel and speaks TLS inside it,
 * trusting only the CA bundle we are given (the gateway intercepts every tunnel with a leaf signed by
 * the Warden CA). Nothing here follows redirects or retries: callers decide what an answer means.
 */
import http, { type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders } from "node:http";
import type { Duplex } from "node:stream";
import tls from "node:tls";
import { RunnerError } from "./errors.js";

/** Where the proxy listens and, when the proxy URL carried userinfo, the credentials to send it. */
export interface ProxyEndpoint {
  readonly host: string;
  readonly port: number;
  /** `Basic …` value; absent in containers, where the Unix socket is the identity. */
  readonly authorization?: string;
}

/** One request to send through the proxy. */
export interface ProxiedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Buffer;
  /** Bytes of body kept; the rest is dropped and `truncated` set. Default 16 MiB. */
  readonly maxBytes?: number;
  /** Whole-exchange limit. Default none: the gateway may hold a request for a human's approval. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  /** PEM bundle trusted for https:// targets (required for them). */
  readonly ca?: string | Buffer;
}

/** The answer, whether it came from the target or from the gateway refusing the request. */
export interface ProxiedResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  readonly truncated: boolean;
}

/** Parses `http://[user:pass@]host:port`; userinfo becomes a `Proxy-Authorization: Basic` value. */
export function parseProxyUrl(url: string): ProxyEndpoint {
  let u: URL;
  try {
    u = new URL(url);
  } catch (cause) {
    throw new RunnerError("bad_config", `proxy URL is not a URL: ${url}`, { cause });
  }
  if (u.protocol !== "http:") throw new RunnerError("bad_config", "proxy URL must start with http://");
  const host = u.hostname.replace(/^\[|\]$/g, "");
  const port = u.port ? Number(u.port) : 80;
  if (!u.username) return { host, port };
  const creds = `${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`;
  return { host, port, authorization: `Basic ${Buffer.from(creds).toString("base64")}` };
}

/**
 * Sends `req` through the proxy and collects the response body (up to `maxBytes`). Throws
 * `proxy_unreachable` when the proxy cannot be reached or times out, and the caller's own abort reason
 * when `req.signal` fires (so loops can tell "stop" from "try again").
 */
export async function sendViaProxy(proxy: ProxyEndpoint, req: ProxiedRequest): Promise<ProxiedResponse> {
  try {
    return await send(proxy, req);
  } catch (err) {
    if (req.signal?.aborted) throw req.signal.reason ?? err;
    throw err;
  }
}

async function send(proxy: ProxyEndpoint, req: ProxiedRequest): Promise<ProxiedResponse> {
  const target = new URL(req.url);
  if (target.protocol !== "http:" && target.protocol !== "https:") {
    throw new RunnerError(
      "bad_config",
      `only http:// and https:// URLs are supported, got ${target.protocol}`,
    );
  }
  const signals = [req.signal, req.timeoutMs ? AbortSignal.timeout(req.timeoutMs) : undefined];
  const signal = AbortSignal.any(signals.filter((s): s is AbortSignal => s !== undefined));
  const auth: OutgoingHttpHeaders = proxy.authorization ? { "proxy-authorization": proxy.authorization } : {};
  const headers: OutgoingHttpHeaders = { ...req.headers, host: target.host };
  if (req.body !== undefined) headers["content-length"] = Buffer.byteLength(req.body);

  let options: http.RequestOptions;
  if (target.protocol === "http:") {
    // agent: false = a fresh connection per request; the forwarder pipes each one separately.
    options = {
      host: proxy.host,
      port: proxy.port,
      path: target.href,
      headers: { ...headers, ...auth },
      agent: false,
    };
  } else {
    if (req.ca === undefined) throw new RunnerError("bad_config", "https:// needs the Warden CA bundle");
    const tunnel = await openTunnel(proxy, target, auth, signal);
    if ("refused" in tunnel) return tunnel.refused;
    const socket = tls.connect({ socket: tunnel.socket, servername: target.hostname, ca: req.ca });
    // http.request attaches its own listener a tick later and reports the failure; this one only
    // keeps an early handshake error from being an uncaught exception in between.
    socket.on("error", () => {});
    // No `agent` here: with one, Node ignores createConnection and dials the target directly.
    options = { path: `${target.pathname}${target.search}`, headers, createConnection: () => socket };
  }
  return exchange({ ...options, method: req.method, signal }, req.body, req.maxBytes);
}

function exchange(
  options: http.RequestOptions,
  body: string | Buffer | undefined,
  maxBytes = 16 * 1024 * 1024,
): Promise<ProxiedResponse> {
  return new Promise((resolve, reject) => {
    const request = http.request(options, (res) => {
      collect(res, res, maxBytes).then(
        ({ body: data, truncated }) =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: data, truncated }),
        reject,
      );
    });
    request.on("error", (cause) => reject(unreachable(cause)));
    request.end(body);
  });
}

type Tunnel = { socket: Duplex } | { refused: ProxiedResponse };

/** CONNECTs to the target; a refusal (e.g. 403 host_not_allowed) is returned as a response. */
function openTunnel(proxy: ProxyEndpoint, target: URL, auth: OutgoingHttpHeaders, signal: AbortSignal) {
  const authority = `${target.hostname}:${target.port || 443}`;
  return new Promise<Tunnel>((resolve, reject) => {
    const request = http.request({
      host: proxy.host,
      port: proxy.port,
      method: "CONNECT",
      path: authority,
      headers: { host: authority, ...auth },
      agent: false,
      signal,
    });
    request.on("connect", (res: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (res.statusCode === 200) {
        if (head.length > 0) socket.unshift(head);
        return resolve({ socket });
      }
      // The gateway writes its error with connection: close, so the body ends with the socket.
      if (head.length > 0) socket.unshift(head);
      collect(socket, socket, 64 * 1024).then(
        ({ body, truncated }) =>
          resolve({ refused: { status: res.statusCode ?? 0, headers: res.headers, body, truncated } }),
        reject,
      );
    });
    request.on("error", (cause) => reject(unreachable(cause)));
    request.end();
  });
}

function collect(stream: NodeJS.ReadableStream, owner: { destroy(): void }, maxBytes: number) {
  return new Promise<{ body: Buffer; truncated: boolean }>((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (truncated: boolean) => {
      if (done) return;
      done = true;
      resolve({ body: Buffer.concat(parts).subarray(0, maxBytes), truncated });
    };
    stream.on("data", (chunk: Buffer) => {
      parts.push(chunk);
      size += chunk.length;
      // Stop reading rather than draining: an endless stream would otherwise hold the tool forever.
      if (size > maxBytes) {
        finish(true);
        owner.destroy();
      }
    });
    stream.on("end", () => finish(false));
    stream.on("close", () => finish(false));
    stream.on("error", (cause) => {
      if (!done) reject(unreachable(cause));
    });
  });
}

function unreachable(cause: unknown): RunnerError {
  if (cause instanceof RunnerError) return cause;
  const what = cause instanceof Error ? cause.message : String(cause);
  return new RunnerError("proxy_unreachable", `request through the Warden proxy failed: ${what}`, { cause });
}
