/**
 * warden.internal through the real gateway: each agent reaches only its own inbox and outbox,
 * identified by its proxy credentials (in containers: by its socket).
 */
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Gateway, startGateway } from "./index.js";

const MASTER = randomBytes(32).toString("hex");
let gw: Gateway;
let home: string;
const tokens: Record<string, string> = {};

function call(
  agent: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: any }> {
  const [host, port] = gw.proxyAddress.split(":");
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host,
        port: Number(port),
        method,
        path: `http://warden.internal${path}`,
        headers: {
          "proxy-authorization": `Basic ${Buffer.from(`${agent}:${tokens[agent]}`).toString("base64")}`,
          "content-type": "application/json",
        },
      },
      (res) => {
        let raw = "";
        res.on("data", (c) => (raw += c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, body: raw ? JSON.parse(raw) : undefined }),
        );
      },
    );
    req.on("error", reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), "wdn-mailbox-"));
  await mkdir(join(home, "policies"));
  await writeFile(join(home, "policies", "x.yaml"), "hosts: [x.test]\nrules: []\n");
  gw = await startGateway({
    home,
    policiesDir: join(home, "policies"),
    listen: { host: "127.0.0.1", port: 0 },
    control: { host: "127.0.0.1", port: 0 },
    masterKey: MASTER,
    log: () => undefined,
  });
  tokens.a1 = await gw.credentials.issueToken("a1");
  tokens.a2 = await gw.credentials.issueToken("a2");
});

afterAll(async () => {
  await gw.close();
  await rm(home, { recursive: true, force: true });
});

describe("warden.internal mailbox", () => {
  it("long-polls the inbox and delivers a message once, to its agent only", async () => {
    const polling = call("a1", "GET", "/v1/inbox?wait=5");
    await gw.mailbox.deliver("a1", "hello a1", "test:alice");
    const got = await polling;
    expect(got.body.messages.map((m: { text: string }) => m.text)).toEqual(["hello a1"]);
    expect((await call("a1", "GET", "/v1/inbox")).body.messages).toEqual([]);
    await gw.mailbox.deliver("a2", "for a2 only", null);
    expect((await call("a1", "GET", "/v1/inbox")).body.messages).toEqual([]);
    expect((await call("a2", "GET", "/v1/inbox")).body.messages[0].text).toBe("for a2 only");
  });

  it("records outbox replies and status under the calling agent's name", async () => {
    expect((await call("a2", "POST", "/v1/outbox", { text: "done!" })).status).toBe(204);
    expect((await call("a2", "POST", "/v1/status", { state: "done" })).status).toBe(204);
    expect((await gw.mailbox.outbox("a2")).map((m) => m.text)).toEqual(["done!"]);
    expect(await gw.mailbox.outbox("a1")).toEqual([]);
    expect(gw.mailbox.status("a2")?.state).toBe("done");
  });

  it("holds a question until a human answers it", async () => {
    const asking = call("a1", "POST", "/v1/ask", { id: "q1", question: "Which branch?" });
    await new Promise((r) => setTimeout(r, 50));
    expect(gw.mailbox.asks("a1").map((a) => a.question)).toEqual(["Which branch?"]);
    expect(gw.mailbox.answer("a2", "q1", "wrong agent")).toBe(false);
    expect(gw.mailbox.answer("a1", "q1", "main")).toBe(true);
    expect((await asking).body).toEqual({ answer: "main" });
  });

  it("refuses malformed and oversized agent input with 400", async () => {
    expect((await call("a1", "POST", "/v1/outbox", { text: "" })).status).toBe(400);
    expect((await call("a1", "POST", "/v1/outbox", { text: "x".repeat(70_000) })).status).toBe(400);
    expect((await call("a1", "POST", "/v1/status", { state: "hacked" })).status).toBe(400);
    expect((await call("a1", "GET", "/v1/nope")).status).toBe(404);
  });

  it("long-polls many times over one keep-alive connection without piling up listeners", async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.name);
    process.on("warning", onWarning);
    for (let i = 0; i < 15; i++) {
      const polling = call("a1", "GET", "/v1/inbox?wait=5");
      await new Promise((r) => setTimeout(r, 5));
      await gw.mailbox.deliver("a1", `m${i}`, null);
      expect((await polling).body.messages.map((m: { text: string }) => m.text)).toEqual([`m${i}`]);
    }
    await new Promise((r) => setImmediate(r));
    process.off("warning", onWarning);
    expect(warnings).not.toContain("MaxListenersExceededWarning");
  });

  it("needs proxy credentials like any other request", async () => {
    tokens.ghost = "wrong";
    expect((await call("ghost", "GET", "/v1/inbox")).status).toBe(407);
  });
});

describe("warden.internal mailbox across a restart", () => {
  it("keeps undelivered messages and past replies", async () => {
    await gw.mailbox.deliver("a1", "queued before restart", "test:alice");
    await call("a1", "POST", "/v1/outbox", { text: "reply before restart" });
    await gw.close();
    gw = await startGateway({
      home,
      policiesDir: join(home, "policies"),
      listen: { host: "127.0.0.1", port: 0 },
      control: { host: "127.0.0.1", port: 0 },
      masterKey: MASTER,
      log: () => undefined,
    });
    expect((await call("a1", "GET", "/v1/inbox")).body.messages.map((m: { text: string }) => m.text)).toEqual(
      ["queued before restart"],
    );
    expect((await gw.mailbox.outbox("a1")).map((m) => m.text)).toContain("reply before restart");
  });
});
