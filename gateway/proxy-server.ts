/**
 * The agent-facing listeners. Untrusted: every byte an agent sends. Over TCP an agent proves who it
 * is with Proxy-Authorization (else 407, nothing forwarded); on its Unix socket the socket is the
 * identity. CONNECT tunnels are TLS-intercepted with a leaf for the CONNECT host (or, when the first
 * byte is not a TLS record, served as plain HTTP to that host), so every request inside is checked
 * like a plain one; a tunnel to a host no policy allows is refused early. Framing is checked before
 * anything else (framing.ts); head, body, idle and per-agent connection limits keep one agent from
 * exhausting the process.
 */
import type http from "node:http";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { TLSSocket } from "node:tls";
import { findPolicy, portAllowed } from "../policies/index.js";
import type { Approver } from "./approver.js";
import type { CertificateAuthority } from "./ca.js";
import { GatewayError } from "./errors.js";
import { forward, forwardUpgrade, type Upstreams, writeRaw } from "./forward.js";
import {
  createConnectionCounter,
  DEFAULT_PROXY_LIMITS,
  firstChunk,
  lazyHangup,
  limitedServer,
  type ProxyLimits,
  serverOptions,
  watchBody,
} from "./connection-limits.js";
import { checkFraming, checkUpgrade } from "./framing.js";
import { pairsOf, setHeader } from "./headers.js";
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
  readonly limits?: Partial<ProxyLimits>;
}

export type { ProxyLimits } from "./connection-limits.js";

export const INTERNAL_HOST = "warden.internal";
const HANDSHAKE_TIMEOUT_MS = 15_000;

type Tunnel = { agent: string; host: string; port: number; scheme: "http" | "https" };

