/**
 * Class 9 (approvals side): an agent cannot exhaust approvers or the gateway's memory by holding
 * requests. Black-box against the real `warden gateway`: per agent at most `max_pending` (default
 * 20) approvals wait; held bodies are bounded in total across agents (`max_held_bytes`); beyond
 * either the request is refused 429 `too_many_pending`, no approval (so no card) is made, and the
 * refusal is audited. Held bodies wait on disk, not in memory: the RSS figure is printed.
 */
import { readdir, readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AgentCredentials, type GatewayProcess, startGateway } from "../../fakes/gateway-process.js";
import { pollUntil } from "../../fakes/poll-until.js";
import { type ProxiedResponse, proxyRequest } from "../../fakes/proxy-client.js";
import { type RecordingUpstream, startUpstream } from "../../fakes/upstreams.js";
import { DEFAULTS, PAY_POLICY, track } from "../approval-policy.js";
import { decide, listApprovals } from "../approvals-api.js";

let up: RecordingUpstream;
let gw: GatewayProcess;
// One creation per name even when a flood asks at once (a second POST /v1/agents would re-issue the token).
const agents = new Map<string, Promise<AgentCredentials>>();
const agentNamed = (name: string): Promise<AgentCredentials> => {
  const known = agents.get(name) ?? gw.createAgent(name);
  agents.set(name, known);
  return known;
};

async function post(name: string, path: string, body: string | Buffer): Promise<ProxiedResponse> {
  const a = await agentNamed(name);
  return proxyRequest(gw, `http://pay.test:${up.port}${path}`, {
    auth: { agent: a.name, token: a.token },
    method: "POST",
    body,
    headers: { "content-type": "application/octet-stream" },
  });
}

const pendingOf = async (agent: string) => (await listApprovals(gw)).filter((a) => a.agent === agent);
const waitPending = (agent: string, n: number) =>
  pollUntil(
    `${n} pending approvals of ${agent}`,
    async () => ((await pendingOf(agent)).length === n ? true : undefined),
    60_000,
  );
const denyAll = async () => {
  for (const a of await listApprovals(gw)) await decide(gw, a.id, "deny", "test:bob");
};
const expectTooMany = (res: ProxiedResponse) => {
  expect(res.status, res.text).toBe(429);
  expect(res.errorCode).toBe("too_many_pending");
  expect(res.json().error.code).toBe("too_many_pending");
};

beforeAll(async () => {
  up = await startUpstream();
  gw = await startGateway({
    policies: { _defaults: { ...DEFAULTS, max_held_bytes: "1MiB" }, pay: PAY_POLICY },
    resolve: { "pay.test": `127.0.0.1:${up.port}` },
  });
});

afterAll(async () => {
  await gw?.cleanup();
  await up?.close();
});

describe("max_pending: a flood of held requests from one agent", () => {
  it("refuses the 21st with 429 too_many_pending, makes no approval for it, and audits it", async () => {
    up.reset();
    const held = Array.from({ length: 20 }, (_, i) => track(post("flooder", `/pay/f${i}`, `body ${i}`)));
    await waitPending("flooder", 20);
    expectTooMany(await post("flooder", "/pay/f20", "body 20"));
    const pending = await pendingOf("flooder");
    expect(pending).toHaveLength(20);
    expect(pending.some((a) => a.path === "/pay/f20")).toBe(false);
    const audit = (await gw.control("GET", "/v1/audit?after=0")).text;
    expect(audit).toContain("too_many_pending");
    expect(up.received()).toBe(0);

    // The identical retry of a waiting request joins it: it is not a 21st approval.
    const retry = track(post("flooder", "/pay/f3", "body 3"));
    await new Promise((r) => setTimeout(r, 300));
    expect(retry.settled()).toBe(false);
    expect(await pendingOf("flooder")).toHaveLength(20);

    // Another agent has its own allowance.
    const other = track(post("bystander", "/pay/b0", "b"));
    await waitPending("bystander", 1);

    // Settling one frees a slot.
    const f0 = pending.find((a) => a.path === "/pay/f0");
    await decide(gw, f0?.id as string, "deny", "test:bob");
    const next = track(post("flooder", "/pay/f21", "body 21"));
    await pollUntil("f21 pending", async () =>
      (await pendingOf("flooder")).some((a) => a.path === "/pay/f21") ? true : undefined,
    );
    await denyAll();
    for (const h of [...held, retry, other, next]) expect((await h.promise).status).toBe(403);
    expect(up.received()).toBe(0);
  });
});

