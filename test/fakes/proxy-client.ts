/**
 * Real clients going through the gateway the way an agent would: absolute-form HTTP requests,
 * CONNECT + TLS (trusting only the Warden CA), and WebSockets via `ws`. Request targets are sent
 * byte for byte as given (no URL normalisation), so path tricks reach the gateway untouched.
 */
import { type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders, request } from "node:http";
import { connect as netConnect, type Socket } from "node:net";
import { type TLSSocket, connect as tlsConnect } from "node:tls";
import { WebSocket } from "ws";
import type { HostPort } from "./gateway-process.js";

/** What a client needs to reach the gateway. */
export interface ProxyTarget {
  readonly proxy: HostPort;
  readonly caPem: string;
}

/** Agent credentials for `Proxy-Authorization`; `null` sends none, a string is sent verbatim. */
export type ProxyAuth = { readonly agent: string; readonly token: string } | string | null;

export interface ProxiedResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  readonly text: string;
  /** `x-warden-error`, when the gateway answered with an error. */
  readonly errorCode: string | undefined;
  // biome-ignore lint/suspicious/noExplicitAny: tests read fields of arbitrary JSON bodies.
  json(): any;
}

export interface ProxyRequestInit {
  readonly method?: string;
  readonly headers?: OutgoingHttpHeaders;
  readonly body?: string | Buffer;
  readonly auth: ProxyAuth;
  readonly signal?: AbortSignal;
  /** Called for each response body chunk as it arrives. */
  readonly onChunk?: (chunk: Buffer) => void;
}

/** Builds a `Proxy-Authorization` value. */
export function basicAuth(agent: string, token: string): string {
  return `Basic ${Buffer.from(`${agent}:${token}`).toString("base64")}`;
}

function authHeader(auth: ProxyAuth): OutgoingHttpHeaders {
  if (auth === null) return {};
  return { "proxy-authorization": typeof auth === "string" ? auth : basicAuth(auth.agent, auth.token) };
}

/** Splits `scheme://authority/rest` without normalising anything. */
export function splitUrl(url: string): {
  scheme: "http" | "https" | "ws" | "wss";
  authority: string;
  hostname: string;
  port: number;
  rest: string;
} {
  const match = /^(https?|wss?):\/\/([^/?#]+)(.*)$/s.exec(url);
  if (!match?.[1] || !match[2]) throw new Error(`not an absolute URL: ${url}`);
  const scheme = match[1] as "http" | "https" | "ws" | "wss";
  const authority = match[2];
  const portMatch = /:(\d+)$/.exec(authority);
  const hostname = (portMatch ? authority.slice(0, -portMatch[0].length) : authority).replace(/^\[|\]$/g, "");
  const port = portMatch?.[1] ? Number(portMatch[1]) : scheme === "https" || scheme === "wss" ? 443 : 80;
  return { scheme, authority, hostname, port, rest: match[3] || "/" };
}

function collect(res: IncomingMessage, onChunk?: (chunk: Buffer) => void): Promise<ProxiedResponse> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    res.on("data", (chunk: Buffer) => {
      onChunk?.(chunk);
      if (!onChunk) parts.push(chunk);
    });
    res.on("error", reject);
    res.on("aborted", () => reject(new Error("response aborted")));
    res.on("end", () => {
      const body = Buffer.concat(parts);
      const text = body.toString("utf8");
      const code = res.headers["x-warden-error"];
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        body,
        text,
        errorCode: Array.isArray(code) ? code[0] : code,
        json: () => JSON.parse(text),
      });
    });
  });
}

/** Result of a CONNECT: on 200 the socket is the raw tunnel. */
export interface Tunnel {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly socket: Socket;
  /** For non-200 answers: the body that followed the status line, read until close or timeout. */
  readonly body: string;
}

/** Sends `CONNECT authority` to the gateway. */
export function openTunnel(gw: ProxyTarget, authority: string, auth: ProxyAuth): Promise<Tunnel> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: gw.proxy.host,
      port: gw.proxy.port,
      method: "CONNECT",
      path: authority,
      agent: false,
      headers: { host: authority, ...authHeader(auth) },
    });
    req.on("error", reject);
    req.on("connect", (res: IncomingMessage, socket: Socket, head: Buffer) => {
      const status = res.statusCode ?? 0;
      if (status === 200) {
        if (head.length) socket.unshift(head);
        resolve({ status, headers: res.headers, socket, body: "" });
        return;
      }
      const parts = [head];
      const length = Number(res.headers["content-length"] ?? Number.NaN);
      const done = (): void => {
        clearTimeout(timer);
        socket.destroy();
        resolve({ status, headers: res.headers, socket, body: Buffer.concat(parts).toString("utf8") });
      };
      const timer = setTimeout(done, 2000);
      socket.on("data", (c: Buffer) => {
        parts.push(c);
        if (Buffer.concat(parts).length >= length) done();
      });
      socket.on("close", done);
      socket.on("error", done);
      if (Buffer.concat(parts).length >= length) done();
    });
    req.end();
  });
}

