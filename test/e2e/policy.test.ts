/**
 * Policy enforcement as seen from the agent: allow, deny and default verdicts, path globs that
 * refuse traversal and encoding tricks, body_contains, rate limits and policy reloads. Every
 * refusal must leave the upstream untouched.
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AgentCredentials, type GatewayProcess, startGateway } from "../fakes/gateway-process.js";
import { proxyRequest } from "../fakes/proxy-client.js";
import { type RecordingUpstream, startUpstream } from "../fakes/upstreams.js";
import { expectWardenError } from "./expect-warden-error.js";

const HOSTS = [
  "shop.test",
  "open.test",
  "limited.test",
  "unknown.test",
  "a.wild.test",
  "b.a.wild.test",
  "evilwild.test",
];

const SHOP = {
  hosts: ["shop.test"],
  rules: [
    { name: "public", methods: ["GET", "HEAD"], paths: ["/public/**"], action: "allow" },
    { name: "files", methods: ["GET"], paths: ["/files/*"], action: "allow" },
    { name: "no-deletes", methods: ["DELETE"], action: "deny" },
    { name: "wires", body_contains: ["wire-transfer"], action: "deny" },
    { name: "orders", methods: ["POST"], paths: ["/orders"], action: "allow" },
  ],
  default: "deny",
};

let up: RecordingUpstream;
let gw: GatewayProcess;
let agent: AgentCredentials;
let other: AgentCredentials;

const u = (host: string, path: string) => `http://${host}:${up.port}${path}`;
const auth = () => ({ agent: "pol", token: agent.token });

beforeAll(async () => {
  up = await startUpstream();
  gw = await startGateway({
    policies: {
      _defaults: { unknown_hosts: "deny", approval_timeout: "15m", approvers: ["test:alice"] },
      shop: SHOP,
      open: {
        hosts: ["open.test"],
        rules: [{ name: "no-admin", paths: ["/admin/**"], action: "deny" }],
        default: "allow",
      },
      limited: { hosts: ["limited.test"], rate_limit: "3/min", rules: [], default: "allow" },
      wild: { hosts: ["*.wild.test"], rules: [], default: "allow" },
    },
    resolve: Object.fromEntries(HOSTS.map((h) => [h, `127.0.0.1:${up.port}`])),
  });
  agent = await gw.createAgent("pol");
  other = await gw.createAgent("pol2");
});

afterAll(async () => {
  await gw?.cleanup();
  await up?.close();
});

describe("verdicts", () => {
  it.each([
    // why                                          method    host              path               status  code
    ["rule allows GET under /public/**", "GET", "shop.test", "/public/a/b/c", 200, undefined],
    ["rule allows one segment under /files/*", "GET", "shop.test", "/files/report", 200, undefined],
    ["/files/* does not match two segments", "GET", "shop.test", "/files/a/b", 403, "policy_denied"],
    ["method not in the allow rule", "PUT", "shop.test", "/public/a", 403, "policy_denied"],
    ["deny rule for DELETE", "DELETE", "shop.test", "/public/a", 403, "policy_denied"],
    ["no rule matches, default deny", "GET", "shop.test", "/admin", 403, "policy_denied"],
    ["no rule matches, default allow", "GET", "open.test", "/anything", 200, undefined],
    ["deny rule under a default allow", "GET", "open.test", "/admin/users", 403, "policy_denied"],
    ["host without a policy", "GET", "unknown.test", "/", 403, "host_not_allowed"],
    ["wildcard host matches a subdomain", "GET", "a.wild.test", "/", 200, undefined],
    ["wildcard host matches a deeper subdomain", "GET", "b.a.wild.test", "/", 200, undefined],
    ["suffix without the dot is not a subdomain", "GET", "evilwild.test", "/", 403, "host_not_allowed"],
  ] as const)("%s", async (_why, method, host, path, status, code) => {
    up.reset();
    const res = await proxyRequest(gw, u(host, path), { auth: auth(), method });
    if (code) {
      expectWardenError(res, code);
      expect(up.received()).toBe(0);
    } else {
      expect(res.status, res.text).toBe(status);
      expect(up.requests.map((r) => r.url)).toEqual([path]);
    }
  });
});

describe("ambiguous paths", () => {
  it.each([
    // why                                            path sent (only /public/** is allowed)
    ["dot-dot segment", "/public/../admin"],
    ["percent-encoded dot-dot", "/public/%2e%2e/admin"],
    ["upper-case percent-encoded dot-dot", "/public/%2E%2E/admin"],
    ["half-encoded dot-dot", "/public/.%2e/admin"],
    ["dot-dot hidden behind an encoded slash", "/public/..%2Fadmin"],
    ["fully encoded ../", "/public/%2e%2e%2fadmin"],
    ["encoded backslash", "/public/..%5Cadmin"],
    ["raw backslash", "/public/..\\admin"],
    ["single dot then dot-dot", "/public/./../admin"],
    ["empty segment then dot-dot", "/public//../admin"],
    ["trailing dot-dot", "/public/a/.."],
    ["encoded slash inside one segment", "/files/a%2Fb"],
    ["lower-case encoded slash", "/files/a%2fb"],
    ["NUL byte", "/files/a%00b"],
    ["broken percent-encoding", "/files/a%zz"],
  ])("refuses %s and sends nothing upstream", async (_why, path) => {
    up.reset();
    const res = await proxyRequest(gw, u("shop.test", path), { auth: auth() });
    expect(res.status, `${path} → ${res.status} ${res.text}`).toBe(403);
    expect(res.errorCode).toBe("policy_denied");
    expect(up.received()).toBe(0);
  });
});

describe("body_contains", () => {
  it("denies a body carrying the needle, case-insensitively", async () => {
    up.reset();
    const res = await proxyRequest(gw, u("shop.test", "/orders"), {
      auth: auth(),
      method: "POST",
      body: JSON.stringify({ note: "please do a WIRE-Transfer of $10k" }),
      headers: { "content-type": "application/json" },
    });
    expectWardenError(res, "policy_denied");
    expect(res.json().error.rule).toBe("wires");
    expect(up.received()).toBe(0);
  });

  it("lets the same request through without the needle, body intact", async () => {
    up.reset();
    const body = JSON.stringify({ note: "one book" });
    const res = await proxyRequest(gw, u("shop.test", "/orders"), {
      auth: auth(),
      method: "POST",
      body,
      headers: { "content-type": "application/json" },
    });
    expect(res.status).toBe(200);
    expect(up.requests[0]?.body.toString()).toBe(body);
  });
});

describe("rate_limit", () => {
  it("answers 429 with Retry-After past the limit, per agent", async () => {
    up.reset();
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++)
      statuses.push((await proxyRequest(gw, u("limited.test", `/n${i}`), { auth: auth() })).status);
    expect(statuses).toEqual([200, 200, 200]);
    const limited = await proxyRequest(gw, u("limited.test", "/n3"), { auth: auth() });
    expectWardenError(limited, "rate_limited");
    const retryAfter = String(limited.headers["retry-after"] ?? "");
    expect(
      Number(retryAfter) > 0 || !Number.isNaN(Date.parse(retryAfter)),
      `Retry-After: ${retryAfter}`,
    ).toBe(true);
    expect(up.requests).toHaveLength(3);
    const otherAgent = await proxyRequest(gw, u("limited.test", "/other"), {
      auth: { agent: "pol2", token: other.token },
    });
    expect(otherAgent.status).toBe(200);
  });
});

describe("POST /v1/policies/reload", () => {
  it("answers 422 for an invalid file and keeps the old policy in force", async () => {
    await gw.writePolicy("broken", { hosts: ["open.test"], rules: [], default: "allow", surprise_key: true });
    const res = await gw.control("POST", "/v1/policies/reload");
    expect(res.status).toBe(422);
    expect(res.text).toContain("broken");
    const still = await proxyRequest(gw, u("open.test", "/still-open"), { auth: auth() });
    expect(still.status).toBe(200);
    await rm(join(gw.policiesDir, "broken.yaml"));
  });

  it("applies a valid change", async () => {
    await gw.writePolicy("open", { hosts: ["open.test"], rules: [], default: "deny" });
    const res = await gw.control("POST", "/v1/policies/reload");
    expect(res.status).toBe(200);
    up.reset();
    const now = await proxyRequest(gw, u("open.test", "/closed"), { auth: auth() });
    expectWardenError(now, "policy_denied");
    expect(up.received()).toBe(0);
  });
});
