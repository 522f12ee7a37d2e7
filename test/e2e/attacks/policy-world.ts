/**
 * World for the policy attack tests (method overrides, body rules, secret placement, ports): a real
 * `warden gateway` process with the caller's policies, a raw recording upstream for plain HTTP and
 * one for TLS, and a raw agent that writes exact request bytes in absolute form or inside a
 * CONNECT+TLS tunnel. Each policy `NAME` is reachable as `NAME.test` (plain) and `NAMEtls.test`
 * (tunnel), both pinned to the upstreams with `--resolve`.
 */
import { type AgentCredentials, type GatewayProcess, startGateway } from "../../fakes/gateway-process.js";
import { authLine, type RawAnswer, type RawMode, rawSend } from "../../fakes/raw-agent.js";
import { type RawUpstream, startRawUpstream } from "../../fakes/raw-upstream.js";
import { createTestCa, type TestCa } from "../../fakes/test-ca.js";

export interface PolicyWorld {
  readonly gw: GatewayProcess;
  readonly plain: RawUpstream;
  readonly tls: RawUpstream;
  readonly ca: TestCa;
  readonly agent: AgentCredentials;
  /** `Proxy-Authorization` line for the agent. */
  readonly auth: string;
  /** Audit entries after `seq`. */
  auditAfter(seq: number): Promise<Record<string, unknown>[]>;
  lastSeq(): Promise<number>;
  /** Requests both upstreams have parsed so far. */
  upstreamCount(): number;
  close(): Promise<void>;
}

/** A way to reach policy `name`: absolute form to `name.test`, or a TLS tunnel to `nametls.test`. */
export interface Via {
  readonly label: string;
  readonly mode: RawMode;
  readonly host: string;
  /** The request-target for `pathAndQuery`. */
  target(pathAndQuery: string): string;
}

export function vias(name: string): Via[] {
  return [
    {
      label: "absolute form",
      mode: { kind: "absolute" },
      host: `${name}.test`,
      target: (p) => `http://${name}.test${p}`,
    },
    {
      label: "CONNECT+TLS tunnel",
      mode: { kind: "tls-tunnel", authority: `${name}tls.test:443` },
      host: `${name}tls.test`,
      target: (p) => p,
    },
  ];
}

export interface WorldOptions {
  /** Policy name → policy (hosts are filled in: `name.test`, `nametls.test`, plus any given). */
  readonly policies: Record<string, Record<string, unknown>>;
  readonly defaults?: Record<string, unknown>;
  /** Secrets to store: name → real value. */
  readonly secrets?: Record<string, string>;
  /** Extra TLS names for the TLS upstream's certificate. */
  readonly tlsNames?: readonly string[];
}

export async function startPolicyWorld(options: WorldOptions): Promise<PolicyWorld> {
  const ca = await createTestCa();
  const plain = await startRawUpstream();
  const names = Object.keys(options.policies);
  const tls = await startRawUpstream({
    tls: await ca.issue([...names.map((n) => `${n}tls.test`), ...(options.tlsNames ?? [])]),
  });
  const policies: Record<string, unknown> = {};
  const resolve: Record<string, string> = {};
  for (const [name, policy] of Object.entries(options.policies)) {
    const extra = (policy.hosts as string[] | undefined) ?? [];
    policies[name] = { ...policy, hosts: [`${name}.test`, `${name}tls.test`, ...extra] };
    resolve[`${name}.test`] = `127.0.0.1:${plain.port}`;
    resolve[`${name}tls.test`] = `127.0.0.1:${tls.port}`;
  }
  if (options.defaults) policies._defaults = options.defaults;
  const gw = await startGateway({ policies, upstreamCa: [ca.pemPath], resolve });
  for (const [name, value] of Object.entries(options.secrets ?? {})) await gw.setSecret(name, value);
  const agent = await gw.createAgent("attacker");
  const auditAfter = async (seq: number): Promise<Record<string, unknown>[]> => {
    const res = await gw.control("GET", `/v1/audit?after=${seq}&limit=10000`);
    return (res.body as { entry: Record<string, unknown> }[]).map((r) => r.entry);
  };
  return {
    gw,
    plain,
    tls,
    ca,
    agent,
    auth: authLine("attacker", agent.token),
    auditAfter,
    async lastSeq() {
      const res = await gw.control("GET", "/v1/audit?after=0&limit=10000");
      return (res.body as { seq: number }[]).at(-1)?.seq ?? 0;
    },
    upstreamCount: () => plain.requests.length + tls.requests.length,
    async close() {
      await gw.cleanup();
      await plain.close();
      await tls.close();
    },
  };
}

export interface RawRequestSpec {
  readonly method: string;
  readonly pathAndQuery: string;
  /** Header lines without CRLF, sent in order and as written. */
  readonly headers?: readonly string[];
  readonly body?: string | Buffer;
  /** How long to wait without a byte; the gateway closes after answering, so this only bounds holds. */
  readonly quietMs?: number;
}

/**
 * Sends one request with exact bytes (Content-Length framing, `Connection: close` so the answer
 * ends the exchange) and returns what the gateway answered.
 */
export function sendRaw(w: PolicyWorld, via: Via, spec: RawRequestSpec): Promise<RawAnswer> {
  const body = spec.body === undefined ? Buffer.alloc(0) : Buffer.from(spec.body);
  const head =
    `${spec.method} ${via.target(spec.pathAndQuery)} HTTP/1.1\r\n` +
    `Host: ${via.host}\r\n` +
    (via.mode.kind === "absolute" ? w.auth : "") +
    (spec.headers ?? []).map((h) => `${h}\r\n`).join("") +
    (body.length > 0 || spec.method === "POST" || spec.method === "PUT"
      ? `Content-Length: ${body.length}\r\n`
      : "") +
    "Connection: close\r\n\r\n";
  return rawSend(w.gw, w.auth, {
    mode: via.mode,
    parts: [Buffer.concat([Buffer.from(head, "latin1"), body])],
    quietMs: spec.quietMs ?? 10_000,
    maxMs: 30_000,
  });
}

/** The audit rows (after `seq`) for requests to `path`. */
export async function auditFor(
  w: PolicyWorld,
  seq: number,
  path: string,
): Promise<Record<string, unknown>[]> {
  return (await w.auditAfter(seq)).filter((e) => e.type === "request" && e.path === path);
}
