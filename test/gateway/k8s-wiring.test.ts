/**
 * The gateway's Kubernetes wiring, in process: a Pod's bearer token (checked by the injected token
 * identity) names its agent and the rest of its connection stays that agent's; a wrong token, or
 * none on a fresh connection, is 407 and never falls back to anything; and when the agent runtime
 * cannot create what isolates agents, POST /v1/agents answers 503 runtime_unavailable naming it.
 */
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Gateway, startGateway } from "../../gateway/index.js";
import { createTokenIdentity } from "../../gateway/token-review.js";

let gw: Gateway;
let home: string;
// Shaped like a projected token of the agents' ServiceAccount (the identity pre-checks these claims).
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
const mint = (pod: string) =>
  `${b64({ alg: "RS256" })}.${b64({
    aud: ["warden-gateway"],
    sub: "system:serviceaccount:warden-agents:warden-agent",
    exp: Math.floor(Date.now() / 1000) + 3600,
    "kubernetes.io": { pod: { name: pod, uid: "uid-1" } },
  })}.c2ln`;
const GOOD = mint("warden-i-a1");
const FORGED = mint("forged");

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), "wdn-k8s-wiring-"));
  await mkdir(join(home, "policies"));
  await writeFile(join(home, "policies", "x.yaml"), "hosts: [x.test]\nrules: []\n");
  const identity = createTokenIdentity({
    review: async (token) =>
      token === GOOD
        ? {
            authenticated: true,
            user: "system:serviceaccount:warden-agents:warden-agent",
            audiences: ["warden-gateway"],
            podName: "warden-i-a1",
            podUid: "uid-1",
          }
        : { authenticated: false },
    agentOfPod: async (name, uid) => (name === "warden-i-a1" && uid === "uid-1" ? "a1" : undefined),
  });
  gw = await startGateway({
    home,
    policiesDir: join(home, "policies"),
    listen: { host: "127.0.0.1", port: 0 },
    control: { host: "127.0.0.1", port: 0 },
    masterKey: randomBytes(32).toString("hex"),
    log: () => undefined,
    tokenIdentity: identity,
    hooks: {
      started: async () => {
        throw Object.assign(
          new Error("cannot create NetworkPolicy warden-agents/warden-agents-default-deny"),
          {
            code: "runtime_unavailable",
            resource: "NetworkPolicy warden-agents/warden-agents-default-deny",
          },
        );
      },
    },
  });
});

afterAll(async () => {
  await gw.close();
  await rm(home, { recursive: true, force: true });
});

function inbox(auth: string | undefined): Promise<number> {
  const [host, port] = gw.proxyAddress.split(":");
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host,
        port: Number(port),
        path: "http://warden.internal/v1/inbox",
        headers: auth ? { "proxy-authorization": auth } : {},
        agent: false,
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

describe("Kubernetes wiring of the gateway", () => {
  it("a Pod's bearer token names its agent; a wrong token or none is 407", async () => {
    await gw.credentials.issueToken("a1");
    expect(await inbox(`Bearer ${GOOD}`)).toBe(200);
    expect(await inbox(`Bearer ${FORGED}`)).toBe(407);
    expect(await inbox(undefined)).toBe(407);
  });

  it("POST /v1/agents answers 503 runtime_unavailable naming what could not be created", async () => {
    const res = await fetch(`http://${gw.controlAddress}/v1/agents`, {
      method: "POST",
      headers: { authorization: `Bearer ${gw.token}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "a2" }),
    });
    expect(res.status).toBe(503);
    const body = (await res.json()) as { error: { code: string; resource: string } };
    expect(body.error.code).toBe("runtime_unavailable");
    expect(body.error.resource).toBe("NetworkPolicy warden-agents/warden-agents-default-deny");
  });
});
