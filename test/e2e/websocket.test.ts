/**
 * WebSocket upgrades through the gateway, plain (absolute-form GET + Upgrade) and through
 * CONNECT + TLS, under the same policy and placeholder injection as plain requests.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { WebSocket } from "ws";
import { type AgentCredentials, type GatewayProcess, startGateway } from "../fakes/gateway-process.js";
import { type ProxyAuth, proxyWebSocket, WebSocketRefused } from "../fakes/proxy-client.js";
import { createTestCa } from "../fakes/test-ca.js";
import { type RecordingUpstream, startUpstream } from "../fakes/upstreams.js";

const WS_KEY = "real-ws-key-9c2e7f4a1b6d";

let up: RecordingUpstream;
let tlsUp: RecordingUpstream;
let gw: GatewayProcess;
let agent: AgentCredentials;

const auth = (): ProxyAuth => ({ agent: "socketeer", token: agent.token });

beforeAll(async () => {
  const ca = await createTestCa();
  up = await startUpstream();
  tlsUp = await startUpstream({ tls: await ca.issue(["wss.test"]) });
  gw = await startGateway({
    policies: {
      sockets: {
        hosts: ["ws.test", "wss.test"],
        secrets: { WS_KEY: {} },
        rules: [{ name: "no-admin", paths: ["/admin/**"], action: "deny" }],
        default: "allow",
      },
    },
    upstreamCa: [ca.pemPath],
    resolve: { "ws.test": `127.0.0.1:${up.port}`, "wss.test": `127.0.0.1:${tlsUp.port}` },
  });
  await gw.setSecret("WS_KEY", WS_KEY);
  agent = await gw.createAgent("socketeer");
});

afterAll(async () => {
  await gw?.cleanup();
  await up?.close();
  await tlsUp?.close();
});

const VIA = ["ws", "wss"] as const;

function target(scheme: (typeof VIA)[number], path: string): { url: string; upstream: RecordingUpstream } {
  return scheme === "ws"
    ? { url: `ws://ws.test:${up.port}${path}`, upstream: up }
    : { url: `wss://wss.test:${tlsUp.port}${path}`, upstream: tlsUp };
}

function echo(ws: WebSocket, message: string): Promise<string> {
  return new Promise((resolve, reject) => {
    ws.once("message", (data) => resolve(String(data)));
    ws.once("error", reject);
    ws.send(message);
  });
}

function refusal(promise: Promise<WebSocket>): Promise<WebSocketRefused> {
  return promise.then(
    (ws) => {
      ws.terminate();
      throw new Error("upgrade was accepted");
    },
    (err: unknown) => {
      if (err instanceof WebSocketRefused) return err;
      throw err;
    },
  );
}

describe("WebSocket through the gateway", () => {
  it.each(VIA)("echoes messages both ways (%s)", async (scheme) => {
    const { url, upstream } = target(scheme, "/echo");
    upstream.reset();
    const ws = await proxyWebSocket(gw, url, auth());
    try {
      expect(await echo(ws, "hello")).toBe("hello");
      expect(await echo(ws, "x".repeat(100_000))).toHaveLength(100_000);
    } finally {
      ws.close();
    }
    expect(upstream.handshakes).toHaveLength(1);
    expect(upstream.handshakes[0]?.headers["proxy-authorization"]).toBeUndefined();
  });

  it.each(VIA)("injects the placeholder into handshake headers (%s)", async (scheme) => {
    const { url, upstream } = target(scheme, "/echo");
    upstream.reset();
    const ws = await proxyWebSocket(gw, url, auth(), { authorization: `Bearer ${agent.env.WS_KEY}` });
    ws.close();
    expect(upstream.handshakes[0]?.headers.authorization).toBe(`Bearer ${WS_KEY}`);
  });

  it.each(VIA)("refuses an upgrade a deny rule matches, with nothing upstream (%s)", async (scheme) => {
    const { url, upstream } = target(scheme, "/admin/stream");
    upstream.reset();
    const err = await refusal(proxyWebSocket(gw, url, auth()));
    expect(err.status).toBe(403);
    expect(err.headers["x-warden-error"]).toBe("policy_denied");
    expect(upstream.received()).toBe(0);
  });

  it("answers 407 to an upgrade without credentials", async () => {
    up.reset();
    const err = await refusal(proxyWebSocket(gw, `ws://ws.test:${up.port}/echo`, null));
    expect(err.status).toBe(407);
    expect(err.headers["proxy-authenticate"]).toBe('Basic realm="warden"');
    expect(up.received()).toBe(0);
  });
});
