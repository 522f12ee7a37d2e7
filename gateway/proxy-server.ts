/**
 * The agent-facing listeners. Untrusted: every byte an agent sends. Over TCP an agent proves who it
 * is with Proxy-Authorization (else 407, nothing forwarded); on its Unix socket the socket is the
 * identity. CONNECT tunnels are always TLS-intercepted with a leaf for the CONNECT host, so every
 * request inside is checked like a plain one; a tunnel to a host no policy allows is refused early.
 */
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { TLSSocket } from "node:tls";
import { findPolicy } from "../policies/index.js";
import type { Approver } from "./approver.js";
import type { CertificateAuthority } from "./ca.js";
import { GatewayError } from "./errors.js";
import { forward, forwardUpgrade, type Upstreams, writeRaw } from "./forward.js";
import { setHeader } from "./headers.js";
import type { Log } from "./log.js";
import type { Metrics } from "./metrics.js";
import { clear, type PipelineContext } from "./pipeline.js";
import { parseAbsoluteForm, parseAuthority, type Target } from "./target.js";

/** Serves requests to the reserved host `warden.internal` (agent inbox/outbox; see agents/). */
export type InternalHandler = (agent: string, req: IncomingMessage, res: ServerResponse) => void;

export interface ProxyDeps extends PipelineContext {
  readonly ca: CertificateAuthority;
  readonly upstreams: Upstreams;
  readonly audit: (entry: Record<string, unknown>) => void;
  readonly log: Log;
  readonly metrics: Metrics;
  readonly approver?: Approver;
  readonly internal?: InternalHandler;
}

export const INTERNAL_HOST = "warden.internal";
const HANDSHAKE_TIMEOUT_MS = 15_000;

const SERVER_OPTIONS: http.ServerOptions = {
  maxHeaderSize: 32 * 1024,
  requestTimeout: 0,
  keepAliveTimeout: 30_000,
};

