/**
 * Sends a cleared request upstream and streams the answer back. Upstream is untrusted too: its TLS
 * is verified (system roots + --upstream-ca), its hop-by-hop headers are dropped, redirects are
 * passed back unfollowed, and when the exchange involved secrets any echo of a real value in headers
 * or body is replaced by the placeholder (compressed bodies are decoded first so an echo cannot hide).
 */
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import https from "node:https";
import { isIP, type Socket } from "node:net";
import { pipeline, Transform } from "node:stream";
import { createSecureContext, rootCertificates, type SecureContext } from "node:tls";
import { createBrotliDecompress, createGunzip, createInflate } from "node:zlib";
import { GatewayError } from "./errors.js";
import type { BodyFraming } from "./framing.js";
import { endToEnd, getHeader, type HeaderPairs, pairsOf } from "./headers.js";
import { createScrubber, scrub, scrubBytes } from "./inject.js";
import type { Cleared } from "./pipeline.js";
import type { Target } from "./target.js";
import { createUpstreamPools, type UpstreamPools } from "./upstream-pools.js";
import { refuseHandshake, relayWebSocket } from "./ws-relay.js";

/** Keep-alive pools to upstreams, per agent and scheme (never shared between agents). */
export interface Upstreams {
  readonly pools: UpstreamPools;
  /** CA list, and the context built from it, for fresh (non-pooled) connections such as upgrades. */
  readonly ca: readonly string[];
  readonly secureContext: SecureContext;
}

/** Creates the pools; `extraCa` are PEM certificates trusted besides the system roots. */
export function createUpstreams(extraCa: readonly string[]): Upstreams {
  const ca = [...rootCertificates, ...extraCa];
  // One context built once: passing `ca` instead would rebuild the trust store on every new
  // connection and paste ~150 certificates into the pool key of every request.
  const secureContext = createSecureContext({ ca });
  return { pools: createUpstreamPools(secureContext), ca, secureContext };
}

const TLS_ERROR = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY|HOSTNAME|ERR_TLS/i;

function upstreamError(err: NodeJS.ErrnoException, host: string): GatewayError {
  const tls = TLS_ERROR.test(err.code ?? "") || TLS_ERROR.test(err.message);
  return tls
    ? new GatewayError("upstream_tls", `TLS verification of ${host} failed`, {}, { cause: err })
    : new GatewayError("upstream_unreachable", `cannot reach ${host}`, {}, { cause: err });
}

function headerObject(pairs: HeaderPairs): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [n, v] of pairs) {
    const prev = out[n];
    out[n] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

function requestOptions(
  up: Upstreams,
  target: Target,
  c: Cleared,
  method: string,
  pool: string | false,
): https.RequestOptions {
  const tls = target.scheme === "https";
  const pools = pool === false ? undefined : up.pools.of(pool);
  return {
    host: c.address,
    port: c.port,
    method,
    path: c.pathAndQuery,
    headers: headerObject(c.headers),
    setHost: false,
    agent: pools ? (tls ? pools.https : pools.http) : false,
    // The pooled agent carries the CA list itself; passing it per request would bloat the pool key.
    ...(tls
      ? { servername: isIP(target.host) ? undefined : target.host, ...(pool ? {} : { ca: [...up.ca] }) }
      : {}),
  };
}

/**
 * Response headers for the agent: end-to-end only, echoed secrets scrubbed. A rewritten body
 * changes length, so its Content-Length goes; a response without a body (HEAD, 204, 304) keeps it.
 */
function responseHeaders(
  upRes: IncomingMessage,
  c: Cleared,
  rewriting: boolean,
  bodyless = false,
): HeaderPairs {
  let pairs = endToEnd(pairsOf(upRes.rawHeaders));
  // A header whose name carries a secret is dropped: a scrubbed name may not be a valid token.
  if (c.bindings.length > 0)
    pairs = pairs
      .filter(([n]) => scrub(n, c.bindings) === n)
      .map(([n, v]): [string, string] => [n, scrub(v, c.bindings)]);
  if (rewriting) {
    const encoded = upRes.headers["content-encoding"] !== undefined;
    const drop = bodyless && !encoded ? /^content-encoding$/i : /^(content-length|content-encoding)$/i;
    pairs = pairs.filter(([n]) => !drop.test(n));
  }
  return pairs;
}

/** Whether a response to `method` carries no body whatever its headers say (RFC 9112 §6.3). */
function isBodyless(method: string, status: number): boolean {
  return method === "HEAD" || status === 204 || status === 304 || (status >= 100 && status < 200);
}

/**
 * The request headers with the body framing the gateway chose: the agent's (validated)
 * Content-Length, or `transfer-encoding: chunked` set here, or neither when there is no body.
 * Never what the agent's Transfer-Encoding said: that header is hop-by-hop and was dropped.
 */
function framedHeaders(c: Cleared, framing: BodyFraming): HeaderPairs {
  const headers = c.headers.filter(([n]) => !/^(transfer-encoding|content-length)$/i.test(n));
  if (c.body) headers.push(["content-length", String(c.body.length)]);
  else if (framing.kind === "length") headers.push(["content-length", String(framing.length)]);
  else if (framing.kind === "chunked") headers.push(["transfer-encoding", "chunked"]);
  return headers;
}

/**
 * The stages that undo a response's content codings, last applied first, so the scrubber sees
 * plain bytes. A coding we cannot undo (zstd, anything unknown) fails the body instead of letting
 * compressed bytes, which could hide a value, through with their Content-Encoding stripped.
 */
function decoders(encoding: string | undefined): Transform[] {
  const codings = (encoding ?? "")
    .split(",")
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== "" && c !== "identity");
  return codings.reverse().map((coding) => {
    switch (coding) {
      case "gzip":
      case "x-gzip":
        return createGunzip();
      case "deflate":
        return createInflate();
      case "br":
        return createBrotliDecompress();
      default:
        return new Transform({
          transform: (_chunk, _enc, done) => done(new Error("unsupported content-encoding")),
        });
    }
  });
}

