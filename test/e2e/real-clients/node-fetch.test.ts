/**
 * Node's fetch (undici 6) through undici's ProxyAgent built from the agent's env, against the real
 * gateway: `http://` URLs (which ProxyAgent sends as plain HTTP inside a CONNECT tunnel) and
 * `https://` URLs (TLS inside the tunnel, intercepted with the Warden CA). A streamed request body
 * (ReadableStream, duplex "half") and an SSE response read event by event: the first event must
 * arrive while the upstream still holds back the rest. The upstream gets the real key, the client
 * never sees it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ClientWorld, startClientWorld, startProxySpy } from "./client-world.js";
import { agentProxy, type Dispatcher, fetch } from "./undici-proxy.js";

const KEY = "node-REAL-key-2b7d90e4a1c6f853";
const SCHEMES = ["http", "https"] as const;

let world: ClientWorld;
let dispatcher: Dispatcher;
let spy: Awaited<ReturnType<typeof startProxySpy>>;

beforeAll(async () => {
  world = await startClientWorld({
    policies: { nodeapi: { hosts: ["node.test"], secrets: { NODE_KEY: {} }, rules: [], default: "allow" } },
    secrets: { NODE_KEY: KEY },
    hosts: ["node.test"],
  });
  // The agent's own proxy URL, pointed through a relay that shows how undici talks to the gateway.
  spy = await startProxySpy(world.gw.proxy);
  const viaSpy = (url = "") => url.replace(`:${world.gw.proxy.port}`, `:${spy.port}`);
  dispatcher = agentProxy({ HTTPS_PROXY: viaSpy(world.agent.env.HTTPS_PROXY) }, world.gw.caPem);
});

afterAll(async () => {
  await dispatcher?.close();
  await spy?.close();
  await world?.close();
});

const auth = () => ({ authorization: `Bearer ${world.placeholder("NODE_KEY")}` });

describe.each(SCHEMES)("fetch via ProxyAgent, %s://", (scheme) => {
  const url = (path: string) => `${scheme}://node.test${path}`;
  const upstream = () => (scheme === "http" ? world.plain : world.tls);

  it("GET: the upstream gets the real key, the echo comes back with the placeholder", async () => {
    world.reset();
    const res = await fetch(url("/get"), { headers: auth(), dispatcher });
    const text = await res.text();
    world.expectNoSecret(`${JSON.stringify([...res.headers])}${text}`, "the response");
    expect(res.status, text).toBe(200);
    expect(JSON.parse(text).headers.authorization).toBe(`Bearer ${world.placeholder("NODE_KEY")}`);
    const [seen] = await world.requests();
    expect(seen?.headers.authorization).toBe(`Bearer ${KEY}`);
    // ProxyAgent tunnels http:// too: plain HTTP inside CONNECT must be served, not dropped.
    expect(spy.firstLines).toContain(`CONNECT node.test:${scheme === "http" ? 80 : 443} HTTP/1.1`);
  });

  it("POST with a streamed ReadableStream body arrives whole", async () => {
    world.reset();
    const parts = Array.from({ length: 8 }, (_, i) => `part ${i} ${"x".repeat(4096)}\n`);
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const next = parts.shift();
        if (next === undefined) controller.close();
        else controller.enqueue(new TextEncoder().encode(next));
        await new Promise((resolve) => setImmediate(resolve));
      },
    });
    const expected = Array.from({ length: 8 }, (_, i) => `part ${i} ${"x".repeat(4096)}\n`).join("");
    const res = await fetch(url("/upload"), {
      method: "POST",
      headers: { ...auth(), "content-type": "text/plain" },
      body,
      duplex: "half",
      dispatcher,
    });
    const text = await res.text();
    world.expectNoSecret(`${JSON.stringify([...res.headers])}${text}`, "the response");
    expect(res.status, text).toBe(200);
    const [seen] = await world.requests();
    expect(seen?.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(seen?.body.toString()).toBe(expected);
  });

  it("SSE: the first event is read before the upstream sends the second", async () => {
    world.reset();
    const gate = upstream().nextGate();
    const res = await fetch(url("/sse"), { headers: { ...auth(), accept: "text/event-stream" }, dispatcher });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = "";
    while (!text.includes("data: one\n\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`stream ended early: ${text}`);
      text += decoder.decode(value, { stream: true });
    }
    // Only now may the upstream go on: the first event cannot have been buffered behind the rest.
    expect(text).not.toContain("data: two");
    (await gate)();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    world.expectNoSecret(text, "the event stream");
    expect(text).toBe("id: 1\ndata: one\n\nid: 2\ndata: two\n\nid: 3\ndata: three\n\n");
    const [seen] = await world.requests();
    expect(seen?.headers.authorization).toBe(`Bearer ${KEY}`);
  });
});

it("the gateway's output and audit hold no real value; each upstream request has one audited allow", async () => {
  await world.expectGatewayKeptBooks();
});
