/**
 * One world for the real-clients suite: the real `warden gateway` process, a plain and a TLS
 * recording upstream behind ONE port (the first byte says which: 0x16 starts a TLS ClientHello), so
 * a name like `api.openai.com` works for both `http://` and `https://` on the default ports through
 * `--resolve`, and an agent holding only placeholders. Clients under test are unmodified programs
 * and libraries; everything they print or return is untrusted and searched for real secret values.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { type AddressInfo, createServer, connect as netConnect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "vitest";
import {
  type AgentCredentials,
  type GatewayProcess,
  type HostPort,
  startGateway,
} from "../../fakes/gateway-process.js";
import { createTestCa, type TestCa } from "../../fakes/test-ca.js";
import {
  type RecordedRequest,
  type RecordingUpstream,
  type RouteHandler,
  startUpstream,
} from "../../fakes/upstreams.js";

export interface ClientWorldOptions {
  /** Policy file name → policy (object written as JSON, string verbatim). */
  readonly policies: Record<string, unknown>;
  /** Secret name → real value, stored in the gateway's vault. */
  readonly secrets: Record<string, string>;
  /** Host names the upstream pair answers for (leaf SANs and `--resolve` entries). */
  readonly hosts: readonly string[];
  readonly agent?: string;
  /**
   * More upstreams the test runs itself (e.g. a server with other settings), started with the
   * world's upstream CA before the gateway; returns host → "127.0.0.1:PORT" for `--resolve`.
   */
  readonly extraUpstreams?: (ca: TestCa) => Promise<Record<string, string>>;
}

export interface ClientWorld {
  readonly gw: GatewayProcess;
  readonly agent: AgentCredentials;
  readonly plain: RecordingUpstream;
  readonly tls: RecordingUpstream;
  /** A scratch directory removed by `close()`. */
  readonly dir: string;
  /** The Warden CA on disk (`home/ca/ca.pem`): what a container's client is told to trust. */
  readonly caFile: string;
  /** `http://agent:token@127.0.0.1:port`, as in the agent's env. */
  readonly proxyUrl: string;
  /** The agent's placeholder for `secret` (from POST /v1/agents' env). */
  placeholder(secret: string): string;
  /** Overrides one path on both upstreams. */
  route(path: string, handler: RouteHandler): void;
  /** Every request either upstream recorded since the last reset, bodies complete. */
  requests(): Promise<RecordedRequest[]>;
  reset(): void;
  /** Fails if `received` holds any real secret value (literal or base64). */
  expectNoSecret(received: string | Buffer, what: string): void;
  /**
   * The gateway's side: its output and audit hold no real value, the chain verifies, and every
   * request or handshake an upstream received has exactly one audited allow. `extra`: requests
   * the test's own `extraUpstreams` received.
   */
  expectGatewayKeptBooks(extra?: number): Promise<void>;
  close(): Promise<void>;
}

/** Names of env vars that would route a client or the gateway through the runner's own proxy. */
const PROXY_ENV = /^(https?_proxy|no_proxy|all_proxy|node_options|node_use_env_proxy|git_.*|curl_.*)$/i;

/** The runner's env without proxy settings, git/curl overrides or loaders; HOME set to `home`. */
export function cleanEnv(home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!PROXY_ENV.test(key)) env[key] = value;
  return { ...env, HOME: home, XDG_CONFIG_HOME: join(home, ".config"), ...extra };
}

/**
 * True when `name` runs. A missing binary skips its cases locally; with CI set it throws so the
 * suite fails instead of silently testing nothing.
 */
export function haveBinary(name: string): boolean {
  const ok = spawnSync(name, ["--version"], { stdio: "ignore" }).status === 0;
  if (!ok && process.env.CI) throw new Error(`${name} is required by the real-clients suite under CI`);
  return ok;
}

export interface RunResult {
  readonly code: number | null;
  readonly stdout: Buffer;
  readonly stderr: Buffer;
  /** stdout and stderr as text, for searching. */
  readonly text: string;
}

/** Runs a client program to completion (killed after `timeoutMs`). */
export function run(
  command: string,
  args: readonly string[],
  opts: { env: NodeJS.ProcessEnv; cwd?: string; input?: string; timeoutMs?: number },
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const stdin = opts.input === undefined ? "ignore" : "pipe";
    const child = spawn(command, args, { env: opts.env, cwd: opts.cwd, stdio: [stdin, "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on("data", (c: Buffer) => out.push(c));
    child.stderr?.on("data", (c: Buffer) => err.push(c));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 60_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out);
      const stderr = Buffer.concat(err);
      resolve({ code, stdout, stderr, text: `${stdout.toString("latin1")}\n${stderr.toString("latin1")}` });
    });
    // A client may exit before reading its input; that shows in its exit code, not as EPIPE here.
    child.stdin?.on("error", () => {});
    child.stdin?.end(opts.input);
  });
}

