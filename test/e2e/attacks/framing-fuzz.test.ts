/**
 * Differential framing fuzzer (issue #9, "How we will know"): thousands of seeded request
 * mutations (method × framing × Connection tokens × body shape × line faults, 1–4 pipelined per
 * connection, absolute-form and inside CONNECT+TLS, two agents interleaved) thrown at the real
 * `warden gateway` over raw sockets, with raw recording upstreams. The invariant is checked by
 * `fuzz/check-invariant.ts`: what the upstream parsed (our strict parser and llhttp, which must
 * agree) equals what the gateway audited as allowed, byte for byte, each on a connection that only
 * ever carried its own agent's requests. The policy denies `/denied/**` and allows the rest.
 *
 * FUZZ_SEED (default fixed) picks the bytes, FUZZ_RUNS the number of connections, FUZZ_ONLY=3,17
 * replays chosen cases. A failure prints the seed and the cases' exact bytes.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GatewayProcess, startGateway } from "../../fakes/gateway-process.js";
import { basicAuth } from "../../fakes/proxy-client.js";
import { createTestCa } from "../../fakes/test-ca.js";
import { type AgentRun, type AgentTarget, runCase } from "./fuzz/agent.js";
import {
  type AuditEntry,
  checkInvariant,
  checkResponses,
  sameAgentMisreads,
  type Violation,
} from "./fuzz/check-invariant.js";
import { type FuzzCase, type GenContext, generateCase } from "./fuzz/generate.js";
import { leniency } from "./fuzz/leniency.js";
import { llhttpParse } from "./fuzz/llhttp-parse.js";
import { type RawUpstream, startRawUpstream } from "./fuzz/raw-upstream.js";

const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed_f00d) >>> 0;
const RUNS = Number(process.env.FUZZ_RUNS ?? 1500);
const ONLY = process.env.FUZZ_ONLY?.split(",").map(Number);
const CONCURRENCY = 24;
const PLAIN = "fuzz.test";
const TLS = "tls.fuzz.test";

let gw: GatewayProcess;
let plain: RawUpstream;
let tlsUp: RawUpstream;
let ctx: GenContext;
let target: AgentTarget;

beforeAll(async () => {
  const ca = await createTestCa();
  plain = await startRawUpstream("plain");
  tlsUp = await startRawUpstream("tls", await ca.issue([TLS]));
  // On a loaded machine the first start can miss the helper's 20 s window: try once more.
  const start = () =>
    startGateway({
      policies: {
        fuzz: {
          hosts: [PLAIN, TLS],
          rules: [{ name: "no-denied", paths: ["/denied/**"], action: "deny" }],
          default: "allow",
        },
      },
      upstreamCa: [ca.pemPath],
      resolve: { [PLAIN]: `127.0.0.1:${plain.port}`, [TLS]: `127.0.0.1:${tlsUp.port}` },
    });
  gw = await start().catch(start);
  const a = await gw.createAgent("fuzz-a");
  const b = await gw.createAgent("fuzz-b");
  ctx = { agents: [a, b], plainHost: PLAIN, tlsHost: TLS };
  const tokens = new Map([a, b].map((x) => [x.name, x.token]));
  target = {
    proxy: gw.proxy,
    caPem: gw.caPem,
    tlsHost: TLS,
    authFor: (agent) => basicAuth(agent, tokens.get(agent) ?? ""),
  };
}, 120_000);

afterAll(async () => {
  await gw?.cleanup();
  await plain?.close();
  await tlsUp?.close();
});

async function auditAfter(seq: number): Promise<{ entries: AuditEntry[]; last: number }> {
  const entries: AuditEntry[] = [];
  let last = seq;
  for (;;) {
    const res = await gw.control("GET", `/v1/audit?after=${last}&limit=10000`);
    const rows = res.body as { seq: number; entry: AuditEntry }[];
    if (!Array.isArray(rows) || rows.length === 0) return { entries, last };
    for (const row of rows) entries.push(row.entry);
    last = (rows[rows.length - 1] as { seq: number }).seq;
  }
}

/** Waits until the audit stops growing (rows are flushed in batches). */
async function settledAudit(seq: number): Promise<AuditEntry[]> {
  let count = -1;
  for (;;) {
    await new Promise((r) => setTimeout(r, 400));
    const { entries } = await auditAfter(seq);
    if (entries.length === count) return entries;
    count = entries.length;
  }
}

async function pool<T>(items: readonly T[], width: number, work: (item: T) => Promise<void>) {
  let next = 0;
  const lanes = Array.from({ length: width }, async () => {
    while (next < items.length) await work(items[next++] as T);
  });
  await Promise.all(lanes);
}