describe("max_held_bytes: held bodies are bounded across agents", () => {
  it("refuses a hold that would pass the total, whoever sends it, until bodies are released", async () => {
    const kib400 = Buffer.alloc(400 * 1024, 0x61);
    const a = track(post("holder-a", "/pay/h", kib400));
    const b = track(post("holder-b", "/pay/h", kib400));
    await waitPending("holder-a", 1);
    await waitPending("holder-b", 1);
    expectTooMany(await post("holder-c", "/pay/h", kib400));
    expect(await pendingOf("holder-c")).toHaveLength(0);
    // Small bodies still fit under the cap.
    const small = track(post("holder-c", "/pay/small", "tiny"));
    await waitPending("holder-c", 1);
    const [first] = await pendingOf("holder-a");
    await decide(gw, first?.id as string, "deny", "test:bob");
    const c = track(post("holder-c", "/pay/h", kib400));
    await waitPending("holder-c", 2);
    await denyAll();
    for (const h of [a, b, small, c]) expect((await h.promise).status).toBe(403);
  });
});

/** The gateway child's pid: the process whose command line names this test's home. */
async function gatewayPid(): Promise<number> {
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const cmd = await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "");
    if (cmd.includes(gw.home) && cmd.includes("gateway")) return Number(entry);
  }
  throw new Error("gateway process not found");
}

async function memory(pid: number): Promise<{ rssMiB: number; peakMiB: number }> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kib = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? Number.NaN);
  return { rssMiB: Math.round(kib("VmRSS") / 1024), peakMiB: Math.round(kib("VmHWM") / 1024) };
}

describe("memory under a held-request flood", () => {
  it("20 agents × 20 held 1 MiB bodies: the bodies wait on disk, not in the gateway's memory", {
    timeout: 300_000,
  }, async () => {
    await gw.writePolicy("_defaults", { ...DEFAULTS, max_held_bytes: "1GiB" });
    expect((await gw.control("POST", "/v1/policies/reload")).status).toBe(200);
    const pid = await gatewayPid();
    const before = await memory(pid);
    const mib = Buffer.alloc(1024 * 1024, 0x62);
    const names = Array.from({ length: 20 }, (_, i) => `rss-${i}`);
    for (const n of names) await agentNamed(n);
    const held: ReturnType<typeof track<ProxiedResponse>>[] = [];
    for (const n of names) {
      for (let i = 0; i < 20; i++) held.push(track(post(n, `/pay/m${i}`, mib)));
      await waitPending(n, 20);
    }
    const spooled = await pollUntil("400 spool files", async () => {
      const n = (await readdir(`${gw.home}/held`)).length;
      return n === 400 ? n : undefined;
    });
    const after = await memory(pid);
    console.log(
      `[limits-pending] gateway RSS with 400 held 1 MiB bodies (${spooled} spool files): ` +
        `before ${before.rssMiB} MiB, after ${after.rssMiB} MiB, peak ${after.peakMiB} MiB`,
    );
    expect(spooled).toBe(400);
    // 400 MiB of bodies are held; if they stayed in memory RSS would grow by at least that much.
    expect(after.rssMiB - before.rssMiB).toBeLessThan(200);
    await denyAll();
    for (const h of held) expect((await h.promise).status).toBe(403);
  });
});
