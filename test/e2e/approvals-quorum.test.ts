/**
 * Approvals beyond one tap: quorums of distinct approvers, grant windows, and identical requests
 * joining the approval already pending instead of asking twice.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AgentCredentials, type GatewayProcess, startGateway } from "../fakes/gateway-process.js";
import { proxyRequest } from "../fakes/proxy-client.js";
import { type RecordingUpstream, startUpstream } from "../fakes/upstreams.js";
import { DEFAULTS, PAY_POLICY, track } from "./approval-policy.js";
import { decide, listApprovals, waitForPending } from "./approvals-api.js";
import { expectWardenError } from "./expect-warden-error.js";

let up: RecordingUpstream;
let gw: GatewayProcess;
let agent: AgentCredentials;
let other: AgentCredentials;

const post = (path: string, body: string, who: AgentCredentials = agent, signal?: AbortSignal) =>
  proxyRequest(gw, `http://pay.test:${up.port}${path}`, {
    auth: { agent: who.name, token: who.token },
    method: "POST",
    body,
    signal,
    headers: { "content-type": "application/json" },
  });

const settle = () => new Promise((resolve) => setTimeout(resolve, 500));

beforeAll(async () => {
  up = await startUpstream();
  gw = await startGateway({
    policies: { _defaults: DEFAULTS, pay: PAY_POLICY },
    resolve: { "pay.test": `127.0.0.1:${up.port}` },
  });
  agent = await gw.createAgent("quorum-agent");
  other = await gw.createAgent("quorum-other");
});

afterAll(async () => {
  await gw?.cleanup();
  await up?.close();
});

describe("quorum", () => {
  it("needs two distinct approvers, and the same approver voting twice gets 409", async () => {
    up.reset();
    const held = track(post("/quorum/merge", "{}"));
    const approval = await waitForPending(gw, "/quorum/merge");
    expect(approval.needed).toBe(2);
    expect((await decide(gw, approval.id, "approve", "test:alice")).status).toBe(200);
    const afterOne = (await listApprovals(gw)).find((a) => a.id === approval.id);
    expect(afterOne?.approvals).toEqual(["test:alice"]);
    expect(held.settled()).toBe(false);
    expect(up.received()).toBe(0);

    expect((await decide(gw, approval.id, "approve", "test:alice")).status).toBe(409);
    expect(held.settled()).toBe(false);

    expect((await decide(gw, approval.id, "approve", "test:bob")).status).toBe(200);
    expect((await held.promise).status).toBe(200);
    expect(up.requests).toHaveLength(1);
  });

  it("is ended by a single deny", async () => {
    up.reset();
    const held = track(post("/quorum/veto", "{}"));
    const approval = await waitForPending(gw, "/quorum/veto");
    await decide(gw, approval.id, "approve", "test:alice");
    await decide(gw, approval.id, "deny", "test:bob");
    expectWardenError(await held.promise, "approval_denied");
    expect(up.received()).toBe(0);
  });
});

describe("grant", () => {
  it("lets the agent use the same rule again within the window without asking", async () => {
    up.reset();
    const first = track(post("/grant/one", '{"n":1}'));
    const approval = await waitForPending(gw, "/grant/one");
    expect((await decide(gw, approval.id, "approve", "test:alice", "grant")).status).toBe(200);
    expect((await first.promise).status).toBe(200);

    const second = await post("/grant/two", '{"n":2}');
    expect(second.status, second.text).toBe(200);
    expect(up.requests.map((r) => r.url)).toEqual(["/grant/one", "/grant/two"]);
    expect((await listApprovals(gw)).filter((a) => a.path.startsWith("/grant/"))).toEqual([]);
  });

  it("does not extend to another agent", async () => {
    const held = track(post("/grant/three", "{}", other));
    const approval = await waitForPending(gw, "/grant/three");
    expect(approval.agent).toBe("quorum-other");
    await decide(gw, approval.id, "deny", "test:alice");
    expectWardenError(await held.promise, "approval_denied");
  });

  it("does not extend to another rule", async () => {
    const held = track(post("/pay/after-grant", "{}"));
    const approval = await waitForPending(gw, "/pay/after-grant");
    await decide(gw, approval.id, "deny", "test:alice");
    expectWardenError(await held.promise, "approval_denied");
  });
});

describe("identical requests", () => {
  it("join the approval already pending (the agent's retry makes no second card)", async () => {
    up.reset();
    const body = '{"invoice":"INV-7"}';
    const abort = new AbortController();
    const first = post("/pay/join", body, agent, abort.signal).catch((err: Error) => err);
    const approval = await waitForPending(gw, "/pay/join");
    abort.abort();
    await first;

    const retry = track(post("/pay/join", body));
    await settle();
    const pending = (await listApprovals(gw)).filter((a) => a.path === "/pay/join");
    expect(pending.map((a) => a.id)).toEqual([approval.id]);
    expect(retry.settled()).toBe(false);

    expect((await decide(gw, approval.id, "approve", "test:alice")).status).toBe(200);
    expect((await retry.promise).status).toBe(200);
    expect(up.requests).toHaveLength(1);
  });

  it("with a different body get their own approval", async () => {
    const a = track(post("/pay/differ", '{"n":1}'));
    const first = await waitForPending(gw, "/pay/differ");
    const b = track(post("/pay/differ", '{"n":2}'));
    const second = await (async () => {
      for (let i = 0; i < 200; i++) {
        const list = (await listApprovals(gw)).filter((x) => x.path === "/pay/differ" && x.id !== first.id);
        if (list[0]) return list[0];
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      throw new Error("no second approval for a different body");
    })();
    expect(second.id).not.toBe(first.id);
    await decide(gw, first.id, "deny", "test:alice");
    await decide(gw, second.id, "deny", "test:alice");
    expectWardenError(await a.promise, "approval_denied");
    expectWardenError(await b.promise, "approval_denied");
  });

  it("from another agent get their own approval", async () => {
    const a = track(post("/pay/agents", "{}"));
    const first = await waitForPending(gw, "/pay/agents");
    const b = track(post("/pay/agents", "{}", other));
    await settle();
    const list = (await listApprovals(gw)).filter((x) => x.path === "/pay/agents");
    expect(new Set(list.map((x) => x.agent))).toEqual(new Set(["quorum-agent", "quorum-other"]));
    for (const x of list) await decide(gw, x.id, "deny", "test:bob");
    expect(first.agent).toBe("quorum-agent");
    expectWardenError(await a.promise, "approval_denied");
    expectWardenError(await b.promise, "approval_denied");
  });
});
