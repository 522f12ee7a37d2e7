import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { createMailboxClient } from "./mailbox-client.js";
import { parseProxyUrl } from "./proxy-request.js";

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}
type Answer = { status: number; json?: unknown; headers?: Record<string, string> };

/** A fake proxy that serves `warden.internal` itself, like the gateway does, from a script of answers. */
async function fakeGateway(answer: (req: Seen, n: number) => Answer, port = 0) {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const s = {
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      };
      seen.push(s);
      const a = answer(s, seen.length);
      res.writeHead(a.status, {
        ...(a.json === undefined ? {} : { "content-type": "application/json" }),
        ...a.headers,
      });
      res.end(a.json === undefined ? undefined : JSON.stringify(a.json));
    });
  });
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", () => r()));
  servers.push(server);
  return { seen, port: (server.address() as AddressInfo).port };
}

const servers: http.Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

const noSleep = async () => {};
const MSG = { id: "m1", text: "check my inbox", from: "web:alice", at: "2025-01-01T00:00:00Z" };

describe("createMailboxClient()", () => {
  it("long-polls the inbox with an absolute-form request and Proxy-Authorization from userinfo", async () => {
    const gw = await fakeGateway(() => ({ status: 200, json: { messages: [MSG, { junk: true }] } }));
    const proxy = parseProxyUrl(`http://agent-1:s3cret@127.0.0.1:${gw.port}`);
    const messages = await createMailboxClient({ proxy }).inbox(5);
    expect(messages).toEqual([MSG]);
    expect(gw.seen[0]).toMatchObject({ method: "GET", url: "http://warden.internal/v1/inbox?wait=5" });
    expect(gw.seen[0]?.headers.host).toBe("warden.internal");
    expect(gw.seen[0]?.headers["proxy-authorization"]).toBe(
      `Basic ${Buffer.from("agent-1:s3cret").toString("base64")}`,
    );
  });

  it("sends no Proxy-Authorization when the proxy URL has no userinfo (inside containers)", async () => {
    const gw = await fakeGateway(() => ({ status: 200, json: { messages: [] } }));
    const client = createMailboxClient({ proxy: parseProxyUrl(`http://127.0.0.1:${gw.port}`) });
    expect(await client.inbox(99)).toEqual([]);
    expect(gw.seen[0]?.url).toBe("http://warden.internal/v1/inbox?wait=30"); // capped at 30
    expect(gw.seen[0]?.headers["proxy-authorization"]).toBeUndefined();
  });

  it("posts replies, status and cuts text to 64 KB", async () => {
    const gw = await fakeGateway(() => ({ status: 204 }));
    const client = createMailboxClient({ proxy: parseProxyUrl(`http://127.0.0.1:${gw.port}`) });
    await client.reply("hello", "m1");
    await client.status("waiting_approval", "POST http://demo.warden.local/send");
    await client.reply("é".repeat(40_000));
    expect(gw.seen[0]).toMatchObject({ method: "POST", url: "http://warden.internal/v1/outbox" });
    expect(JSON.parse(gw.seen[0]?.body ?? "")).toEqual({ text: "hello", replyTo: "m1" });
    expect(JSON.parse(gw.seen[1]?.body ?? "")).toEqual({
      state: "waiting_approval",
      detail: "POST http://demo.warden.local/send",
    });
    expect(gw.seen[1]?.url).toBe("http://warden.internal/v1/status");
    const long = JSON.parse(gw.seen[2]?.body ?? "").text as string;
    expect(Buffer.byteLength(long)).toBeLessThanOrEqual(64 * 1024);
    expect(long.endsWith("[truncated]")).toBe(true);
  });

  it("ask() repeats the same id while the answer is pending", async () => {
    const gw = await fakeGateway((_req, n) =>
      n < 3 ? { status: 202, json: { pending: true } } : { status: 200, json: { answer: "blue" } },
    );
    const client = createMailboxClient({
      proxy: parseProxyUrl(`http://127.0.0.1:${gw.port}`),
      newId: () => "q-1",
    });
    expect(await client.ask("Which colour?")).toBe("blue");
    expect(gw.seen.map((s) => JSON.parse(s.body))).toEqual(
      Array(3).fill({ id: "q-1", question: "Which colour?" }),
    );
    expect(gw.seen.every((s) => s.url === "http://warden.internal/v1/ask")).toBe(true);
  });

  it("retries with backoff while the gateway answers 503 (restarting)", async () => {
    const gw = await fakeGateway((_r, n) =>
      n < 3 ? { status: 503, headers: { "x-warden-error": "gateway_shutting_down" } } : { status: 204 },
    );
    const delays: number[] = [];
    const client = createMailboxClient({
      proxy: parseProxyUrl(`http://127.0.0.1:${gw.port}`),
      sleep: async (ms) => void delays.push(ms),
    });
    await client.status("idle");
    expect(gw.seen).toHaveLength(3);
    expect(delays).toEqual([250, 500]);
  });

  it("retries connection failures until the gateway is back", async () => {
    const probe = await fakeGateway(() => ({ status: 204 }));
    const port = probe.port;
    await new Promise((r) => servers.pop()?.close(r)); // now nothing listens there
    let back: Promise<unknown> | undefined;
    const client = createMailboxClient({
      proxy: parseProxyUrl(`http://127.0.0.1:${port}`),
      sleep: async () => {
        back ??= fakeGateway(() => ({ status: 204 }), port);
        await back;
      },
    });
    await expect(client.reply("after restart")).resolves.toBeUndefined();
  });

  it("gives up after maxAttempts with proxy_unreachable", async () => {
    const gw = await fakeGateway(() => ({ status: 502 }));
    const client = createMailboxClient({
      proxy: parseProxyUrl(`http://127.0.0.1:${gw.port}`),
      sleep: noSleep,
      maxAttempts: 2,
    });
    await expect(client.status("idle")).rejects.toMatchObject({ code: "proxy_unreachable" });
    expect(gw.seen).toHaveLength(2);
  });

  it("does not retry a 4xx: it is a protocol error (mailbox_rejected)", async () => {
    const gw = await fakeGateway(() => ({ status: 400, headers: { "x-warden-error": "bad_request" } }));
    const client = createMailboxClient({
      proxy: parseProxyUrl(`http://127.0.0.1:${gw.port}`),
      sleep: noSleep,
    });
    await expect(client.reply("x")).rejects.toMatchObject({ code: "mailbox_rejected" });
    expect(gw.seen).toHaveLength(1);
  });

  it("inbox() stops at once when its signal aborts", async () => {
    const server = http.createServer(() => {}); // never answers: a long-poll in progress
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    servers.push(server);
    const client = createMailboxClient({
      proxy: parseProxyUrl(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    });
    const stop = new AbortController();
    const polling = client.inbox(25, stop.signal);
    setTimeout(() => stop.abort(new Error("stopping")), 50);
    await expect(polling).rejects.toThrow("stopping");
    server.closeAllConnections();
  });
});