/**
 * Forwards one HTTP exchange on `agent`'s own upstream pool. The body goes with the framing
 * `framing` describes (checked by framing.ts) and nothing else. Rejects with a GatewayError only
 * before the response head is sent.
 */
export function forward(
  up: Upstreams,
  agent: string,
  target: Target,
  c: Cleared,
  req: IncomingMessage,
  res: ServerResponse,
  framing: BodyFraming,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const mod = target.scheme === "https" ? https : http;
    const method = req.method ?? "GET";
    const opts = requestOptions(up, target, { ...c, headers: framedHeaders(c, framing) }, method, agent);
    const upReq = mod.request(opts);
    upReq.on("socket", (socket) => up.pools.claim(socket));
    upReq.on("error", (err) => {
      if (!res.headersSent) reject(upstreamError(err, target.host));
      else res.destroy();
    });
    // Destroyed before any answer without an 'error' (the agent left while its request was still
    // queued for a socket): settle anyway, so the exchange is audited as not completed.
    upReq.once("close", () => {
      if (!res.headersSent) reject(upstreamError(new Error("closed before an answer"), target.host));
    });
    // The agent going away before its answer is written ends the upstream exchange too: a queued
    // (pipelined) response has no socket yet and may never see its own "close".
    const agentGone = (): void => {
      if (!res.writableFinished) upReq.destroy();
    };
    res.on("close", agentGone);
    req.socket.once("close", agentGone);
    // The answer is out while the agent's body is not finished (a client may stop uploading once it
    // has its answer): the upstream request can never be completed, so its connection goes.
    res.once("finish", () => {
      req.socket.off("close", agentGone);
      if (!req.complete) upReq.destroy();
    });
    // A body that breaks off (bad chunk, hang-up, stall) must not leave a half request upstream.
    req.on("error", () => upReq.destroy());
    req.on("close", () => {
      if (!req.complete) upReq.destroy();
    });
    upReq.on("response", (upRes) => {
      // An answer before the whole body was written means the upstream may read the rest of the
      // body as a next request: that connection is not reused.
      if (!upReq.writableFinished) upReq.shouldKeepAlive = false;
      const rewriting = c.bindings.length > 0;
      const bodyless = isBodyless(method, upRes.statusCode ?? 502);
      res.writeHead(
        upRes.statusCode ?? 502,
        scrub(upRes.statusMessage ?? "", c.bindings),
        responseHeaders(upRes, c, rewriting, bodyless).flat(),
      );
      resolve(upRes.statusCode ?? 502);
      if (!rewriting) return relay(upRes, res);
      const stages = [...decoders(upRes.headers["content-encoding"]), createScrubber(c.bindings)];
      // biome-ignore lint/suspicious/noExplicitAny: stream.pipeline's variadic overloads
      (pipeline as any)(upRes, ...stages, res, () => undefined);
    });
    if (c.body) upReq.end(c.body);
    else if (framing.kind === "none") upReq.end();
    else req.pipe(upReq);
  });
}