/** One port in front of both upstreams: TLS handshakes go to `tlsPort`, anything else to `plainPort`. */
async function startSniffingFront(
  plainPort: number,
  tlsPort: number,
): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((client: Socket) => {
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    client.on("error", () => {});
    client.once("data", (first: Buffer) => {
      const upstream = netConnect(first[0] === 0x16 ? tlsPort : plainPort, "127.0.0.1");
      sockets.add(upstream);
      upstream.write(first);
      client.pipe(upstream).pipe(client);
      upstream.on("error", () => client.destroy());
      upstream.on("close", () => client.destroy());
      client.on("close", () => upstream.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => {
      // close() alone would wait for the connections the gateway keeps alive.
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A TCP relay in front of the gateway that notes each connection's first line (how a client talks). */
export async function startProxySpy(
  target: HostPort,
): Promise<{ port: number; firstLines: string[]; close(): Promise<void> }> {
  const firstLines: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((client: Socket) => {
    const gateway = netConnect(target.port, target.host);
    for (const s of [client, gateway]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => {});
    }
    client.once("data", (first: Buffer) => firstLines.push(first.toString("latin1").split("\r\n")[0] ?? ""));
    client.pipe(gateway).pipe(client);
    client.on("close", () => gateway.destroy());
    gateway.on("close", () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    firstLines,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Starts the gateway, the upstream pair and one agent. */
export async function startClientWorld(options: ClientWorldOptions): Promise<ClientWorld> {
  const dir = await mkdtemp(join(tmpdir(), "warden-clients-"));
  const ca = await createTestCa();
  const plain = await startUpstream();
  const tls = await startUpstream({ tls: await ca.issue([...options.hosts]) });
  const front = await startSniffingFront(plain.port, tls.port);
  const gw = await startGateway({
    policies: options.policies,
    upstreamCa: [ca.pemPath],
    resolve: {
      ...Object.fromEntries(options.hosts.map((h) => [h, `127.0.0.1:${front.port}`])),
      ...(await options.extraUpstreams?.(ca)),
    },
  });
  for (const [name, value] of Object.entries(options.secrets)) await gw.setSecret(name, value);
  const agentName = options.agent ?? "client";
  const agent = await gw.createAgent(agentName);
  const reals = Object.values(options.secrets);
  const expectNoSecret = (received: string | Buffer, what: string): void => {
    const text = typeof received === "string" ? received : received.toString("latin1");
    for (const form of forms) expect(text.includes(form), `${what} holds a real secret value`).toBe(false);
  };
  /** Requests and handshakes cleared by `reset()`, for the audit count. */
  let forgotten = 0;
  const forms = reals.flatMap((v) => [v, Buffer.from(v).toString("base64")]);

  return {
    gw,
    agent,
    plain,
    tls,
    dir,
    caFile: join(gw.home, "ca", "ca.pem"),
    proxyUrl: gw.proxyUrl(agentName, agent.token),
    placeholder(secret) {
      const value = agent.env[secret];
      if (!value) throw new Error(`agent env has no placeholder for ${secret}`);
      return value;
    },
    route(path, handler) {
      plain.route(path, handler);
      tls.route(path, handler);
    },
    async requests() {
      const all = [...plain.requests, ...tls.requests];
      // Bounded: git's receive-pack route can answer and leave the recorder's request without its
      // 'end' although the gateway flushed the whole chunked body (seen under load; the gateway's
      // side is complete). The callers then check the bytes that arrived.
      await Promise.race([Promise.all(all.map((r) => r.done)), new Promise((r) => setTimeout(r, 5000))]);
      return all;
    },
    reset() {
      forgotten += plain.received() + tls.received();
      plain.reset();
      tls.reset();
    },
    expectNoSecret,
    async expectGatewayKeptBooks(extra = 0) {
      const audit = await gw.control("GET", "/v1/audit?after=0&limit=10000");
      expect(audit.status).toBe(200);
      expectNoSecret(audit.text, "the audit log");
      expectNoSecret(gw.output(), "the gateway's output");
      expect((await gw.control("GET", "/v1/audit/verify")).body).toMatchObject({ ok: true });
      const rows = (audit.body as Array<{ entry: Record<string, unknown> }>).map((r) => r.entry);
      const passed = rows.filter(
        (e) => e.type === "request" && e.verdict === "allow" && e.method !== "CONNECT",
      );
      expect(passed.length).toBe(forgotten + plain.received() + tls.received() + extra);
    },
    async close() {
      await gw.cleanup();
      await front.close();
      await plain.close();
      await tls.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
