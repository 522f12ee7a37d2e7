/**
 * Builds and starts the gateway: store, vault, CA, policies, approvals, the agent-facing listeners
 * and the control API. Everything is passed in explicitly; nothing here reads process.env.
 */
import { randomBytes } from "node:crypto";
import { chmod, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import type http from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { hostname } from "node:os";
import { rootCertificates } from "node:tls";
import { formatIssues } from "../policies/index.js";
import type { LookupAddress } from "./address.js";
import { createApprovals, DEFAULT_LIMITS, type HoldLimits } from "./approvals.js";
import type { Approver, RoleResolver } from "./approver.js";
import { CertificateAuthority } from "./ca.js";
import { type AgentHooks, createControlServer, heldRequestOf } from "./control-api.js";
import { createCredentials } from "./credentials.js";
import { createHeldBodies } from "./held-bodies.js";
import type { HeldRequestView } from "./held-request.js";
import { createUpstreams } from "./forward.js";
import { createLog, type Log } from "./log.js";
import { createMailbox, type MailboxEvents } from "./mailbox.js";
import { createMetrics } from "./metrics.js";
import { createPolicyReplay, readPolicyFiles } from "./policy-replay.js";
import { createPolicySource } from "./policy-source.js";
import { createProxy, type InternalHandler, type ProxyLimits } from "./proxy-server.js";
import { createRateLimiter } from "./rate-limit.js";
import { shareInstallFiles } from "./install-share.js";
import { soleLeader } from "./leadership.js";
import { electLeader } from "./postgres/leader.js";
import { openPostgresStore } from "./postgres/postgres-store.js";
import { openSqliteStore } from "./sqlite-store.js";
import type { TokenIdentity } from "./token-review.js";
import { loadMasterKey, Vault } from "./vault.js";
import { writeOnce } from "./write-once.js";

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export interface GatewayOptions {
  readonly home: string;
  readonly policiesDir: string;
  readonly listen: HostPort;
  readonly control: HostPort;
  /** PEM texts trusted for upstream TLS besides the system roots. */
  readonly upstreamCa?: readonly string[];
  /** `--resolve` entries, keyed by lowercased host. */
  readonly resolve?: ReadonlyMap<string, HostPort>;
  /** Value of WARDEN_MASTER_KEY, when set; else a key file in `home` is used. */
  readonly masterKey?: string;
  readonly approver?: Approver;
  readonly roles?: RoleResolver;
  readonly hooks?: AgentHooks;
  /** Replaces the built-in warden.internal mailbox (tests). */
  readonly internal?: InternalHandler;
  readonly mailboxEvents?: MailboxEvents;
  readonly log?: Log;
  readonly lookup?: (host: string) => Promise<LookupAddress[]>;
  /** Largest body buffered for inspection, approval or body swaps. Default 16 MiB. */
  readonly maxBodyBytes?: number;
  /**
   * Leave re-arming approvals from a previous run to the caller (`approvals.resume()`), so an
   * Approver that is not ready yet (the bot starts after the gateway) still hears about approvals
   * that expired while Warden was down and can update their cards.
   */
  readonly deferResume?: boolean;
  /** How long shutdown waits for in-flight requests. Default 10 s. */
  readonly drainMs?: number;
  /** Body stall, head and idle timeouts and the per-agent connection cap (proxy-server.ts). */
  readonly proxyLimits?: Partial<ProxyLimits>;
  /** postgres://… (WARDEN_DATABASE_URL): all state in PostgreSQL, shared by replicas. Default SQLite. */
  readonly databaseUrl?: string;
  /** This replica's name in logs, metrics and `/v1/health`. Default host name + pid. */
  readonly replicaId?: string;
  /**
   * Agents that present a projected service-account token (Kubernetes, `WARDEN_K8S_IDENTITY=token`)
   * instead of Basic proxy credentials: checked by TokenReview (gateway/token-review.ts).
   */
  readonly tokenIdentity?: Pick<TokenIdentity, "listenerIdentity">;
  /** Leader election timing (tests shorten it). */
  readonly election?: { readonly retryMs?: number; readonly pingMs?: number };
}

/** Store topic: the policies changed on one replica (message: its id). */
const POLICIES_TOPIC = "policies";

/** Starts the gateway; throws when the policies are invalid or a port is taken. */
export async function startGateway(opts: GatewayOptions) {
  const log = opts.log ?? createLog((l) => process.stdout.write(l));
  await mkdir(opts.home, { recursive: true, mode: 0o700 });
  const replica = opts.replicaId ?? `${hostname()}-${process.pid}`;
  const store = opts.databaseUrl
    ? await openPostgresStore({ url: opts.databaseUrl, log })
    : openSqliteStore(join(opts.home, "warden.db"));
  const vault = Vault.fromKey(await loadMasterKey({ envValue: opts.masterKey, home: opts.home }));
  // Replicas share the install CA and control token through the store (sealed with the master key).
  await shareInstallFiles(store, vault, opts.home, async () => {
    await CertificateAuthority.loadOrCreate(join(opts.home, "ca"));
    await controlToken(opts.home);
  });
  const ca = await CertificateAuthority.loadOrCreate(join(opts.home, "ca"));
  const leadership = opts.databaseUrl
    ? await electLeader({ url: opts.databaseUrl, log, ...opts.election })
    : soleLeader();
  const caPath = join(opts.home, "ca", "ca.pem");
  const bundlePath = join(opts.home, "ca", "bundle.pem");
  await writeFile(bundlePath, [...rootCertificates, ca.caPem].join("\n"), { mode: 0o644 });
  const token = await controlToken(opts.home);

  const policies = createPolicySource(opts.policiesDir, log);
  const loaded = await policies.start();
  if (!loaded.ok) {
    await store.close();
    throw new Error(`invalid policies in ${opts.policiesDir}:\n${formatIssues(loaded.issues)}`);
  }
  const audit = (entry: Record<string, unknown>): void => void store.appendAudit(entry, Date.now());
  // Held bodies wait sealed with the vault key (store rows, or spool files under home/held).
  const bodies = createHeldBodies({ dir: join(opts.home, "held"), sealer: vault, store });
  const approvals = createApprovals({
    store,
    audit,
    approver: opts.approver,
    roles: opts.roles,
    bodies,
    limits: () => holdLimits(policies.set.defaults),
  });
  // Bodies of approvals no longer waiting (a crash between settle and delete) are removed now.
  const waiting = [...(await store.listApprovals("pending")), ...(await store.listApprovals("approved"))];
  const live = new Set(waiting.map((a) => a.id));
  await bodies.sweep((id) => live.has(id));
  if (!opts.deferResume) await approvals.resume();
  const credentials = createCredentials(store, vault);
  const metrics = createMetrics();
  const mailbox = createMailbox(store, opts.mailboxEvents);
  const proxy = createProxy({
    policies,
    credentials,
    approvals,
    // One process on SQLite counts in memory; replicas count in the shared store.
    rateLimit: createRateLimiter(Date.now, store.kind === "postgres" ? store : undefined),
    resolve: { resolveMap: opts.resolve ?? new Map(), lookup: opts.lookup },
    maxBodyBytes: opts.maxBodyBytes ?? 16 * 1024 * 1024,
    ca,
    upstreams: createUpstreams(opts.upstreamCa ?? []),
    audit,
    log,
    metrics,
    approver: opts.approver,
    internal: opts.internal ?? mailbox.handler,
    limits: opts.proxyLimits,
  });

  const viaToken = opts.tokenIdentity?.listenerIdentity();
  const tcp = proxy.createListener(async (req) => {
    // A bearer token names a Pod's agent (later requests on its connection carry none: the
    // connection stays that agent's); anything else is the Basic agent:token pair.
    const header = req.headers["proxy-authorization"];
    if (viaToken && (header === undefined || /^bearer\s/i.test(header))) return viaToken(req);
    return basicAgent(req.headers["proxy-authorization"], credentials.authenticate);
  });
  const proxyAddr = await listen(tcp, opts.listen);
  const agentEnv = async (name: string, agentToken: string): Promise<Record<string, string>> => {
    const proxyUrl = `http://${encodeURIComponent(name)}:${encodeURIComponent(agentToken)}@${proxyAddr}`;
    return { ...proxyEnv(proxyUrl, caPath, bundlePath), ...(await placeholderEnv(name)) };
  };
  const placeholderEnv = async (name: string): Promise<Record<string, string>> => {
    const env: Record<string, string> = {};
    for (const p of policies.set.policies) {
      if (!p.agents.includes("*") && !p.agents.includes(name)) continue;
      for (const secret of Object.keys(p.secrets)) env[secret] = await credentials.placeholder(name, secret);
    }
    return env;
  };
  // Replays audited requests against an edited policy (DESIGN §6); hosts pinned by --resolve keep
  // their port rule, as in the pipeline.
  const replayPolicy = createPolicyReplay({
    files: () => readPolicyFiles(opts.policiesDir),
    store,
    current: () => policies.set,
    pinned: (host) => (opts.resolve ?? new Map()).has(host.toLowerCase()),
  });
  // A reload asked of one replica (control API, the bot's /policy edit) is announced to the others,
  // which read the same policies directory (a shared volume or ConfigMap) again.
  const sharedPolicies = {
    get set() {
      return policies.set;
    },
    async reload() {
      const r = await policies.reload();
      if (r.ok) await store.notify(POLICIES_TOPIC, replica).catch(() => undefined);
      return r;
    },
  };
  store.listen(POLICIES_TOPIC, (from) => {
    if (from !== replica) void policies.reload();
  });
  const control = createControlServer({
    token,
    store,
    credentials,
    approvals,
    metrics,
    policies: sharedPolicies,
    agentEnv,
    audit,
    hooks: opts.hooks,
    mailbox,
    replay: replayPolicy,
    health: () => ({ replica, store: store.kind, leader: leadership.isLeader() }),
  });
  const controlAddr = await listen(control, opts.control);
  const sockets = new Map<string, http.Server>();
  log("gateway_started", {
    proxy: proxyAddr,
    control: controlAddr,
    policies: loaded.policies,
    replica,
    store: store.kind,
    leader: leadership.isLeader(),
  });
  leadership.onChange((leader) => log("leadership_changed", { replica, leader }));

  return {
    proxyAddress: proxyAddr,
    controlAddress: controlAddr,
    replica,
    leadership,
    caPem: ca.caPem,
    caPath,
    bundlePath,
    token,
    approvals,
    credentials,
    policies: sharedPolicies,
    store,
    mailbox,
    placeholderEnv,
    proxyEnv,
    replayPolicy,

    /** The full held request of a pending approval for the web page; undefined once it is settled. */
    async heldRequest(id: string): Promise<HeldInFull | undefined> {
      const view = await heldRequestOf({ approvals, store, credentials }, id);
      return view?.body == null ? undefined : (view as HeldInFull);
    },

    /** Serves one agent on a Unix socket: whoever can connect to it is that agent (no token). */
    async listenAgentSocket(agent: string, path: string): Promise<void> {
      await rm(path, { force: true });
      const server = proxy.createListener(() => agent, agent);
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(path, () => resolve());
      });
      // The container's user differs from ours; the socket's directory is what limits who reaches it.
      await chmod(path, 0o666);
      sockets.set(agent, server);
    },

    async closeAgentSocket(agent: string): Promise<void> {
      const s = sockets.get(agent);
      sockets.delete(agent);
      if (s) await closeServer(s, 0);
    },

    /** Stops accepting, answers held requests with 503, drains in-flight requests, closes the store. */
    async close(): Promise<void> {
      proxy.beginShutdown();
      approvals.shutdown();
      policies.stop();
      const drainMs = opts.drainMs ?? 10_000;
      const servers = [tcp, control, proxy.inner, ...sockets.values()];
      const closing = Promise.all(servers.map((s) => closeServer(s, drainMs)));
      const deadline = Date.now() + drainMs;
      while (proxy.inflight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
      for (const s of servers) s.closeAllConnections();
      await closing;
      await bodies.idle(); // a held body being spooled is finished, not cut short
      await leadership.close();
      await store.close();
      log("gateway_stopped", {});
    },
  };
}

