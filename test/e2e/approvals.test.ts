/**
 * Held requests: nothing reaches the agent or the upstream until a decision; approve forwards the
 * request, deny and expiry answer 403; the control API guards who may decide and when.
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

const auth = () => ({ agent: "payer", token: agent.token });
const post = (path: string, body: string, headers: Record<string, string> = {}) =>
  proxyRequest(gw, `http://pay.test:${up.port}${path}`, {
    auth: auth(),
    method: "POST",
    body,
    headers: { "content-type": "application/json", ...headers },
  });

beforeAll(async () => {
  up = await startUpstream();
  gw = await startGateway({
    policies: { _defaults: DEFAULTS, pay: PAY_POLICY },
    resolve: { "pay.test": `127.0.0.1:${up.port}` },
  });
  agent = await gw.createAgent("payer");
});

afterAll(async () => {
  await gw?.cleanup();
  await up?.close();
});

describe("a held request", () => {
  it("is listed with the agent's reason and forwarded once approved", async () => {
    up.reset();
    const body = JSON.stringify({ amount: 5, invoice: "INV-42" });
    const held = track(post("/pay/approve", body, { "x-warden-reason": "paying invoice 42" }));
    const approval = await waitForPending(gw, "/pay/approve");
    expect(approval).toMatchObject({
      agent: "payer",
      method: "POST",
      host: "pay.test",
      path: "/pay/approve",
      policy: "pay",
      rule: "once",
      reason: "paying invoice 42",
      needed: 1,
      approvals: [],
      state: "pending",
    });
    expect(approval.url).toContain("pay.test");
    expect(approval.bodyPreview ?? "").toContain("INV-42");
    expect(held.settled()).toBe(false);
    expect(up.received()).toBe(0);

    const decision = await decide(gw, approval.id, "approve", "test:alice");
    expect(decision.status, decision.text).toBe(200);
    const res = await held.promise;
    expect(res.status, res.text).toBe(200);
    expect(up.requests).toHaveLength(1);
    expect(up.requests[0]?.body.toString()).toBe(body);
    expect(up.requests[0]?.headers["x-warden-reason"]).toBeUndefined();
    expect((await listApprovals(gw)).map((a) => a.id)).not.toContain(approval.id);
    const audit = (await gw.control("GET", "/v1/audit?after=0")).text;
    expect(audit).toContain(approval.id);
    expect(audit).toContain("test:alice");
  });

  it("answers approval_denied when an approver denies, and sends nothing upstream", async () => {
    up.reset();
    const held = track(post("/pay/deny", "{}"));
    const approval = await waitForPending(gw, "/pay/deny");
    expect((await decide(gw, approval.id, "deny", "test:bob")).status).toBe(200);
    const res = await held.promise;
    expectWardenError(res, "approval_denied");
    expect(res.json().error.approval).toBe(approval.id);
    expect(up.received()).toBe(0);
  });

  it("answers approval_expired when nobody decides before the rule's timeout", async () => {
    up.reset();
    const res = await post("/expire/soon", "{}");
    expectWardenError(res, "approval_expired");
    expect(up.received()).toBe(0);
    expect((await listApprovals(gw)).some((a) => a.path === "/expire/soon")).toBe(false);
  });
});

describe("POST /v1/approvals/{id}/decision", () => {
  it("refuses a decider who is not an allowed approver with 403 and keeps waiting", async () => {
    up.reset();
    const held = track(post("/pay/mallory", "{}"));
    const approval = await waitForPending(gw, "/pay/mallory");
    for (const by of ["test:mallory", "role:owner", "telegram:12345"]) {
      const res = await decide(gw, approval.id, "approve", by);
      expect(res.status, `by=${by}: ${res.text}`).toBe(403);
    }
    for (const by of ["alice", "", "test:"]) {
      const res = await decide(gw, approval.id, "approve", by);
      expect([400, 403], `by=${JSON.stringify(by)}: ${res.text}`).toContain(res.status);
    }
    expect(held.settled()).toBe(false);
    expect((await listApprovals(gw)).map((a) => a.id)).toContain(approval.id);
    expect(up.received()).toBe(0);
    await decide(gw, approval.id, "deny", "test:alice");
    expectWardenError(await held.promise, "approval_denied");
  });

  it("answers 409 for a decision on an already decided approval", async () => {
    const held = track(post("/pay/twice", "{}"));
    const approval = await waitForPending(gw, "/pay/twice");
    expect((await decide(gw, approval.id, "approve", "test:alice")).status).toBe(200);
    expect((await held.promise).status).toBe(200);
    expect((await decide(gw, approval.id, "approve", "test:bob")).status).toBe(409);
    expect((await decide(gw, approval.id, "deny", "test:bob")).status).toBe(409);
  });

  it("answers 404 for an unknown id", async () => {
    expect((await decide(gw, "no-such-approval", "approve", "test:alice")).status).toBe(404);
  });

  it("rejects a malformed decision body without deciding", async () => {
    const held = track(post("/pay/malformed", "{}"));
    const approval = await waitForPending(gw, "/pay/malformed");
    const res = await gw.control("POST", `/v1/approvals/${approval.id}/decision`, {
      decision: "maybe",
      by: "test:alice",
    });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(held.settled()).toBe(false);
    await decide(gw, approval.id, "deny", "test:alice");
    await held.promise;
  });
});