/** Builds the listeners' request machinery; `closing()` reports whether shutdown began. */
export function createProxy(deps: ProxyDeps) {
  const limits: ProxyLimits = { ...DEFAULT_PROXY_LIMITS, ...deps.limits };
  const SERVER_OPTIONS = serverOptions(limits);
  const tunnels = new WeakMap<Socket, Tunnel>();
  const connections = createConnectionCounter(limits.maxConnectionsPerAgent);
  // Connections refused for framing: requests Node already parsed behind the bad one are dropped.
  const poisoned = new WeakSet<Socket>();
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
    // Left unanswered: the connection closes once the refusal before it is written.
    if (poisoned.has(req.socket)) return;
    // Before anything else: a request two parsers could frame differently goes nowhere.
    const framing = checkFraming(method, req.httpVersion, pairsOf(req.rawHeaders));
    if (!framing.ok) return refuse(res, badRequest(framing.reason), base, true);
    if (target.host === INTERNAL_HOST && deps.internal) return deps.internal(agent, req, res);
    inflight++;
    let stalled = false;
    // A request framed without a body has nothing to stall on (no per-request timer then).
    const stopWatch =
      framing.body.kind === "none"
        ? () => undefined
        : watchBody(req, limits.bodyTimeoutMs, () => {
            stalled = true;
            refuse(res, new GatewayError("request_timeout", "request body stalled"), base, true);
            // The 408 is on its way; the connection goes even if the agent never reads it.
            setTimeout(() => req.socket.destroy(), 1000).unref();
          });
    const hangup = lazyHangup();
    // Only a hang-up before the response is an abort (it drops a held request's waiter); aborting
    // after every normal response would cost a DOMException per request.
    res.once("close", () => {
      if (!res.writableFinished) hangup.hungUp();
    });
    try {
      if (closing) throw new GatewayError("gateway_shutting_down", "gateway is shutting down");
      const cleared = await clear(deps, { agent, method, target, pathAndQuery, message: req }, hangup.signal);
      if (stalled) return;
      deps.audit({ type: "request", ...cleared.audit });
      const status = await forward(deps.upstreams, agent, target, cleared, req, res, framing.body);
      deps.metrics.count(cleared.audit.verdict === "approve" ? "approved" : "allow");
      deps.log("egress", { ...base, verdict: cleared.audit.verdict, rule: cleared.audit.rule, status });
    } catch (err) {
      if (!stalled) refuse(res, toGatewayError(err), base);
    } finally {
      stopWatch();
      inflight--;
      deps.metrics.observe((performance.now() - started) / 1000);
    }
  }

  /** Answers `e` (audited); `close` ends the connection after it (bytes after the head are suspect). */
  function refuse(res: ServerResponse, e: GatewayError, base: Record<string, unknown>, close = false): void {
    const { policy, rule, approval } = e.context;
    const entry = { ...base, verdict: "deny", code: e.code, policy, rule, approval };
    deps.audit({ type: "request", ...entry });
    deps.metrics.count("deny", e.code);
    deps.log("egress", { ...entry, message: e.message });
    if (e.code === "secret_host_mismatch" || e.code === "secret_misplaced") {
      const alert = { kind: e.code, agent: String(base.agent), host: String(base.host), message: e.message };
      deps.approver?.alert?.(alert).catch(() => undefined);
    }
    // The request's socket, not the response's: a pipelined response gets its socket only when its
    // turn comes, and requests behind this one are emitted before that.
    if (close) poisoned.add(res.req.socket);
    if (res.headersSent || res.destroyed) return void res.destroy();
    const body = e.toBody();
    res.writeHead(e.status, {
      ...e.headers(),
      "content-length": Buffer.byteLength(body),
      ...(close ? { connection: "close" } : {}),
    });
    res.end(body);
  }

  /** A request Node's parser refused (llhttp), or a head that never finished: audited JSON answer. */
  function clientError(agent: string | undefined, err: NodeJS.ErrnoException, socket: Socket): void {
    const timeout = err.code === "ERR_HTTP_REQUEST_TIMEOUT";
    const e = timeout
      ? new GatewayError("request_timeout", "request head did not arrive in time")
      : new GatewayError(
          "bad_request",
          err.code === "HPE_HEADER_OVERFLOW" ? "request head too large" : "malformed HTTP request",
        );
    // Idle connections that never sent a byte are closed silently: nothing to audit.
    const silent = timeout && (socket.bytesRead ?? 0) === 0;
    if (!silent) {
      deps.audit({ type: "request", agent, verdict: "deny", code: e.code, parser: err.code });
      deps.metrics.count("deny", e.code);
    }
    poisoned.add(socket);
    const res = (socket as Socket & { _httpMessage?: ServerResponse })._httpMessage;
    if (silent || !socket.writable || res?.headersSent) return void socket.destroy();
    writeRaw(socket, e);
    setTimeout(() => socket.destroy(), 1000).unref();
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
    const hangup = lazyHangup();
    socket.on("close", () => hangup.hungUp());
    try {
      if (closing) throw new GatewayError("gateway_shutting_down", "gateway is shutting down");
      const method = req.method ?? "GET";
      // Only a WebSocket handshake upgrades (h2c, TLS upgrades … would carry unchecked bytes).
      const raw = pairsOf(req.rawHeaders);
      const framing = checkFraming(method, req.httpVersion, raw);
      const why = framing.ok ? checkUpgrade(method, req.httpVersion, raw) : framing.reason;
      if (why) throw badRequest(why);
      const cleared = await clear(deps, { agent, method, target, pathAndQuery, message: req }, hangup.signal);
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

  // Requests inside tunnels arrive here (decrypted, or plain HTTP); the tunnel says where they go.
  const inner = limitedServer(SERVER_OPTIONS);
  // Node tracks connections for headersTimeout only once a server is 'listening'; this one never
  // listens (tunnels are handed to it), so start the tracking explicitly or slow heads live forever.
  inner.emit("listening");
  inner.on("request", (req, res) => {
    const t = tunnels.get(req.socket);
    if (!t || !req.url?.startsWith("/"))
      return refuse(res, badRequest("origin-form request expected"), { agent: t?.agent }, true);
    void handle(t.agent, { scheme: t.scheme, host: t.host, port: t.port }, req.url, req, res);
  });
  inner.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const t = tunnels.get(socket);
    if (!t || !req.url?.startsWith("/")) return writeRaw(socket, badRequest("origin-form request expected"));
    void upgrade(t.agent, { scheme: t.scheme, host: t.host, port: t.port }, req.url, req, socket, head);
  });
  inner.on("connect", (_req: IncomingMessage, socket: Socket) => {
    const t = tunnels.get(socket);
    deps.audit({ type: "request", agent: t?.agent, method: "CONNECT", verdict: "deny", code: "bad_request" });
    writeRaw(socket, badRequest("CONNECT inside a tunnel"));
  });
  inner.on("clientError", (err: NodeJS.ErrnoException, socket: Socket) =>
    clientError(tunnels.get(socket)?.agent, err, socket),
  );

  async function connect(agent: string, req: IncomingMessage, socket: Socket, head: Buffer) {
    socket.on("error", () => socket.destroy());
    const auth = parseAuthority(req.url ?? "", 443);
    if (!auth) return writeRaw(socket, badRequest("CONNECT target must be host:port"));
    if (closing)
      return writeRaw(socket, new GatewayError("gateway_shutting_down", "gateway is shutting down"));
    const set = deps.policies.set;
    // Refuse early (no TLS work) when every request in the tunnel would be refused anyway: no
    // policy for the host, or a port its policy (or the 80/443 default) does not list.
    const pinned = deps.resolve.resolveMap.has(auth.host);
    const unknown =
      !findPolicy(set, agent, auth.host) && set.defaults.unknownHosts === "deny"
        ? `no policy allows ${auth.host}`
        : !portAllowed(set, agent, auth.host, auth.port, pinned)
          ? `port ${auth.port} of ${auth.host} is not allowed`
          : undefined;
    if (auth.host !== INTERNAL_HOST && unknown) {
      const e = new GatewayError("host_not_allowed", unknown);
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
    // The first byte decides: a TLS record is intercepted; anything else is plain HTTP to that
    // host (what undici's ProxyAgent sends for http:// URLs), checked like any other request.
    const first = head.length > 0 ? head : await firstChunk(socket, HANDSHAKE_TIMEOUT_MS);
    if (!first) return void socket.destroy();
    socket.pause();
    socket.unshift(first);
    if (first[0] !== 0x16) {
      tunnels.set(socket, { agent, ...auth, scheme: "http" });
      inner.emit("connection", socket);
      socket.resume();
      return;
    }
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
    tunnels.set(tls, { agent, ...auth, scheme: "https" });
    inner.emit("connection", tls);
  }

  /**
   * A listener; `identify` names the agent of a request or returns undefined (→ 407). `socketAgent`
   * is set for an agent's own Unix socket, where the connection itself is the identity.
   */
  function createListener(
    identify: (req: IncomingMessage) => string | undefined | Promise<string | undefined>,
    socketAgent?: string,
  ): http.Server {
    const server = limitedServer(SERVER_OPTIONS);
    // Identity may need the store (token hash) or the cluster (TokenReview): asynchronous. The
    // request is not read, and the tunnel not answered, until it is known; a failing check is a 407.
    // Requests pipelined on one connection are identified in arrival order, so each one's handling
    // starts in order too: a refusal that poisons the connection comes before anything behind it.
    const order = new WeakMap<Socket, Promise<unknown>>();
    const who = (req: IncomingMessage): Promise<string | GatewayError> => {
      const check = async (): Promise<string | GatewayError> => {
        const agent = await Promise.resolve()
          .then(() => identify(req))
          .catch(() => undefined);
        if (agent === undefined)
          return new GatewayError("proxy_auth_required", "proxy credentials missing or wrong");
        return connections.admit(agent, req.socket) ? agent : tooManyConnections();
      };
      const mine = (order.get(req.socket) ?? Promise.resolve()).then(check);
      order.set(req.socket, mine.catch(() => undefined));
      return mine;
    };
    if (socketAgent !== undefined) {
      server.on("connection", (socket: Socket) => {
        if (!connections.admit(socketAgent, socket)) writeRaw(socket, tooManyConnections());
      });
    }
    server.on("request", async (req, res) => {
      const agent = await who(req);
      if (agent instanceof GatewayError) return refuse(res, agent, { method: req.method }, true);
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
    server.on("connect", async (req: IncomingMessage, socket: Socket, head: Buffer) => {
      const agent = await who(req);
      if (agent instanceof GatewayError) return writeRaw(socket, agent);
      void connect(agent, req, socket, head);
    });
    server.on("upgrade", async (req: IncomingMessage, socket: Socket, head: Buffer) => {
      const agent = await who(req);
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
    server.on("clientError", (err: NodeJS.ErrnoException, socket: Socket) =>
      clientError(socketAgent ?? connections.agentOf(socket), err, socket),
    );
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

function tooManyConnections(): GatewayError {
  return new GatewayError("rate_limited", "too many open connections for this agent", { retryAfter: 1 });
}

function toGatewayError(err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
  return new GatewayError("internal_error", "the gateway failed to handle this request", {}, { cause: err });
}
