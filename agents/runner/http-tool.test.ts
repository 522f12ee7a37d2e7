import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import tls from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestCa, type TestCa } from "../../test/fakes/test-ca.js";
import { createHttpTool } from "./http-tool.js";
import { type ProxyEndpoint, parseProxyUrl } from "./proxy-request.js";

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  tls: boolean;
}

const seen: Seen[] = [];
let ca: TestCa;
let otherCa: TestCa;
let server: http.Server;
let proxy: ProxyEndpoint;

function refusal(res: http.ServerResponse, status: number, code: string, rule?: string) {
  res.writeHead(status, { "content-type": "application/json", "x-warden-error": code });
  res.end(JSON.stringify({ error: { code, message: `refused: ${code}`, policy: "demo", rule } }));
}

/** Answers like the gateway would: the target is the path of an absolute-form or tunnelled request. */
function route(req: http.IncomingMessage, res: http.ServerResponse, body: string, secure: boolean) {
  seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body, tls: secure });
  const path = secure ? (req.url ?? "") : new URL(req.url ?? "").pathname;
  if (path === "/denied") return refusal(res, 403, "policy_denied", "no-deletes");
  if (path === "/not-json") {
    res.writeHead(403, { "x-warden-error": "approval_denied" });
    return res.end("denied");
  }
  if (path === "/big") return res.end("x".repeat(300 * 1024));
  if (path === "/slow") return setTimeout(() => res.end("finally"), 150);
  res.writeHead(200, { "content-type": "text/plain", "set-cookie": ["a=1", "b=2"] });
  res.end(`ok ${req.method} ${path} ${body}`);
}

function collect(req: http.IncomingMessage, done: (body: string) => void) {
  const parts: Buffer[] = [];
  req.on("data", (c: Buffer) => parts.push(c));
  req.on("end", () => done(Buffer.concat(parts).toString()));
}

beforeAll(async () => {
  ca = await createTestCa("Fake Warden CA");
  otherCa = await createTestCa("Someone else");
  const leaf = await ca.issue(["secure.test"]);
  const inner = http.createServer((req, res) => collect(req, (b) => route(req, res, b, true)));
  server = http.createServer((req, res) => collect(req, (b) => route(req, res, b, false)));
  server.on("connect", (req: http.IncomingMessage, socket: Socket) => {
    seen.push({ method: "CONNECT", url: req.url ?? "", headers: req.headers, body: "", tls: false });
    if (req.url === "blocked.test:443") {
      const body = JSON.stringify({ error: { code: "host_not_allowed", message: "no policy" } });
      return socket.end(
        `HTTP/1.1 403 Forbidden\r\nx-warden-error: host_not_allowed\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
      );
    }
    socket.write("HTTP/1.1 200 Connection Established\r\n\r\n");
    inner.emit("connection", new tls.TLSSocket(socket, { isServer: true, cert: leaf.cert, key: leaf.key }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  proxy = parseProxyUrl(`http://agent:tok@127.0.0.1:${(server.address() as AddressInfo).port}`);
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

describe("createHttpTool()", () => {
  it("sends plain http in absolute-form through the proxy and returns text", async () => {
    const httpRequest = createHttpTool({ proxy, caPath: ca.pemPath });
    const res = await httpRequest({ method: "post", url: "http://api.test/things?x=1", body: "{}" });
    expect(res).toMatchObject({ status: 200, body: "ok POST /things {}", truncated: false });
    expect(res.headers["set-cookie"]).toBe("a=1, b=2");
    expect(res.wardenError).toBeUndefined();
    expect(seen.at(-1)).toMatchObject({ url: "http://api.test/things?x=1", method: "POST" });
    expect(seen.at(-1)?.headers["proxy-authorization"]).toMatch(/^Basic /);
  });

  it("tunnels https with CONNECT and trusts the given CA bundle", async () => {
    const httpRequest = createHttpTool({ proxy, caPath: ca.pemPath });
    const res = await httpRequest({
      method: "GET",
      url: "https://secure.test/hello",
      headers: { "x-a": "1" },
    });
    expect(res).toMatchObject({ status: 200, body: "ok GET /hello " });
    const connect = seen.find((s) => s.method === "CONNECT" && s.url === "secure.test:443");
    expect(connect?.headers["proxy-authorization"]).toMatch(/^Basic /);
    expect(seen.at(-1)).toMatchObject({ tls: true, url: "/hello" });
    expect(seen.at(-1)?.headers.host).toBe("secure.test");
    expect(seen.at(-1)?.headers["proxy-authorization"]).toBeUndefined();
  });

  it("refuses a tunnel whose certificate is not signed by the given CA", async () => {
    const httpRequest = createHttpTool({ proxy, caPath: otherCa.pemPath });
    await expect(httpRequest({ method: "GET", url: "https://secure.test/" })).rejects.toMatchObject({
      code: "proxy_unreachable",
    });
  });

  it("returns a refused CONNECT as a response with the parsed warden error", async () => {
    const res = await createHttpTool({ proxy, caPath: ca.pemPath })({
      method: "GET",
      url: "https://blocked.test/",
    });
    expect(res.status).toBe(403);
    expect(res.wardenError).toEqual({ code: "host_not_allowed", message: "no policy" });
  });

  it("parses x-warden-error bodies, and falls back to the header alone", async () => {
    const httpRequest = createHttpTool({ proxy, caPath: ca.pemPath });
    const denied = await httpRequest({ method: "DELETE", url: "http://demo.test/denied" });
    expect(denied.wardenError).toEqual({
      code: "policy_denied",
      message: "refused: policy_denied",
      policy: "demo",
      rule: "no-deletes",
    });
    const bare = await httpRequest({ method: "POST", url: "http://demo.test/not-json" });
    expect(bare.wardenError).toEqual({ code: "approval_denied" });
  });

  it("truncates bodies to 100 KB", async () => {
    const res = await createHttpTool({ proxy, caPath: ca.pemPath })({
      method: "GET",
      url: "http://api.test/big",
    });
    expect(res.truncated).toBe(true);
    expect(res.body.length).toBe(100 * 1024);
  });

  it("reports held requests: onHeld(true) after heldAfterMs, onHeld(false) when done", async () => {
    const calls: boolean[] = [];
    const httpRequest = createHttpTool({
      proxy,
      caPath: ca.pemPath,
      heldAfterMs: 30,
      onHeld: (h) => calls.push(h),
    });
    expect((await httpRequest({ method: "GET", url: "http://api.test/slow" })).body).toBe("finally");
    expect(calls).toEqual([true, false]);
    await httpRequest({ method: "GET", url: "http://api.test/fast" });
    expect(calls).toEqual([true, false]); // a quick request never says "waiting"
  });

  it("throws proxy_unreachable when nothing listens at the proxy address", async () => {
    const dead = parseProxyUrl("http://127.0.0.1:1");
    await expect(
      createHttpTool({ proxy: dead, caPath: ca.pemPath })({ method: "GET", url: "http://a.test/" }),
    ).rejects.toMatchObject({
      code: "proxy_unreachable",
    });
  });
});