/** Builds the listeners' request machinery; `closing()` reports whether shutdown began. */
export function createProxy(deps: ProxyDeps) {
  const tunnels = new WeakMap<Socket, { agent: string; host: string; port: number }>();
  let inflight = 0;
  let closing = false;

  async function handle(
    agent: string,
    target: Target,
    pathAndQuery: string,
    req: IncomingMessage,
    res: ServerResponse,
  ) {
    const started = performance.now();
    const method = req.method ?? "GET";
    const base = { agent, method, host: target.host, port: target.port, path: pathAndQuery.split("?")[0] };
    if (target.host === INTERNAL_HOST && deps.internal) return deps.internal(agent, req, res);
    inflight++;
    const aborted = new AbortController();
    // Only a hang-up before the response is an abort (it drops a held request's waiter); aborting
    // after every normal response would cost a DOMException per request.
    res.once("close", () => {
      if (!res.writableFinished) aborted.abort();
    });
    try {
      if (closing) throw new GatewayError("gateway_shutting_down", "gateway is shutting down");
      const cleared = await clear(
        deps,
        { agent, method, target, pathAndQuery, message: req },
        aborted.signal,
      );
      deps.audit({ type: "request", ...cleared.audit });
      const status = await forward(deps.upstreams, target, cleared, req, res);
      deps.metrics.count(cleared.audit.verdict === "approve" ? "approved" : "allow");
      deps.log("egress", { ...base, verdict: cleared.audit.verdict, rule: cleared.audit.rule, status });
    } catch (err) {
      refuse(res, toGatewayError(err), base);
    } finally {
      inflight--;
      deps.metrics.observe((performance.now() - started) / 1000);
    }
  }

  function refuse(res: ServerResponse, e: GatewayError, base: Record<string, unknown>): void {
    const { policy, rule, approval } = e.context;
    const entry = { ...base, verdict: "deny", code: e.code, policy, rule, approval };
    deps.audit({ type: "request", ...entry });
    deps.metrics.count("deny", e.code);
    deps.log("egress", { ...entry, message: e.message });
    if (e.code === "secret_host_mismatch" || e.code === "secret_misplaced") {
      const alert = { kind: e.code, agent: String(base.agent), host: String(base.host), message: e.message };
      deps.approver?.alert?.(alert).catch(() => undefined);
    }
    if (res.headersSent || res.destroyed) return void res.destroy();
    const body = e.toBody();
    res.writeHead(e.status, { ...e.headers(), "content-length": Buffer.byteLength(body) });
    res.end(body);
  }

  async function upgrade(
    agent: string,
    target: Target,
    pathAndQuery: string,
    req: IncomingMessage,
    socket: Socket,
    head: Buffer,
  ) {
    const base = {
      agent,
      method: req.method,
      host: target.host,
      port: target.port,
      path: pathAndQuery.split("?")[0],
    };
    socket.on("error", () => socket.destroy());
    const aborted = new AbortController();
    socket.on("close", () => aborted.abort());
    try {
      if (closing) throw new GatewayError("gateway_shutting_down", "gateway is shutting down");
      const method = req.method ?? "GET";
      const cleared = await clear(
        deps,
        { agent, method, target, pathAndQuery, message: req },
        aborted.signal,
      );
      const headers = setHeader(
        setHeader(cleared.headers, "connection", "Upgrade"),
        "upgrade",
        String(req.headers.upgrade),
      );
      deps.audit({ type: "request", upgrade: true, ...cleared.audit });
      deps.metrics.count("allow");
      forwardUpgrade(deps.upstreams, target, { ...cleared, headers }, method, socket, head);
    } catch (err) {
      const e = toGatewayError(err);
      deps.audit({ type: "request", upgrade: true, ...base, verdict: "deny", code: e.code, ...e.context });
      deps.metrics.count("deny", e.code);
      writeRaw(socket, e);
    }
  }

  // Requests inside intercepted tunnels arrive here, decrypted; the tunnel says where they go.
  const inner = http.createServer(SERVER_OPTIONS);
  inner.on("request", (req, res) => {
    const t = tunnels.get(req.socket);
    if (!t || !req.url?.startsWith("/")) return refuse(res, badRequest("origin-form request expected"), {});
    void handle(t.agent, { scheme: "https", host: t.host, port: t.port }, req.url, req, res);
  });
  inner.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const t = tunnels.get(socket);
    if (!t || !req.url?.startsWith("/")) return writeRaw(socket, badRequest("origin-form request expected"));
    void upgrade(t.agent, { scheme: "https", host: t.host, port: t.port }, req.url, req, socket, head);
  });
  inner.on("clientError", (_err, socket) => socket.destroy());

  async function connect(agent: string, req: IncomingMessage, socket: Socket, head: Buffer) {
    socket.on("error", () => socket.destroy());
    const auth = parseAuthority(req.url ?? "", 443);
    if (!auth) return writeRaw(socket, badRequest("CONNECT target must be host:port"));
    if (closing)
      return writeRaw(socket, new GatewayError("gateway_shutting_down", "gateway is shutting down"));
    const set = deps.policies.set;
    // Refuse early (no TLS work) when every request in the tunnel would be refused anyway.
    if (
      auth.host !== INTERNAL_HOST &&
      !findPolicy(set, agent, auth.host) &&
      set.defaults.unknownHosts === "deny"
    ) {
      const e = new GatewayError("host_not_allowed", `no policy allows ${auth.host}`);
      deps.audit({
        type: "request",
        agent,
        method: "CONNECT",
        host: auth.host,
        port: auth.port,
        verdict: "deny",
        code: e.code,
      });
      deps.metrics.count("deny", e.code);
      return writeRaw(socket, e);
    }
    // The client may hang up while the leaf is minted; that FIN would never reach the TLS layer.
    let gone = false;
    const onGone = (): void => {
      gone = true;
    };
    socket.once("end", onGone);
    let context: Awaited<ReturnType<CertificateAuthority["secureContextFor"]>>;
    try {
      context = await deps.ca.secureContextFor(auth.host);
    } catch {
      return writeRaw(socket, badRequest("no certificate can be made for that host"));
    }
    socket.off("end", onGone);
    if (gone || socket.destroyed) return void socket.destroy();
    socket.write("HTTP/1.1 200 Connection Established\r\n\r\n");
    if (head.length > 0) socket.unshift(head);
    const tls = new TLSSocket(socket, {
      isServer: true,
      secureContext: context,
      ALPNProtocols: ["http/1.1"],
    });
    tls.on("error", () => tls.destroy());
    // A tunnel that never completes its handshake is closed instead of held open forever.
    const handshake = setTimeout(() => tls.destroy(), HANDSHAKE_TIMEOUT_MS);
    tls.once("secure", () => clearTimeout(handshake));
    tls.once("close", () => clearTimeout(handshake));
    tunnels.set(tls, { agent, ...auth });
    inner.emit("connection", tls);
  }

  /** A listener; `identify` names the agent of a request or returns undefined (→ 407). */
  function createListener(identify: (req: IncomingMessage) => string | undefined): http.Server {
    const server = http.createServer(SERVER_OPTIONS);
    const who = (req: IncomingMessage): string | GatewayError =>
      identify(req) ?? new GatewayError("proxy_auth_required", "proxy credentials missing or wrong");
    server.on("request", (req, res) => {
      const agent = who(req);
      if (agent instanceof GatewayError) return refuse(res, agent, { method: req.method });
      const parsed = parseAbsoluteForm(req.url ?? "");
      if (!parsed)
        return refuse(
          res,
          badRequest(
            "target must be an absolute http://host[:port]/path URL with a plain host name or IP address",
          ),
          { agent },
        );
      void handle(agent, parsed.target, parsed.pathAndQuery, req, res);
    });
    server.on("connect", (req: IncomingMessage, socket: Socket, head: Buffer) => {
      const agent = who(req);
      if (agent instanceof GatewayError) return writeRaw(socket, agent);
      void connect(agent, req, socket, head);
    });
    server.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => {
      const agent = who(req);
      if (agent instanceof GatewayError) return writeRaw(socket, agent);
      const parsed = parseAbsoluteForm(req.url ?? "");
      if (!parsed)
        return writeRaw(
          socket,
          badRequest(
            "target must be an absolute http://host[:port]/path URL with a plain host name or IP address",
          ),
        );
      void upgrade(agent, parsed.target, parsed.pathAndQuery, req, socket, head);
    });
    server.on("clientError", (err: NodeJS.ErrnoException, socket: Socket) => {
      if (!socket.writable) return socket.destroy();
      const status = err.code === "HPE_HEADER_OVERFLOW" ? 431 : 400;
      socket.end(
        `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`,
      );
    });
    return server;
  }

  return {
    createListener,
    inner,
    get inflight(): number {
      return inflight;
    },
    beginShutdown(): void {
      closing = true;
    },
  };
}

export type Proxy = ReturnType<typeof createProxy>;

function badRequest(message: string): GatewayError {
  return new GatewayError("bad_request", message);
}

function toGatewayError(err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
  return new GatewayError("internal_error", "the gateway failed to handle this request", {}, { cause: err });
}
