/**
 * Attack class 8 (HTTP side): an upstream echoes real secret values back, in every form the gateway
 * produced or an echo plausibly returns, and the agent must never see one (DESIGN §3.1 "Scrubbing").
 * Black-box against the real `warden gateway`, absolute-form and inside CONNECT + TLS. The upstream
 * echoes API_KEY (its own policy's secret) and OTHER_KEY (a secret of another policy the agent may
 * use) in headers, header names, the reason phrase, JSON, gzip, and SSE split at every byte offset.
 */
import type { ServerResponse } from "node:http";
import { connect } from "node:net";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AgentCredentials, type GatewayProcess, startGateway } from "../../fakes/gateway-process.js";
import { basicAuth, type ProxiedResponse, proxyRequest, tunnelTls } from "../../fakes/proxy-client.js";
import { createTestCa } from "../../fakes/test-ca.js";
import { type RecordingUpstream, startUpstream } from "../../fakes/upstreams.js";

const API_KEY = "sk_live_API+key/é=9f8e7d6c5b4a";
const OTHER_KEY = "ghp_OTHERsecret0123456789abcdef";
const VALUES = { API_KEY, OTHER_KEY };

let up: RecordingUpstream;
let tlsUp: RecordingUpstream;
let gw: GatewayProcess;
let agent: AgentCredentials;

const b64 = (s: string): string => Buffer.from(s).toString("base64");
const jsonAll = (s: string): string =>
  s
    .split("")
    .map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)
    .join("");

/** Every form of `value` an echo could carry. */
function forms(value: string): Record<string, string> {
  return {
    literal: value,
    uri: encodeURIComponent(value),
    form: new URLSearchParams({ v: value }).toString().slice(2),
    full: [...Buffer.from(value)].map((b) => `%${b.toString(16).padStart(2, "0")}`).join(""),
    json: JSON.stringify(value).slice(1, -1),
    jsonAll: jsonAll(value),
    basic: b64(`user:${value}`),
    basic1: b64(`x-access-token:${value}`),
    b64: b64(value),
    b64url: Buffer.from(`ab${value}`).toString("base64url"),
  };
}