/**
 * Streams an answer body that needs no rewriting to the agent: `pipe`, plus what pipe leaves open.
 * An answer that breaks off (error, or closed before its end) destroys the agent's response, so a
 * cut body is never ended as if it were whole; the agent leaving ends the upstream exchange (see
 * `agentGone`). Cheaper per request than stream.pipeline, which builds an AbortController, aborts
 * it (a DOMException) and watches both ends with end-of-stream listeners.
 */
function relay(upRes: IncomingMessage, res: ServerResponse): void {
  upRes.on("error", () => res.destroy());
  upRes.once("close", () => {
    if (!upRes.readableEnded) res.destroy();
  });
  // A write after the response was ended or cut emits 'error' on it; nothing more is sent then.
  res.on("error", () => upRes.destroy());
  upRes.pipe(res);
}

/** Forwards a WebSocket (or other) upgrade; frames then flow both ways untouched. */
export function forwardUpgrade(
  up: Upstreams,
  target: Target,
  c: Cleared,
  method: string,
  client: Socket,
  head: Buffer,
) {
  const mod = target.scheme === "https" ? https : http;
  // No extension is ever negotiated, so every frame's payload can be read and scrubbed.
  const headers = c.headers.filter(([n]) => n.toLowerCase() !== "sec-websocket-extensions");
  const upReq = mod.request(requestOptions(up, target, { ...c, headers }, method, false));
  upReq.on("error", (err) => writeRaw(client, upstreamError(err, target.host)));
  upReq.on("upgrade", (upRes, upSocket, upHead) => {
    const why = refuseHandshake(getHeader(headers, "sec-websocket-protocol"), upRes.headers);
    if (why) {
      upSocket.destroy();
      writeRaw(client, new GatewayError("upstream_unreachable", `cannot relay ${target.host}: ${why}`));
      return;
    }
    const status = `${upRes.statusCode ?? 101} ${scrub(upRes.statusMessage ?? "Switching Protocols", c.bindings)}`;
    const lines = [`HTTP/1.1 ${status}`];
    for (const [n, v] of pairsOf(upRes.rawHeaders)) {
      if (scrub(n, c.bindings) === n) lines.push(`${n}: ${scrub(v, c.bindings)}`);
    }
    client.write(`${lines.join("\r\n")}\r\n\r\n`);
    relayWebSocket({
      client,
      upstream: upSocket,
      clientHead: head,
      upstreamHead: upHead,
      scrub: (data) => scrubBytes(data, c.bindings),
    });
  });
  upReq.on("response", (upRes) => {
    const lines = [`HTTP/1.1 ${upRes.statusCode ?? 502} ${scrub(upRes.statusMessage ?? "", c.bindings)}`];
    for (const [n, v] of responseHeaders(upRes, c, true)) lines.push(`${n}: ${v}`);
    lines.push("connection: close");
    client.write(`${lines.join("\r\n")}\r\n\r\n`);
    const stages = [...decoders(upRes.headers["content-encoding"]), createScrubber(c.bindings)];
    // biome-ignore lint/suspicious/noExplicitAny: stream.pipeline's variadic overloads
    (pipeline as any)(upRes, ...stages, client, () => undefined);
  });
  upReq.end();
}

/** Writes a refusal on a raw socket (CONNECT and upgrade paths) and closes it. */
export function writeRaw(socket: Socket, err: GatewayError): void {
  if (socket.destroyed) return;
  const body = err.toBody();
  const head = [`HTTP/1.1 ${err.status} ${http.STATUS_CODES[err.status] ?? ""}`];
  for (const [n, v] of Object.entries(err.headers())) head.push(`${n}: ${v}`);
  head.push(`content-length: ${Buffer.byteLength(body)}`, "connection: close");
  socket.end(`${head.join("\r\n")}\r\n\r\n${body}`);
}
