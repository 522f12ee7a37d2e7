/**
 * Placeholder injection: an agent holds `wdn_…` placeholders; the gateway swaps in the real value in
 * the request line and header values (bodies only with `body: true`), only for hosts whose policy
 * lists the secret, and scrubs real values echoed back in responses.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AgentCredentials, type GatewayProcess, startGateway } from "../fakes/gateway-process.js";
import { proxyRequest } from "../fakes/proxy-client.js";
import { createTestCa } from "../fakes/test-ca.js";
import { type RecordingUpstream, startUpstream } from "../fakes/upstreams.js";
import { expectWardenError } from "./expect-warden-error.js";

const API_KEY = "sk-live-REAL-api-key-4a8f2c91d3e7";
const BODY_KEY = "real-body-key-77d0e5b2a9c4f1e8";
const PRIV_KEY = "real-private-key-3f9a0c7e1b5d";

let up: RecordingUpstream;
let tlsUp: RecordingUpstream;
let gw: GatewayProcess;
let a1: AgentCredentials;
let a2: AgentCredentials;
let ph: { api: string; body: string; priv: string };

const u = (host: string, path: string) => `http://${host}:${up.port}${path}`;
const auth1 = () => ({ agent: "inj1", token: a1.token });
const seenAnywhere = (value: string) =>
  up.requests.some((r) =>
    JSON.stringify({ u: r.url, h: r.headers, b: r.body.toString("utf8") }).includes(value),
  );

beforeAll(async () => {
  const ca = await createTestCa();
  up = await startUpstream();
  tlsUp = await startUpstream({ tls: await ca.issue(["secure.test"]) });
  gw = await startGateway({
    policies: {
      api: { hosts: ["api.test", "secure.test"], secrets: { API_KEY: {} }, rules: [], default: "allow" },
      bodyapi: { hosts: ["body.test"], secrets: { BODY_KEY: { body: true } }, rules: [], default: "allow" },
      other: { hosts: ["other.test"], rules: [], default: "allow" },
      priv: {
        hosts: ["priv.test"],
        agents: ["inj1"],
        secrets: { PRIV_KEY: {} },
        rules: [],
        default: "allow",
      },
    },
    upstreamCa: [ca.pemPath],
    resolve: Object.fromEntries([
      ...["api.test", "body.test", "other.test", "priv.test"].map((h) => [h, `127.0.0.1:${up.port}`]),
      ["secure.test", `127.0.0.1:${tlsUp.port}`],
    ]),
  });
  await gw.setSecret("API_KEY", API_KEY);
  await gw.setSecret("BODY_KEY", BODY_KEY);
  await gw.setSecret("PRIV_KEY", PRIV_KEY);
  a1 = await gw.createAgent("inj1");
  a2 = await gw.createAgent("inj2");
  ph = { api: a1.env.API_KEY ?? "", body: a1.env.BODY_KEY ?? "", priv: a1.env.PRIV_KEY ?? "" };
});

afterAll(async () => {
  await gw?.cleanup();
  await up?.close();
  await tlsUp?.close();
});

describe("placeholders in the agent env", () => {
  it("are opaque wdn_ values, one per secret the agent's policies list", () => {
    for (const value of Object.values(ph)) expect(value).toMatch(/^wdn_[A-Za-z0-9_-]{8,}$/);
    expect(new Set(Object.values(ph)).size).toBe(3);
    expect(JSON.stringify(a1)).not.toContain(API_KEY);
    expect(a2.env.PRIV_KEY).toBeUndefined();
    expect(a2.env.API_KEY).toMatch(/^wdn_/);
  });

  it("differ between agents, and GET /v1/agents shows no real value", async () => {
    const again = await gw.control("GET", "/v1/agents");
    expect(again.text).not.toContain(API_KEY);
    expect(a2.env.API_KEY).not.toBe(ph.api);
  });
});

describe("injection on an allowed host", () => {
  it.each([
    // why                       where the placeholder sits
    ["header value", "header"],
    ["query string", "query"],
    ["path segment", "path"],
  ] as const)("swaps the placeholder in the %s", async (_why, where) => {
    up.reset();
    const path = where === "path" ? `/v1/${ph.api}/info` : where === "query" ? `/q?key=${ph.api}&x=1` : "/h";
    const headers = where === "header" ? { authorization: `Bearer ${ph.api}`, "x-api-key": ph.api } : {};
    const res = await proxyRequest(gw, u("api.test", path), { auth: auth1(), headers });
    expect(res.status).toBe(200);
    const seen = up.requests[0];
    if (where === "header") {
      expect(seen?.headers.authorization).toBe(`Bearer ${API_KEY}`);
      expect(seen?.headers["x-api-key"]).toBe(API_KEY);
    } else {
      expect(seen?.url).toContain(API_KEY);
      expect(seen?.url).not.toContain(ph.api);
    }
  });

  it("swaps the placeholder through CONNECT + TLS too", async () => {
    tlsUp.reset();
    const res = await proxyRequest(gw, `https://secure.test:${tlsUp.port}/h`, {
      auth: auth1(),
      headers: { authorization: `token ${ph.api}` },
    });
    expect(res.status).toBe(200);
    expect(tlsUp.requests[0]?.headers.authorization).toBe(`token ${API_KEY}`);
  });

  it("leaves the body alone unless the policy says body: true", async () => {
    up.reset();
    const body = JSON.stringify({ key: ph.api });
    const res = await proxyRequest(gw, u("api.test", "/b"), {
      auth: auth1(),
      method: "POST",
      body,
      headers: { "content-type": "application/json" },
    });
    expect(res.status).toBe(200);
    expect(up.requests[0]?.body.toString()).toBe(body);
  });

  it("swaps the placeholder in a textual body when the policy says body: true", async () => {
    up.reset();
    const body = JSON.stringify({ key: ph.body, note: "hello" });
    const res = await proxyRequest(gw, u("body.test", "/b"), {
      auth: auth1(),
      method: "POST",
      body,
      headers: { "content-type": "application/json" },
    });
    expect(res.status).toBe(200);
    const seen = up.requests[0]?.body.toString() ?? "";
    expect(JSON.parse(seen)).toEqual({ key: BODY_KEY, note: "hello" });
    expect(Number(up.requests[0]?.headers["content-length"] ?? seen.length)).toBe(Buffer.byteLength(seen));
  });

  it("scrubs a real value echoed by the upstream back to the placeholder", async () => {
    const res = await proxyRequest(gw, u("api.test", "/echo-auth"), {
      auth: auth1(),
      headers: { authorization: `Bearer ${ph.api}` },
    });
    expect(res.status).toBe(200);
    expect(res.text).not.toContain(API_KEY);
    expect(res.json().authorization).toBe(`Bearer ${ph.api}`);
    expect(res.headers["x-echo-authorization"]).toBe(`Bearer ${ph.api}`);
  });
});

describe("placeholders bound for the wrong host", () => {
  it.each([
    // why                                                   host          where
    ["API_KEY sent to a host whose policy lists no secret", "other.test", "header"],
    ["API_KEY smuggled in the query to another host", "other.test", "query"],
    ["API_KEY in the path to another host", "other.test", "path"],
    ["API_KEY to a host listing a different secret", "body.test", "header"],
  ] as const)("refuses %s with secret_host_mismatch", async (_why, host, where) => {
    up.reset();
    const path = where === "path" ? `/p/${ph.api}` : where === "query" ? `/q?k=${ph.api}` : "/h";
    const headers = where === "header" ? { authorization: `Bearer ${ph.api}` } : {};
    const res = await proxyRequest(gw, u(host, path), { auth: auth1(), headers });
    expectWardenError(res, "secret_host_mismatch");
    expect(res.text).not.toContain(API_KEY);
    expect(up.received()).toBe(0);
  });

  it("audits the mismatch without the real value", async () => {
    const res = await gw.control("GET", "/v1/audit?after=0");
    expect(res.status).toBe(200);
    expect(res.text).toContain("secret_host_mismatch");
    expect(res.text).not.toContain(API_KEY);
  });

  it("never gives one agent's secret to another agent using a stolen placeholder", async () => {
    up.reset();
    const res = await proxyRequest(gw, u("api.test", "/h"), {
      auth: { agent: "inj2", token: a2.token },
      headers: { authorization: `Bearer ${ph.api}` },
    });
    expect(res.text).not.toContain(API_KEY);
    expect(seenAnywhere(API_KEY)).toBe(false);
  });

  it("refuses a host whose policy does not apply to the agent", async () => {
    up.reset();
    const res = await proxyRequest(gw, u("priv.test", "/h"), {
      auth: { agent: "inj2", token: a2.token },
      headers: { authorization: `Bearer ${ph.priv}` },
    });
    expect(res.status).toBe(403);
    expect(up.received()).toBe(0);
  });
});