/** The base64 characters that carry only the value, at each alignment and in both alphabets. */
function base64Cores(value: string): string[] {
  const bytes = Buffer.from(value);
  return [0, 1, 2].flatMap((k) => {
    const enc = Buffer.concat([Buffer.alloc(k), bytes]).toString("base64");
    const core = enc.slice(k === 0 ? 0 : k + 1, Math.floor(((k + bytes.length) * 8) / 6));
    return [core, core.replace(/\+/g, "-").replace(/\//g, "_")];
  });
}

/** Names of the forms of any secret found in what the agent saw. */
function leaks(seen: string): string[] {
  const found: string[] = [];
  for (const [name, value] of Object.entries(VALUES)) {
    for (const [form, text] of Object.entries(forms(value))) {
      if (!form.startsWith("b") && seen.includes(text)) found.push(`${name}:${form}`);
    }
    for (const core of base64Cores(value)) if (seen.includes(core)) found.push(`${name}:base64 ${core}`);
  }
  return found;
}

const seenOf = (res: ProxiedResponse): string =>
  JSON.stringify([res.status, res.headers, res.body.toString("latin1"), res.text]);

/** JSON text carrying each form once, as written (the \\u form is not escaped a second time). */
function echoAll(res: ServerResponse, encode?: "gzip"): void {
  const group = (value: string): string =>
    `{${Object.entries(forms(value))
      .map(([form, text]) => `"${form}":"${form === "jsonAll" ? text : JSON.stringify(text).slice(1, -1)}"`)
      .join(",")}}`;
  const body = Buffer.from(`{"api":${group(API_KEY)},"other":${group(OTHER_KEY)}}`);
  res.writeHead(200, {
    "content-type": "application/json",
    ...(encode ? { "content-encoding": "gzip" } : {}),
  });
  res.end(encode ? gzipSync(body) : body);
}

function routes(u: RecordingUpstream): void {
  u.route("/headers", (_req, res) => {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(VALUES)) {
      for (const [form, text] of Object.entries(forms(value))) {
        headers[`x-${name}-${form}`.toLowerCase()] = Buffer.from(text).toString("latin1");
      }
    }
    headers[`x-${OTHER_KEY}`] = "name";
    // A JS string header: Node writes it latin1, the form the gateway itself sends a header in.
    headers["www-authenticate"] = `Basic realm="${API_KEY}"`;
    res.writeHead(200, headers).end("ok");
  });
  u.route("/reason", (_req, res) => {
    res
      .writeHead(401, `Bad ${OTHER_KEY} ${b64(`user:${OTHER_KEY}`)}`, { "content-type": "text/plain" })
      .end();
  });
  u.route("/json", (_req, res) => echoAll(res));
  u.route("/gzip", (_req, res) => echoAll(res, "gzip"));
  u.route("/gzip-twice", (_req, res) => {
    const body = gzipSync(gzipSync(`{"token":"${OTHER_KEY}"}`));
    res.writeHead(200, { "content-type": "application/json", "content-encoding": "gzip, GZIP" }).end(body);
  });
  u.route("/zstd", (_req, res) => {
    // Not really zstd: gzip under a coding the gateway cannot undo.
    const body = gzipSync(`{"token":"${OTHER_KEY}"}`);
    res.writeHead(200, { "content-type": "application/json", "content-encoding": "zstd" }).end(body);
  });
  u.route("/sse-split", (req, res) => {
    const at = Number(new URL(req.url ?? "/", "http://x").searchParams.get("at"));
    const event = `data: {"token":"${OTHER_KEY}","basic":"${b64(`u:${API_KEY}`)}"}\n\n`;
    const cut = event.indexOf(OTHER_KEY) + at;
    res.writeHead(200, { "content-type": "text/event-stream" });
    res.socket?.setNoDelay(true);
    res.write(event.slice(0, cut));
    setTimeout(() => res.end(`${event.slice(cut)}data: end\n\n`), 3);
  });
}

beforeAll(async () => {
  const ca = await createTestCa();
  up = await startUpstream();
  tlsUp = await startUpstream({ tls: await ca.issue(["echo-tls.test"]) });
  routes(up);
  routes(tlsUp);
  gw = await startGateway({
    policies: {
      api: { hosts: ["echo.test", "echo-tls.test"], secrets: { API_KEY: {} }, rules: [], default: "allow" },
      other: { hosts: ["other.test"], secrets: { OTHER_KEY: {} }, rules: [], default: "allow" },
    },
    upstreamCa: [ca.pemPath],
    resolve: {
      "echo.test": `127.0.0.1:${up.port}`,
      "echo-tls.test": `127.0.0.1:${tlsUp.port}`,
      "other.test": `127.0.0.1:${up.port}`,
    },
  });
  for (const [name, value] of Object.entries(VALUES)) await gw.setSecret(name, value);
  agent = await gw.createAgent("scrubbed");
});

afterAll(async () => {
  await gw?.cleanup();
  await up?.close();
  await tlsUp?.close();
});

const VIA = ["plain HTTP", "CONNECT + TLS"] as const;
const origin = (via: (typeof VIA)[number]): string =>
  via === "plain HTTP" ? `http://echo.test:${up.port}` : `https://echo-tls.test:${tlsUp.port}`;
/** The response head exactly as the agent's socket receives it (clients hide the reason phrase). */
async function rawHead(via: (typeof VIA)[number], path: string): Promise<string> {
  const auth = basicAuth("scrubbed", agent.token);
  const socket =
    via === "plain HTTP"
      ? connect(gw.proxy.port, gw.proxy.host)
      : await tunnelTls(gw, "echo-tls.test", tlsUp.port, { agent: "scrubbed", token: agent.token });
  const request =
    via === "plain HTTP"
      ? `GET ${origin(via)}${path} HTTP/1.1\r\nHost: echo.test:${up.port}\r\nProxy-Authorization: ${auth}\r\n\r\n`
      : `GET ${path} HTTP/1.1\r\nHost: echo-tls.test:${tlsUp.port}\r\n\r\n`;
  socket.write(request);
  let text = "";
  for await (const chunk of socket) {
    text += (chunk as Buffer).toString("latin1");
    if (text.includes("\r\n\r\n")) break;
  }
  socket.destroy();
  return text.slice(0, text.indexOf("\r\n\r\n"));
}

const get = (url: string): Promise<ProxiedResponse> =>
  proxyRequest(gw, url, { auth: { agent: "scrubbed", token: agent.token } });

describe("an upstream echoing real values", () => {
  it.each(VIA)("in every header value form and a header name: none reaches the agent (%s)", async (via) => {
    const res = await get(`${origin(via)}/headers`);
    expect(res.status).toBe(200);
    expect(leaks(seenOf(res))).toEqual([]);
    const h = res.headers;
    expect(h["x-api_key-literal"]).toBe(agent.env.API_KEY);
    expect(h["x-other_key-literal"]).toBe(agent.env.OTHER_KEY);
    expect(h["x-other_key-basic"]).toBe(b64(`user:${agent.env.OTHER_KEY}`));
    expect(h["x-api_key-basic1"]).toBe(b64(`x-access-token:${agent.env.API_KEY}`));
    expect(h["x-api_key-jsonall"]).toBe(agent.env.API_KEY);
    expect(h["www-authenticate"]).toBe(`Basic realm="${agent.env.API_KEY}"`);
  });

  it.each(VIA)("in the reason phrase (%s)", async (via) => {
    const head = await rawHead(via, "/reason");
    expect(head).toMatch(/^HTTP\/1\.1 401 /);
    expect(leaks(head)).toEqual([]);
    expect(head.split("\r\n")[0]).toBe(
      `HTTP/1.1 401 Bad ${agent.env.OTHER_KEY} ${b64(`user:${agent.env.OTHER_KEY}`)}`,
    );
  });

  it.each(VIA)("in a JSON body, literally, escaped, percent- and base64-encoded (%s)", async (via) => {
    const res = await get(`${origin(via)}/json`);
    expect(leaks(seenOf(res))).toEqual([]);
    const body = res.json();
    expect(body.api.literal).toBe(agent.env.API_KEY);
    expect(body.api.jsonAll).toBe(agent.env.API_KEY);
    expect(decodeURIComponent(body.api.uri)).toBe(agent.env.API_KEY);
    expect(Buffer.from(body.other.basic, "base64").toString()).toBe(`user:${agent.env.OTHER_KEY}`);
  });

  it.each(VIA)("in a gzip body: decoded first, then scrubbed (%s)", async (via) => {
    const res = await get(`${origin(via)}/gzip`);
    expect(res.headers["content-encoding"]).toBeUndefined();
    expect(leaks(seenOf(res))).toEqual([]);
    expect(res.json().other.literal).toBe(agent.env.OTHER_KEY);
  });

  it.each(VIA)("in a body gzipped twice: both codings undone, then scrubbed (%s)", async (via) => {
    const res = await get(`${origin(via)}/gzip-twice`);
    expect(res.headers["content-encoding"]).toBeUndefined();
    expect(res.json()).toEqual({ token: agent.env.OTHER_KEY });
  });

  it.each(VIA)("under a coding the gateway cannot undo: the body never arrives (%s)", async (via) => {
    const res = await get(`${origin(via)}/zstd`).catch((err: Error) => err);
    const body = res instanceof Error ? Buffer.alloc(0) : res.body;
    expect(body.length).toBe(0);
  });

  it.each(VIA)("in an SSE event split at every byte offset of the value (%s)", async (via) => {
    for (let at = 0; at <= OTHER_KEY.length; at++) {
      const res = await get(`${origin(via)}/sse-split?at=${at}`);
      expect(leaks(seenOf(res)), `split at ${at}`).toEqual([]);
      expect(res.text).toBe(
        `data: {"token":"${agent.env.OTHER_KEY}","basic":"${b64(`u:${agent.env.API_KEY}`)}"}\n\ndata: end\n\n`,
      );
    }
  });
});

describe("streams still flow", () => {
  it.each(VIA)("an SSE event holding a value reaches the agent before the next is sent (%s)", async (via) => {
    const u = via === "plain HTTP" ? up : tlsUp;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    u.route("/sse-gated", (_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(`data: ${OTHER_KEY}\n\n`);
      void gate.then(() => res.end("data: two\n\n"));
    });
    let text = "";
    let first!: () => void;
    const arrived = new Promise<void>((resolve) => {
      first = resolve;
    });
    const done = proxyRequest(gw, `${origin(via)}/sse-gated`, {
      auth: { agent: "scrubbed", token: agent.token },
      onChunk: (chunk) => {
        text += chunk.toString("latin1");
        if (text.includes("\n\n")) first();
      },
    });
    await arrived; // would hang (test timeout) if the gateway held the event back
    expect(text).toBe(`data: ${agent.env.OTHER_KEY}\n\n`);
    release();
    await done;
    expect(text).toBe(`data: ${agent.env.OTHER_KEY}\n\ndata: two\n\n`);
  });
});