function describeViolations(violations: Violation[], cases: Map<number, FuzzCase>): string {
  const lines = [`FUZZ_SEED=${SEED} (${violations.length} violations)`];
  const byKind = new Map<string, Violation[]>();
  for (const v of violations) byKind.set(v.kind, [...(byKind.get(v.kind) ?? []), v]);
  const shown = new Set<number>();
  for (const [kind, vs] of byKind) {
    lines.push(`== ${kind}: ${vs.length}`);
    for (const v of vs.slice(0, 6)) {
      lines.push(`  - cases ${v.cases.join(",")}: ${v.detail.slice(0, 600)}`);
      for (const c of v.cases.slice(0, 2)) shown.add(c);
    }
  }
  for (const i of [...shown].slice(0, 12)) {
    const c = cases.get(i);
    if (!c) continue;
    lines.push(`case ${i} (${c.agent}, ${c.tunnel ? "tunnel" : "absolute-form"}): ${c.labels.join(" | ")}`);
    lines.push(`  bytes ${JSON.stringify(c.bytes.toString("latin1"))}`);
  }
  return lines.join("\n");
}

describe("differential framing fuzzer", () => {
  it(`upstream requests equal audited allows, byte for byte, one agent per upstream connection (${ONLY ? `cases ${ONLY}` : `${RUNS} connections`})`, async () => {
    const started = performance.now();
    const before = (await auditAfter(0)).last;
    const cases = new Map<number, FuzzCase>();
    const runs = new Map<number, AgentRun | string>();
    const indices = ONLY ?? Array.from({ length: RUNS }, (_, i) => i);
    await pool(indices, CONCURRENCY, async (i) => {
      const c = generateCase(SEED, i, ctx);
      cases.set(i, c);
      const read = llhttpParse(c.bytes);
      const owed = read.requests.filter((r) => r.complete).length + (read.error ? 1 : 0);
      try {
        runs.set(
          i,
          await runCase(
            target,
            c,
            read.requests.map((r) => r.method),
            owed,
          ),
        );
      } catch (err) {
        runs.set(i, `error: ${(err as Error).message}`);
      }
    });
    if (process.env.FUZZ_VERBOSE)
      for (const [i, r] of runs)
        console.log(
          `case ${i}: ${cases.get(i)?.labels.join(" | ")} → ${JSON.stringify(r)}\n  bytes ${JSON.stringify(cases.get(i)?.bytes.toString("latin1"))}`,
        );
    if (gw.exited) throw new Error(`the gateway died:\n${gw.output().slice(-4000)}`);
    const audit = await settledAudit(before);
    if (process.env.FUZZ_VERBOSE) {
      for (const e of audit) console.log(`audit ${JSON.stringify(e)}`);
      for (const c of [...plain.connections, ...tlsUp.connections])
        console.log(
          `upstream ${c.id} ${c.liveError ?? ""}: ${JSON.stringify(Buffer.concat(c.chunks).toString("latin1"))}`,
        );
    }
    const result = checkInvariant(cases, [...plain.connections, ...tlsUp.connections], audit);
    const answered = new Map([...runs].filter((e): e is [number, AgentRun] => typeof e[1] !== "string"));
    result.violations.push(...checkResponses(cases, answered));
    if (sameAgentMisreads.count > 0)
      console.log(
        `framing fuzz: ${sameAgentMisreads.count} answers read by another connection of the same agent`,
      );
    const mutations = [...cases.values()].reduce((n, c) => n + c.labels.length, 0);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    const ended = new Map<string, number>();
    for (const r of runs.values()) {
      const k = typeof r === "string" ? "error" : r.ended;
      ended.set(k, (ended.get(k) ?? 0) + 1);
    }
    console.log(
      `framing fuzz: seed ${SEED}, ${cases.size} connections, ${mutations} request mutations, ` +
        `${result.upstreamRequests} reached upstream, ${result.auditedAllows} audited allows (${result.abandoned} later audited upstream_unreachable), ` +
        `${plain.connections.length + tlsUp.connections.length} upstream connections, ` +
        `agent endings ${JSON.stringify(Object.fromEntries(ended))}, ${seconds} s`,
    );
    const lenient = leniency(cases, audit);
    console.log(
      `framing fuzz: llhttp read past a strict-parser refusal in ${[...lenient.reasons.values()].reduce((a, b) => a + b, 0)} cases ` +
        `${JSON.stringify(Object.fromEntries(lenient.reasons))}; the gateway let such a request through in ` +
        `${lenient.forwarded.length}: ${lenient.forwarded
          .slice(0, 8)
          .map((f) => `case ${f.index} (${f.reason}: ${f.label})`)
          .join("; ")}`,
    );
    expect(gw.exited).toBe(false);
    expect((await gw.control("GET", "/v1/health")).status).toBe(200);
    if (result.violations.length > 0) console.log(describeViolations(result.violations, cases));
    // "Audited allowed, never parsed upstream" is the fail-safe direction (less went out than the
    // audit allows), seen about once in ten runs when a pipelined refusal closes the agent's connection
    // while the request before it is still being written: printed above, counted, not failed on. Every
    // other kind (an unaudited request upstream, two agents on one connection, bytes that differ) fails.
    const unsafe = result.violations.filter((v) => v.kind !== "audited_not_delivered");
    expect(unsafe.length, `FUZZ_SEED=${SEED}: see the violations printed above`).toBe(0);
    expect(result.violations.length - unsafe.length).toBeLessThanOrEqual(3);
  }, 600_000);
});

