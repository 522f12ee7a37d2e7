/**
 * A rule's `escalate` through the real `warden gateway` process (no bot: explicit ids only). When
 * nobody has voted in the window, the people the policy names may decide too; nobody else may, the
 * quorum stays, and the escalation is in the audit. Nothing the agent sends can escalate a request.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AgentCredentials, type GatewayProcess, startGateway } from "../fakes/gateway-process.js";
import { pollUntil } from "../fakes/poll-until.js";
import { proxyRequest } from "../fakes/proxy-client.js";
import { type RecordingUpstream, startUpstream } from "../fakes/upstreams.js";
import { DEFAULTS, track } from "./approval-policy.js";
import { decide, waitForPending } from "./approvals-api.js";

const POLICY = {
  hosts: ["esc.test"],
  rules: [
    {
      name: "escalating",
      methods: ["POST"],
      paths: ["/esc/*"],
      action: "approve",
      approvers: ["test:alice"],
      timeout: "5m",
      escalate: { after: "1s", to: ["test:carol"] },
    },
    {
      name: "quiet-rule",
      methods: ["POST"],
      paths: ["/plain/*"],
      action: "approve",
      approvers: ["test:alice"],
      timeout: "5m",
    },
  ],
  default: "deny",
};

let up: RecordingUpstream;
let gw: GatewayProcess;
let agent: AgentCredentials;

const post = (path: string, headers: Record<string, string> = {}) =>
  proxyRequest(gw, `http://esc.test:${up.port}${path}`, {
    auth: { agent: agent.name, token: agent.token },
    method: "POST",
    body: "{}",
    headers: { "content-type": "application/json", ...headers },
  });

type View = { id: string; approvers: string[]; escalatedTo?: string[]; needed: number };
const view = async (id: string): Promise<View> =>
  (await gw.control("GET", `/v1/approvals/${id}`)).body as View;

beforeAll(async () => {
  up = await startUpstream();
  gw = await startGateway({
    policies: { _defaults: DEFAULTS, esc: POLICY },
    resolve: { "esc.test": `127.0.0.1:${up.port}` },
  });
  agent = await gw.createAgent("esc-agent");
});

afterAll(async () => {
  await gw?.cleanup();
  await up?.close();
});

describe("escalate", () => {
  it("after the window the policy's next person may decide; a stranger still may not; audited", async () => {
    up.reset();
    const held = track(post("/esc/one"));
    const pending = await waitForPending(gw, "/esc/one");
    const escalated = await pollUntil("the escalation", async () => {
      const v = await view(pending.id);
      return v.escalatedTo ? v : undefined;
    });
    expect(escalated).toMatchObject({
      approvers: ["test:alice", "test:carol"],
      escalatedTo: ["test:carol"],
      needed: 1,
    });
    expect((await decide(gw, pending.id, "approve", "test:mallory")).status).toBe(403);
    expect(up.received()).toBe(0);
    expect((await decide(gw, pending.id, "approve", "test:carol")).status).toBe(200);
    expect((await held.promise).status).toBe(200);
    expect(up.requests).toHaveLength(1);
    const audit = await gw.control("GET", "/v1/audit?after=0&limit=1000");
    const rows = JSON.stringify(audit.body);
    expect(rows).toContain('"type":"approval_escalated"');
    expect(rows).toContain('"to":["test:carol"]');
  });

  it("the agent cannot ask for escalation: headers naming approvers change nothing on a rule without it", async () => {
    up.reset();
    const held = track(
      post("/plain/one", { "x-warden-escalate": "test:mallory", "x-warden-approvers": "test:mallory" }),
    );
    const pending = await waitForPending(gw, "/plain/one");
    // Give an escalation every chance to happen (there is none to happen), then look.
    await new Promise((r) => setTimeout(r, 1500));
    const v = await view(pending.id);
    expect(v.approvers).toEqual(["test:alice"]);
    expect(v.escalatedTo).toBeUndefined();
    expect((await decide(gw, pending.id, "approve", "test:mallory")).status).toBe(403);
    expect((await decide(gw, pending.id, "deny", "test:alice")).status).toBe(200);
    expect((await held.promise).status).toBe(403);
    expect(up.received()).toBe(0);
  });
});
