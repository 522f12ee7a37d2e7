/**
 * The `ws` client through the real gateway with `https-proxy-agent` (the proxy agent ws documents),
 * which opens a CONNECT tunnel for `wss://` (TLS inside, Warden CA) and for `ws://` (plain HTTP
 * upgrade inside the tunnel). Text, binary, fragmented messages and ping/pong, with
 * permessage-deflate offered. The handshake's placeholder must reach the upstream as the real key;
 * nothing the client receives (upgrade response, messages, pongs) may hold it, not even when a
 * hostile upstream sends the real key back split across fragments. The gateway declines
 * permessage-deflate (it must read every frame to scrub it): a client offering it still works.
 */
import { randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { HttpsProxyAgent } from "https-proxy-agent";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { type ClientWorld, startClientWorld, startProxySpy } from "./client-world.js";
import { type DeflateUpstream, startDeflateUpstream } from "./deflate-ws-upstream.js";

const KEY = "ws-REAL-key-6f3a1d8c0e9b7254";
const SCHEMES = ["ws", "wss"] as const;

let world: ClientWorld;
let spy: Awaited<ReturnType<typeof startProxySpy>>;
let deflate: DeflateUpstream;

beforeAll(async () => {
  world = await startClientWorld({
    policies: {
      live: { hosts: ["live.test", "deflate.test"], secrets: { LIVE_KEY: {} }, rules: [], default: "allow" },
    },
    secrets: { LIVE_KEY: KEY },
    hosts: ["live.test"],
    extraUpstreams: async (ca) => {
      deflate = await startDeflateUpstream(await ca.issue(["deflate.test"]));
      return { "deflate.test": `127.0.0.1:${deflate.port}` };
    },
  });
  // A relay in front of the gateway shows that ws:// goes through a CONNECT tunnel too.
  spy = await startProxySpy(world.gw.proxy);
});

afterAll(async () => {
  await spy?.close();
  await deflate?.close();
  await world?.close();
});

interface Opened {
  readonly ws: WebSocket;
  /** Everything received so far, for the leak search. */
  readonly received: Buffer[];
  next(): Promise<{ data: Buffer; isBinary: boolean }>;
}

async function open(url: string): Promise<Opened> {
  const ws = new WebSocket(url, {
    agent: new HttpsProxyAgent(world.proxyUrl.replace(`:${world.gw.proxy.port}`, `:${spy.port}`)),
    ca: world.gw.caPem,
    headers: { authorization: `Bearer ${world.placeholder("LIVE_KEY")}` },
    perMessageDeflate: true,
  });
  const received: Buffer[] = [];
  const queue: Array<{ data: Buffer; isBinary: boolean }> = [];
  const waiters: Array<(m: { data: Buffer; isBinary: boolean }) => void> = [];
  ws.on("upgrade", (res: IncomingMessage) => received.push(Buffer.from(JSON.stringify(res.headers))));
  ws.on("message", (data, isBinary) => {
    const message = { data: Buffer.from(data as Buffer), isBinary };
    received.push(message.data);
    const waiter = waiters.shift();
    if (waiter) waiter(message);
    else queue.push(message);
  });
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
    ws.once("unexpected-response", (_req, res) => reject(new Error(`upgrade answered ${res.statusCode}`)));
  });
  return {
    ws,
    received,
    next: () => {
      const ready = queue.shift();
      return ready ? Promise.resolve(ready) : new Promise((resolve) => waiters.push(resolve));
    },
  };
}

async function closeAndCheck(
  opened: Opened,
  handshakes = [...world.plain.handshakes, ...world.tls.handshakes].map((h) => h.headers),
): Promise<void> {
  opened.ws.close(1000, "done");
  await new Promise((resolve) => opened.ws.once("close", resolve));
  world.expectNoSecret(Buffer.concat(opened.received), "what the ws client received");
  expect(handshakes.at(-1)?.authorization).toBe(`Bearer ${KEY}`);
}

describe.each(SCHEMES)("ws client via https-proxy-agent, %s://", (scheme) => {
  it("text and binary messages echo intact (permessage-deflate offered)", async () => {
    world.reset();
    const c = await open(`${scheme}://live.test/socket`);
    c.ws.send("hello through warden ".repeat(50));
    expect(await c.next()).toEqual({
      data: Buffer.from("hello through warden ".repeat(50)),
      isBinary: false,
    });
    const binary = randomBytes(70_000);
    c.ws.send(binary);
    expect(await c.next()).toEqual({ data: binary, isBinary: true });
    await closeAndCheck(c);
    expect(spy.firstLines).toContain(`CONNECT live.test:${scheme === "ws" ? 80 : 443} HTTP/1.1`);
  });

  it("a message sent in three fragments comes back whole", async () => {
    world.reset();
    const c = await open(`${scheme}://live.test/socket`);
    c.ws.send("first-", { fin: false });
    c.ws.send("second-", { fin: false });
    c.ws.send("third", { fin: true });
    expect(await c.next()).toEqual({ data: Buffer.from("first-second-third"), isBinary: false });
    await closeAndCheck(c);
  });

  it("a ping is answered with a pong carrying the same data", async () => {
    world.reset();
    const c = await open(`${scheme}://live.test/socket`);
    const pong = new Promise<Buffer>((resolve) => c.ws.once("pong", resolve));
    c.ws.ping(Buffer.from("are-you-there"));
    const data = await pong;
    c.received.push(data);
    expect(data.toString()).toBe("are-you-there");
    await closeAndCheck(c);
  });
});

describe("wss:// to an upstream willing to compress (permessage-deflate)", () => {
  it("the client's deflate offer is declined end to end and messages echo intact", async () => {
    const c = await open("wss://deflate.test/live");
    expect(c.ws.extensions).toBe("");
    expect(deflate.negotiated.at(-1)).toBe("");
    c.ws.send("squeeze me ".repeat(200));
    expect(await c.next()).toEqual({ data: Buffer.from("squeeze me ".repeat(200)), isBinary: false });
    const binary = Buffer.alloc(50_000, 7);
    c.ws.send(binary);
    expect(await c.next()).toEqual({ data: binary, isBinary: true });
    await closeAndCheck(c, deflate.handshakes);
  });

  it("the real key sent back (text, binary, split across fragments) arrives as the placeholder", async () => {
    const c = await open("wss://deflate.test/live");
    c.ws.send("leak");
    const auth = `Bearer ${world.placeholder("LIVE_KEY")}`;
    expect((await c.next()).data.toString()).toBe(`you sent ${auth}`);
    expect(await c.next()).toEqual({ data: Buffer.from(`binary ${auth}`), isBinary: true });
    expect((await c.next()).data.toString()).toBe(`split ${auth} end`);
    await closeAndCheck(c, deflate.handshakes);
  });
});

it("the gateway's output and audit hold no real value; each upstream request has one audited allow", async () => {
  await world.expectGatewayKeptBooks(deflate.handshakes.length);
});