export type Gateway = Awaited<ReturnType<typeof startGateway>>;

/** A held request whose body is still held (what the full-request page shows). */
type HeldInFull = HeldRequestView & { readonly body: string; readonly bodyEncoding: "utf8" | "base64" };

/** Proxy and CA variables for an agent process. */
export function proxyEnv(proxyUrl: string, caPath: string, bundlePath: string): Record<string, string> {
  return {
    HTTP_PROXY: proxyUrl,
    HTTPS_PROXY: proxyUrl,
    http_proxy: proxyUrl,
    https_proxy: proxyUrl,
    NODE_USE_ENV_PROXY: "1",
    NODE_EXTRA_CA_CERTS: caPath,
    SSL_CERT_FILE: bundlePath,
    REQUESTS_CA_BUNDLE: bundlePath,
    CURL_CA_BUNDLE: bundlePath,
    GIT_SSL_CAINFO: bundlePath,
  };
}

/** `max_pending` / `max_held_bytes` from `_defaults.yaml`, read defensively (older policy sets lack them). */
function holdLimits(defaults: object): HoldLimits {
  const d = defaults as { maxPending?: unknown; maxHeldBytes?: unknown };
  const n = (v: unknown, fallback: number): number =>
    typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : fallback;
  return {
    maxPending: n(d.maxPending, DEFAULT_LIMITS.maxPending),
    maxHeldBytes: n(d.maxHeldBytes, DEFAULT_LIMITS.maxHeldBytes),
  };
}

function basicAgent(
  header: string | undefined,
  auth: (agent: string, token: string) => Promise<boolean>,
): Promise<string | undefined> | undefined {
  const m = /^basic\s+([A-Za-z0-9+/=]+)$/i.exec(header?.trim() ?? "");
  if (!m?.[1]) return undefined;
  const decoded = Buffer.from(m[1], "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon <= 0) return undefined;
  const agent = decoded.slice(0, colon);
  return auth(agent, decoded.slice(colon + 1)).then((ok) => (ok ? agent : undefined));
}

async function controlToken(home: string): Promise<string> {
  const path = join(home, "control.token");
  await writeOnce(path, `${randomBytes(32).toString("base64url")}\n`, 0o600);
  const t = (await readFile(path, "utf8")).trim();
  if (t.length < 32) throw new Error(`${path} holds no usable token; delete it to make a new one`);
  return t;
}

function listen(server: http.Server, at: HostPort): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(at.port, at.host, () => {
      const a = server.address() as AddressInfo;
      resolve(`${a.family === "IPv6" ? `[${a.address}]` : a.address}:${a.port}`);
    });
  });
}

function closeServer(server: http.Server, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
    server.closeIdleConnections();
    if (graceMs === 0) server.closeAllConnections();
  });
}