/** Sends exact bytes as agent `fuzz-a` (absolute-form, or inside a tunnel) and reads the answers. */
async function sendRaw(
  index: number,
  bytes: string,
  tunnel = false,
  owed = 9,
  agent = "fuzz-a",
): Promise<AgentRun> {
  const c: FuzzCase = {
    index,
    agent,
    tunnel,
    bytes: Buffer.from(bytes, "latin1"),
    splits: [],
    sequential: false,
    labels: [],
  };
  const read = llhttpParse(c.bytes);
  return runCase(
    target,
    c,
    read.requests.map((r) => r.method),
    owed,
  );
}

/** Every request line the upstreams received that names `marker`. */
function upstreamLines(marker: string): string[] {
  const all = [...plain.connections, ...tlsUp.connections].map((c) =>
    Buffer.concat(c.chunks).toString("latin1"),
  );
  return all.flatMap((text) =>
    text.split("\r\n").filter((l) => / HTTP\/1\.1$/.test(l) && l.includes(marker)),
  );
}

// Minimal reproductions of what the fuzzer found (exact bytes; see the report in the commit log).
describe("framing fuzzer findings, minimal", () => {
  const auth = (agent: string) => `Proxy-Authorization: ${target.authFor(agent)}\r\n`;
  const req = (method: string, path: string, extra = "", agent = "fuzz-a") =>
    `${method} http://${PLAIN}${path} HTTP/1.1\r\nHost: ${PLAIN}\r\nx-agent: ${agent}\r\n${auth(agent)}${extra}\r\n`;

  const ambiguous = (n: number, r: number) =>
    `${req("OPTIONS", `/f/c${n}r${r}`, "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n")}0\r\n\r\n`;

  /** Sends `first` (if any), an ambiguous request, then two more, all pipelined. */
  const refusedThenPipelined = async (_what: string, n: number, first: string) => {
    const head =
      first === "HEAD"
        ? `${req("HEAD", `/f/c${n}r0`, "Transfer-Encoding: chunked\r\n")}9\r\nb188r0:,k\r\n0\r\n\r\n`
        : first === "GET"
          ? req("GET", `/f/c${n}r0`)
          : "";
    const bytes = head + ambiguous(n, 1) + req("GET", `/f/c${n}r2`) + req("TRACE", `/f/c${n}r3`);
    const run = await sendRaw(n, bytes);
    await new Promise((r) => setTimeout(r, 500));
    expect(run.responses.map((r) => r.error ?? r.status)).toEqual(
      first ? [200, "bad_request"] : ["bad_request"],
    );
    // Only r0 reached the upstream. (Its line is matched at the end: after the full fuzz run, the
    // same agent's pooled upstream connection may carry leftover bytes of an earlier garbage
    // exchange of that agent — see the session note; never another agent's.)
    const lines = upstreamLines(`c${n}r`);
    expect(lines.length).toBe(first ? 1 : 0);
    if (first) expect(lines[0]?.endsWith(`${first} /f/c${n}r0 HTTP/1.1`)).toBe(true);
  };
  const REFUSAL =
    "a request refused for ambiguous framing, with %s, ends the connection: pipelined requests after it never reach the upstream";

  it.each([["nothing before it", 900001, ""]])(REFUSAL, refusedThenPipelined);

  // Fails until the gateway stops reading a connection once it refused a request for ambiguous
  // framing: requests Node already parsed from the same pipeline are still checked and forwarded
  // (they reach the upstream) although their boundaries are exactly what was ambiguous.
  it.each([
    ["a GET before it", 900011, "GET"],
    ["a chunked HEAD before it (fuzz case 188)", 900021, "HEAD"],
  ])(REFUSAL, refusedThenPipelined);

  it("pipelined answers keep request order: a refusal of request 2 is not written before the answer to request 1", async () => {
    const bytes =
      req("GET", "/f/c900002r0") +
      req("OPTIONS", "/f/c900002r1", "Content-Length: 0\r\nConnection: content-length\r\n");
    const run = await sendRaw(900002, bytes);
    expect(run.responses.map((r) => r.status)).toEqual([200, 400]);
    expect(run.responses[0]?.body).toBe("ok GET /f/c900002r0 0");
  });

  // An upstream that answers unasked (a late second response) can only ever reach the same agent:
  // pools are per agent, so another agent's request to the same upstream never reads it. (Within one
  // agent and origin it is indistinguishable from that upstream lying in its next answer; a pooled
  // socket that speaks while idle is destroyed, but one already handed to the next request cannot
  // tell a late response from its own.)
  it("an unsolicited upstream response never reaches another agent's request (fuzz seed 99, case 1356)", async () => {
    const first = await sendRaw(
      900031,
      req("GET", "/f/c900031r0", "x-upstream-mode: extra-late\r\n"),
      false,
      1,
    );
    const second = await sendRaw(
      900032,
      req("GET", "/f/c900032r0", "x-upstream-mode: slow\r\n", "fuzz-b"),
      false,
      1,
      "fuzz-b",
    );
    expect(first.responses.map((r) => r.body)).toEqual(["ok GET /f/c900031r0 0"]);
    expect(second.responses.map((r) => r.body)).toEqual(["ok GET /f/c900032r0 0"]);
  });
});
