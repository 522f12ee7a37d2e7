/**
 * Shared world for the raw-byte attack tests: a real `warden gateway` process, a raw recording
 * upstream for plain HTTP (`raw.test`, `sec.test`) and one for TLS (`rawtls.test`, `sectls.test`),
 * and helpers to send a request head in absolute form or inside a CONNECT+TLS tunnel.
 */
import { type AgentCredentials, type GatewayProcess, startGateway } from "../../fakes/gateway-process.js";
import { authLine, type RawMode } from "../../fakes/raw-agent.js";
import { type RawUpstream, startRawUpstream } from "../../fakes/raw-upstream.js";
import { createTestCa } from "../../fakes/test-ca.js";

export const SECRET = "sk-live-RAW-secret-value-9c1e4b7a";

export interface RawWorld {
  readonly gw: GatewayProcess;
  readonly plain: RawUpstream;
  readonly tls: RawUpstream;
  readonly agent: AgentCredentials;
  readonly other: AgentCredentials;
  readonly auth: string;
  readonly otherAuth: string;
  /** Audit entries appended after `seq`. */
  auditAfter(seq: number): Promise<Record<string, unknown>[]>;
  lastSeq(): Promise<number>;
  close(): Promise<void>;
}

/** One way of reaching an upstream: absolute form to `raw.test`, or a TLS tunnel to `rawtls.test`. */
export interface Via {
  readonly label: string;
  readonly mode: RawMode;
  /** The host the request is for. */
  readonly host: string;
  /** Request target for a path. */
  target(path: string): string;
  upstream(w: RawWorld): RawUpstream;
}

export function vias(base = "raw"): Via[] {
  return [
    {
      label: "absolute form",
      mode: { kind: "absolute" },
      host: `${base}.test`,
      target: (p) => `http://${base}.test${p}`,
      upstream: (w) => w.plain,
    },
    {
      label: "CONNECT+TLS tunnel",
      mode: { kind: "tls-tunnel", authority: `${base}tls.test:443` },
      host: `${base}tls.test`,
      target: (p) => p,
      upstream: (w) => w.tls,
    },
  ];
}

/** Starts the world; `extraArgs` env for the gateway is not supported by the fake, so none. */
export async function startRawWorld(): Promise<RawWorld> {
  const ca = await createTestCa();
  const plain = await startRawUpstream();
  const tls = await startRawUpstream({ tls: await ca.issue(["rawtls.test", "sectls.test"]) });
  const gw = await startGateway({
    policies: {
      raw: { hosts: ["raw.test", "rawtls.test"], rules: [], default: "allow" },
      sec: { hosts: ["sec.test", "sectls.test"], secrets: { RAW_KEY: {} }, rules: [], default: "allow" },
    },
    upstreamCa: [ca.pemPath],
    resolve: {
      "raw.test": `127.0.0.1:${plain.port}`,
      "sec.test": `127.0.0.1:${plain.port}`,
      "rawtls.test": `127.0.0.1:${tls.port}`,
      "sectls.test": `127.0.0.1:${tls.port}`,
    },
  });
  await gw.setSecret("RAW_KEY", SECRET);
  const agent = await gw.createAgent("raw1");
  const other = await gw.createAgent("raw2");
  const auditAfter = async (seq: number) => {
    const res = await gw.control("GET", `/v1/audit?after=${seq}&limit=10000`);
    return (res.body as { entry: Record<string, unknown> }[]).map((r) => r.entry);
  };
  return {
    gw,
    plain,
    tls,
    agent,
    other,
    auth: authLine("raw1", agent.token),
    otherAuth: authLine("raw2", other.token),
    auditAfter,
    async lastSeq() {
      const res = await gw.control("GET", "/v1/audit?after=0&limit=10000");
      const rows = res.body as { seq: number }[];
      return rows.at(-1)?.seq ?? 0;
    },
    async close() {
      await gw.cleanup();
      await plain.close();
      await tls.close();
    },
  };
}
