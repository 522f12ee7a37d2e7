/**
 * Streaming through the gateway: SSE arrives chunk by chunk (proved with a server-side gate, not
 * timings), redirects are passed back and never followed, and bodies of tens of MiB go through
 * intact in both directions.
 */
import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AgentCredentials, type GatewayProcess, startGateway } from "../fakes/gateway-process.js";
import { proxyRequest } from "../fakes/proxy-client.js";
import { createTestCa } from "../fakes/test-ca.js";
import { type RecordingUpstream, startUpstream } from "../fakes/upstreams.js";

let up: RecordingUpstream;
let tlsUp: RecordingUpstream;
let gw: GatewayProcess;
let agent: AgentCredentials;

const auth = () => ({ agent: "streamer", token: agent.token });

beforeAll(async () => {
  const ca = await createTestCa();
  up = await startUpstream();
  tlsUp = await startUpstream({ tls: await ca.issue(["stream-tls.test"]) });
  gw = await startGateway({
    policies: { stream: { hosts: ["stream.test", "stream-tls.test"], rules: [], default: "allow" } },
    upstreamCa: [ca.pemPath],
    resolve: { "stream.test": `127.0.0.1:${up.port}`, "stream-tls.test": `127.0.0.1:${tlsUp.port}` },
  });
  agent = await gw.createAgent("streamer");
});

afterAll(async () => {
  await gw?.cleanup();
  await up?.close();
  await tlsUp?.close();
});

const VIA = ["plain HTTP", "CONNECT + TLS"] as const;
type Via = (typeof VIA)[number];

function via(name: Via): { origin: string; upstream: RecordingUpstream } {
  return name === "plain HTTP"
    ? { origin: `http://stream.test:${up.port}`, upstream: up }
    : { origin: `https://stream-tls.test:${tlsUp.port}`, upstream: tlsUp };
}

describe("server-sent events", () => {
  it.each(VIA)("reach the agent before the upstream has finished (%s)", async (name) => {
    const { origin, upstream } = via(name);
    let text = "";
    let sawFirst!: () => void;
    const firstEvent = new Promise<void>((resolve) => {
      sawFirst = resolve;
    });
    const gate = upstream.nextGate();
    const response = proxyRequest(gw, `${origin}/sse`, {
      auth: auth(),
      headers: { accept: "text/event-stream" },
      onChunk: (chunk) => {
        text += chunk.toString("utf8");
        if (text.includes("data: one")) sawFirst();
      },
    });
    const release = await gate;
    const outcome = await Promise.race([
      firstEvent.then(() => "first event arrived"),
      response.then(() => "response ended first"),
      new Promise((resolve) => setTimeout(resolve, 10_000, "first event withheld (buffered?)")),
    ]);
    expect(outcome).toBe("first event arrived");
    expect(text).not.toContain("data: three");
    release();
    const res = await response;
    expect(res.status).toBe(200);
    expect(String(res.headers["content-type"])).toContain("text/event-stream");
    expect(text).toMatch(/data: one[\s\S]*data: two[\s\S]*data: three/);
  });
});

describe("redirects", () => {
  it.each(VIA)("are passed back to the agent, not followed (%s)", async (name) => {
    const { origin, upstream } = via(name);
    upstream.reset();
    const res = await proxyRequest(gw, `${origin}/redirect`, { auth: auth() });
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe("/target");
    expect(upstream.requests.map((r) => r.url)).toEqual(["/redirect"]);
  });
});

describe("large bodies", () => {
  it.each(VIA)("download of 32 MiB arrives byte for byte (%s)", async (name) => {
    const { origin, upstream } = via(name);
    upstream.reset();
    const hash = createHash("sha256");
    let bytes = 0;
    const res = await proxyRequest(gw, `${origin}/large?mb=32`, {
      auth: auth(),
      onChunk: (chunk) => {
        bytes += chunk.length;
        hash.update(chunk);
      },
    });
    expect(res.status).toBe(200);
    expect(bytes).toBe(32 << 20);
    expect(hash.digest("hex")).toBe(upstream.requests[0]?.responseSha256);
  });

  it.each(VIA)("upload of 24 MiB arrives byte for byte (%s)", async (name) => {
    const { origin, upstream } = via(name);
    upstream.reset();
    const body = randomBytes(24 << 20);
    const res = await proxyRequest(gw, `${origin}/upload`, {
      auth: auth(),
      method: "POST",
      body,
      headers: { "content-type": "application/octet-stream" },
    });
    expect(res.status).toBe(200);
    expect(res.json().bodyBytes).toBe(body.length);
    expect(res.json().bodySha256).toBe(createHash("sha256").update(body).digest("hex"));
  });
});
