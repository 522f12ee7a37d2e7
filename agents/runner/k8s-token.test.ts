import { mkdtemp, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadRunnerConfig } from "./config.js";
import type { Forwarder } from "./forwarder.js";
import { readGatewayToken, startTokenForwarder, withBearer } from "./k8s-token.js";

const JWT1 = "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOlsid2FyZGVuLWdhdGV3YXkiXX0.c2lnMQ";
const JWT2 = "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOlsid2FyZGVuLWdhdGV3YXkiXX0.c2lnMg";

let dir: string;
let gateway: net.Server;
let forwarder: Forwarder | undefined;
/** What the stub gateway received, per connection. */
let received: string[];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "warden-k8s-token-"));
  received = [];
  // A stub gateway: records each connection's bytes and answers one proxy response per connection.
  gateway = net.createServer((s) => {
    const i = received.push("") - 1;
    s.on("data", (d) => {
      received[i] += d.toString("latin1");
      if (received[i]?.includes("\r\n\r\n") && !s.writableEnded)
        s.end("HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
    });
  });
  await new Promise<void>((r) => gateway.listen(0, "127.0.0.1", () => r()));
});

afterEach(async () => {
  await forwarder?.close();
  forwarder = undefined;
  await new Promise<void>((r) => gateway.close(() => r()));
  await rm(dir, { recursive: true, force: true });
});

async function start(tokenFile = join(dir, "token")): Promise<number> {
  const port = (gateway.address() as net.AddressInfo).port;
  forwarder = await startTokenForwarder({
    listen: { host: "127.0.0.1", port: 0 },
    gateway: { host: "127.0.0.1", port },
    tokenFile,
  });
  return forwarder.address.port;
}

function get(port: number, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port, path: "http://up.test/x", headers, agent: false },
      (res) => {
        let body = "";
        res.on("data", (d) => (body += d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

describe("withBearer()", () => {
  it("puts the token right after the request line and drops any client-sent Proxy-Authorization", () => {
    const head =
      "CONNECT up.test:443 HTTP/1.1\r\nHost: up.test:443\r\nproxy-authorization: Basic eDp5\r\n\r\n";
    expect(withBearer(head, "t.k.n")).toBe(
      "CONNECT up.test:443 HTTP/1.1\r\nProxy-Authorization: Bearer t.k.n\r\nHost: up.test:443\r\n\r\n",
    );
  });
});

describe("readGatewayToken()", () => {
  it("refuses a file that does not hold a token (no header injection through it)", async () => {
    await writeFile(join(dir, "bad"), "abc\r\nX-Evil: 1");
    await expect(readGatewayToken(join(dir, "bad"))).rejects.toThrow(/no token/);
    await writeFile(join(dir, "good"), `${JWT1}\n`);
    await expect(readGatewayToken(join(dir, "good"))).resolves.toBe(JWT1);
  });
});

describe("startTokenForwarder()", () => {
  it("presents the Pod's token on each connection, re-reading the file as the kubelet rotates it", async () => {
    await writeFile(join(dir, "token"), JWT1);
    const port = await start();
    expect(await get(port, { "proxy-authorization": "Bearer forged" })).toEqual({ status: 200, body: "ok" });
    await writeFile(join(dir, "token"), JWT2);
    expect(await get(port)).toEqual({ status: 200, body: "ok" });
    expect(received).toHaveLength(2);
    expect(received[0]).toMatch(/^GET http:\/\/up\.test\/x HTTP\/1\.1\r\nProxy-Authorization: Bearer /);
    expect(received[0]?.match(/proxy-authorization/gi)).toHaveLength(1);
    expect(received[0]).toContain(`Bearer ${JWT1}\r\n`);
    expect(received[0]).not.toContain("forged");
    expect(received[1]).toContain(`Bearer ${JWT2}\r\n`);
  });

  it("passes a body that arrived with the head, byte for byte", async () => {
    await writeFile(join(dir, "token"), JWT1);
    const port = await start();
    const s = net.connect({ host: "127.0.0.1", port });
    s.end("POST http://up.test/ HTTP/1.1\r\nHost: up.test\r\nContent-Length: 5\r\n\r\nhello");
    s.resume();
    await new Promise((r) => s.on("close", r));
    expect(received[0]?.endsWith("\r\n\r\nhello")).toBe(true);
  });

  it("answers 503 and connects nowhere when the token file is missing", async () => {
    const port = await start(join(dir, "absent"));
    const r = await get(port);
    expect(r.status).toBe(503);
    expect(JSON.parse(r.body).error.code).toBe("gateway_token_unavailable");
    expect(received).toHaveLength(0);
  });
});

describe("loadRunnerConfig() for Kubernetes", () => {
  it("reads WARDEN_K8S_GATEWAY and the token path, and refuses a malformed address", () => {
    expect(loadRunnerConfig({ WARDEN_K8S_GATEWAY: "10.0.0.7:8080" }).k8s).toEqual({
      gateway: { host: "10.0.0.7", port: 8080 },
      tokenFile: "/var/run/secrets/warden/token",
    });
    expect(loadRunnerConfig({ WARDEN_K8S_GATEWAY: "[::1]:9", WARDEN_K8S_TOKEN_FILE: "/t" }).k8s).toEqual({
      gateway: { host: "::1", port: 9 },
      tokenFile: "/t",
    });
    expect(loadRunnerConfig({}).k8s).toBeUndefined();
    expect(() => loadRunnerConfig({ WARDEN_K8S_GATEWAY: "http://x:1" })).toThrow(/HOST:PORT/);
  });
});