/** TLS over an open tunnel, trusting only the Warden CA. */
export function tlsOverTunnel(socket: Socket, servername: string, caPem: string): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const tls = tlsConnect({ socket, servername, ca: [caPem] }, () => resolve(tls));
    tls.once("error", reject);
  });
}

/** CONNECT + TLS in one go; throws unless the tunnel was accepted. */
export async function tunnelTls(
  gw: ProxyTarget,
  hostname: string,
  port: number,
  auth: ProxyAuth,
): Promise<TLSSocket> {
  const tunnel = await openTunnel(gw, `${hostname}:${port}`, auth);
  if (tunnel.status !== 200) throw new Error(`CONNECT ${hostname}:${port} → ${tunnel.status} ${tunnel.body}`);
  return tlsOverTunnel(tunnel.socket, hostname, gw.caPem);
}

/**
 * One request through the gateway. `http://` URLs go out in absolute form with
 * `Proxy-Authorization`; `https://` URLs go through CONNECT (authenticated) and TLS.
 */
export async function proxyRequest(
  gw: ProxyTarget,
  url: string,
  init: ProxyRequestInit,
): Promise<ProxiedResponse> {
  const { scheme, authority, hostname, port, rest } = splitUrl(url);
  const body = init.body === undefined ? undefined : Buffer.from(init.body);
  const lengthHeader = body ? { "content-length": body.length } : {};
  if (scheme === "http") {
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: gw.proxy.host,
          port: gw.proxy.port,
          method: init.method ?? "GET",
          path: url,
          agent: false,
          signal: init.signal,
          headers: { host: authority, ...lengthHeader, ...init.headers, ...authHeader(init.auth) },
        },
        (res) => collect(res, init.onChunk).then(resolve, reject),
      );
      req.on("error", reject);
      req.end(body);
    });
  }
  const tls = await tunnelTls(gw, hostname, port, init.auth);
  return requestOverTls(tls, authority, rest, init);
}

/** One HTTP/1.1 request over an already established TLS tunnel (origin-form `path`). */
export function requestOverTls(
  tls: TLSSocket,
  authority: string,
  path: string,
  init: Omit<ProxyRequestInit, "auth">,
): Promise<ProxiedResponse> {
  const body = init.body === undefined ? undefined : Buffer.from(init.body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        createConnection: () => tls,
        method: init.method ?? "GET",
        path,
        signal: init.signal,
        headers: { host: authority, ...(body ? { "content-length": body.length } : {}), ...init.headers },
      },
      (res) => collect(res, init.onChunk).then(resolve, reject),
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** Why a WebSocket handshake through the gateway was refused. */
export class WebSocketRefused extends Error {
  constructor(
    readonly status: number,
    readonly headers: IncomingHttpHeaders,
  ) {
    super(`WebSocket upgrade refused with ${status}`);
  }
}

/**
 * Opens a WebSocket through the gateway: `ws://` as an absolute-form GET with Upgrade, `wss://`
 * through CONNECT + TLS. Rejects with `WebSocketRefused` when the handshake is answered otherwise.
 */
export function proxyWebSocket(
  gw: ProxyTarget,
  url: string,
  auth: ProxyAuth,
  headers: Record<string, string> = {},
): Promise<WebSocket> {
  const { scheme, hostname, port } = splitUrl(url);
  const secure = scheme === "wss";
  const ws = new WebSocket(url, {
    headers,
    createConnection: ((_opts: unknown, cb: (err: Error | null, socket?: Socket) => void) => {
      if (!secure) return netConnect(gw.proxy.port, gw.proxy.host);
      tunnelTls(gw, hostname, port, auth).then(
        (tls) => cb(null, tls),
        (err: Error) => cb(err),
      );
      return undefined;
    }) as unknown as typeof netConnect,
    finishRequest: (req) => {
      if (!secure) {
        // Absolute form is what a proxy expects; ws itself only knows origin form.
        req.path = `http${url.slice(2)}`;
        for (const [k, v] of Object.entries(authHeader(auth))) req.setHeader(k, v as string);
      }
      req.end();
    },
  });
  return new Promise((resolve, reject) => {
    ws.once("open", () => resolve(ws));
    ws.once("unexpected-response", (_req, res) => {
      reject(new WebSocketRefused(res.statusCode ?? 0, res.headers));
      res.resume();
      ws.terminate();
    });
    ws.once("error", reject);
  });
}
