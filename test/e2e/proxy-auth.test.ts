/**
 * Proxy authentication on the TCP listener: `Proxy-Authorization: Basic agent:token`, 407 with
 * `Proxy-Authenticate: Basic realm="warden"` otherwise, and nothing sent upstream.
 */
import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AgentCredentials, type GatewayProcess, startGateway } from "../fakes/gateway-process.js";
import { basicAuth, openTunnel, proxyRequest } from "../fakes/proxy-client.js";
import { type RecordingUpstream, startUpstream } from "../fakes/upstreams.js";
import { expectWardenError } from "./expect-warden-error.js";

let up: RecordingUpstream;
let gw: GatewayProcess;
let a1: AgentCredentials;
let a2: AgentCredentials;
let url: string;

beforeAll(async () => {
  up = await startUpstream();
  gw = await startGateway({
    policies: { plain: { hosts: ["plain.test"], rules: [], default: "allow" } },
    resolve: { "plain.test": `127.0.0.1:${up.port}` },
  });
  a1 = await gw.createAgent("a1");
  a2 = await gw.createAgent("a2");
  url = `http://plain.test:${up.port}/hello`;
});

afterAll(async () => {
  await gw?.cleanup();
  await up?.close();
});

describe("proxy listener authentication", () => {
  const cases: Array<[string, (() => string) | null]> = [
    // why                                         Proxy-Authorization value
    ["no credentials at all", null],
    ["right agent, wrong token", () => basicAuth("a1", "not-the-token")],
    ["unknown agent", () => basicAuth("nobody", a1.token)],
    ["another agent's token", () => basicAuth("a1", a2.token)],
    ["empty token", () => basicAuth("a1", "")],
    ["Bearer scheme instead of Basic", () => `Bearer ${a1.token}`],
    ["base64 that is not agent:token", () => `Basic ${Buffer.from(a1.token).toString("base64")}`],
    ["not base64 at all", () => "Basic %%%not-base64%%%"],
    ["token with a trailing space", () => basicAuth("a1", `${a1.token} `)],
  ];
  it.each(cases)("answers 407 for %s and sends nothing upstream", async (_why, make) => {
    const auth = make ? make() : null;
    const before = up.received();
    const res = await proxyRequest(gw, url, { auth });
    expectWardenError(res, "proxy_auth_required");
    expect(res.headers["proxy-authenticate"]).toBe('Basic realm="warden"');
    expect(up.received()).toBe(before);
  });

  it("answers 407 to a CONNECT without credentials", async () => {
    const before = up.connections();
    const tunnel = await openTunnel(gw, `plain.test:${up.port}`, null);
    expect(tunnel.status).toBe(407);
    expect(tunnel.headers["proxy-authenticate"]).toBe('Basic realm="warden"');
    expect(tunnel.headers["x-warden-error"]).toBe("proxy_auth_required");
    expect(up.connections()).toBe(before);
  });

  it("answers 407 to a CONNECT with a wrong token", async () => {
    const tunnel = await openTunnel(gw, `plain.test:${up.port}`, basicAuth("a1", "wrong"));
    expect(tunnel.status).toBe(407);
    expect(tunnel.headers["proxy-authenticate"]).toBe('Basic realm="warden"');
  });

  it("forwards an authenticated request and strips Proxy-Authorization and hop-by-hop headers", async () => {
    up.reset();
    const res = await proxyRequest(gw, url, {
      auth: { agent: "a1", token: a1.token },
      headers: {
        connection: "keep-alive, x-hop",
        "x-hop": "1",
        "proxy-connection": "keep-alive",
        te: "trailers",
        "x-end-to-end": "kept",
      },
    });
    expect(res.status).toBe(200);
    expect(up.requests).toHaveLength(1);
    const seen = up.requests[0]?.headers ?? {};
    expect(seen["proxy-authorization"]).toBeUndefined();
    expect(seen["proxy-connection"]).toBeUndefined();
    expect(seen["x-hop"]).toBeUndefined();
    expect(seen["x-end-to-end"]).toBe("kept");
    expect(up.requests[0]?.url).toBe("/hello");
  });

  it("stops accepting an agent's token once the agent is deleted", async () => {
    const gone = await gw.createAgent("short-lived");
    expect((await proxyRequest(gw, url, { auth: { agent: "short-lived", token: gone.token } })).status).toBe(
      200,
    );
    const del = await gw.control("DELETE", "/v1/agents/short-lived");
    expect(del.status).toBeLessThan(300);
    const before = up.received();
    const res = await proxyRequest(gw, url, { auth: { agent: "short-lived", token: gone.token } });
    expectWardenError(res, "proxy_auth_required");
    expect(up.received()).toBe(before);
    expect((await gw.control("GET", "/v1/agents")).text).not.toContain("short-lived");
  });

  it("control API serves health and Prometheus metrics", async () => {
    expect((await gw.control("GET", "/v1/health")).status).toBe(200);
    const metrics = await gw.control("GET", "/metrics");
    expect(metrics.status).toBe(200);
    expect(metrics.text).toMatch(/^# (HELP|TYPE) /m);
  });

  it("control API refuses requests without the bearer token", async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        { host: gw.controlAddr.host, port: gw.controlAddr.port, path: "/v1/agents", agent: false },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on("error", reject);
      req.end();
    });
    expect([401, 403]).toContain(status);
  });

  it("gives each agent an env with proxy variables carrying its own credentials", () => {
    const proxyVar = a1.env.HTTPS_PROXY ?? a1.env.https_proxy;
    expect(proxyVar).toBe(gw.proxyUrl("a1", a1.token));
    expect(a1.env.HTTP_PROXY ?? a1.env.http_proxy).toBe(proxyVar);
    expect(a1.token).not.toBe(a2.token);
  });
});
