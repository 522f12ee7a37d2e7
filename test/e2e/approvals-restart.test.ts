/**
 * Pending approvals live in the store: a SIGTERM answers the held request 503, and after a restart
 * the agent's identical retry joins the same approval, which then lets it through.
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

const post = (path: string, body: string) =>
  proxyRequest(gw, `http://pay.test:${up.port}${path}`, {
    auth: { agent: agent.name, token: agent.token },
    method: "POST",
    body,
    headers: { "content-type": "application/json" },
  });

beforeAll(async () => {
  up = await startUpstream();
  gw = await startGateway({
    policies: { _defaults: DEFAULTS, pay: PAY_POLICY },
    resolve: { "pay.test": `127.0.0.1:${up.port}` },
  });
  agent = await gw.createAgent("restart-agent");
});

afterAll(async () => {
  await gw?.cleanup();
  await up?.close();
});

describe("a pending approval across a gateway restart", () => {
  it("answers the held request 503 on SIGTERM, survives, and is joined by the retry", async () => {
    const body = '{"invoice":"INV-99"}';
    const held = track(post("/pay/restart", body));
    const approval = await waitForPending(gw, "/pay/restart");

    await gw.restart();
    expectWardenError(await held.promise, "gateway_shutting_down");
    expect(up.received()).toBe(0);

    const afterRestart = (await listApprovals(gw)).filter((a) => a.path === "/pay/restart");
    expect(afterRestart.map((a) => a.id)).toEqual([approval.id]);

    const retry = track(post("/pay/restart", body));
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await listApprovals(gw)).filter((a) => a.path === "/pay/restart").map((a) => a.id)).toEqual([
      approval.id,
    ]);
    expect(retry.settled()).toBe(false);

    expect((await decide(gw, approval.id, "approve", "test:alice")).status).toBe(200);
    const res = await retry.promise;
    expect(res.status, res.text).toBe(200);
    expect(up.requests).toHaveLength(1);
    expect(up.requests[0]?.body.toString()).toBe(body);
  });

  it("keeps agents and their tokens across the restart", async () => {
    const res = await proxyRequest(gw, `http://pay.test:${up.port}/read`, {
      auth: { agent: agent.name, token: agent.token },
    });
    expect(res.status).toBe(200);
  });
});
