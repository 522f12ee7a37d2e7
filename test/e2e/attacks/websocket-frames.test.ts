/**
 * Attack class 8 (WebSocket side): after the 101, every frame is parsed both ways and upstream
 * messages are scrubbed before the agent sees them (DESIGN §3.1 "Scrubbing", "Upgrades").
 * Black-box against the real `warden gateway`, `ws://` absolute-form and `wss://` inside CONNECT +
 * TLS. A raw upstream writes exact bytes: secrets in text, binary and fragmented messages, a ping
 * and a close reason, all in the same packet as its 101; masked frames; a 101 naming an extension
 * or a subprotocol nobody offered; a frame announcing 17 MiB. A raw agent sends an unmasked frame.
 */
import { createHash } from "node:crypto";
import { connect, createServer, type Server, type Socket } from "node:net";
import { createServer as createTlsServer } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { type AgentCredentials, type GatewayProcess, startGateway } from "../../fakes/gateway-process.js";
import { basicAuth, proxyWebSocket, tunnelTls, WebSocketRefused } from "../../fakes/proxy-client.js";
import { createTestCa } from "../../fakes/test-ca.js";
import { type RecordingUpstream, startUpstream } from "../../fakes/upstreams.js";

const API_KEY = "sk_live_WSapiKEY_4b3a2918f7e6";
const OTHER_KEY = "ghp_WSotherSECRET_0a1b2c3d4e5f";

let raw: Server;
let rawTls: Server;
let echoUp: RecordingUpstream;
let gw: GatewayProcess;
let agent: AgentCredentials;
/** Resolves when the raw upstream's socket for a path closes. */
const upstreamClosed = new Map<string, Promise<void>>();

/** One WebSocket frame, exactly as given (unmasked unless `mask`). */
function frame(opcode: number, payload: Buffer | string, o: { fin?: boolean; mask?: boolean } = {}): Buffer {
  const data = Buffer.from(payload);
  const len = data.length;
  const head = len < 126 ? Buffer.alloc(2) : len < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
  head[0] = (o.fin === false ? 0 : 0x80) | opcode;
  if (len < 126) head[1] = len;
  else if (len < 65536) {
    head[1] = 126;
    head.writeUInt16BE(len, 2);
  } else {
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(len), 2);
  }
  if (!o.mask) return Buffer.concat([head, data]);
  head[1] = (head[1] as number) | 0x80;
  const key = Buffer.from([1, 2, 3, 4]);
  return Buffer.concat([head, key, data.map((b, i) => b ^ (key[i % 4] as number))]);
}

const closePayload = (code: number, reason: string): Buffer =>
  Buffer.concat([Buffer.from([code >> 8, code & 0xff]), Buffer.from(reason)]);

/** What the raw upstream sends right after its 101 (in the same write), by path. */
const BEHAVIOUR: Record<string, { headers?: string[]; after: () => Buffer }> = {
  "/burst": {
    after: () =>
      Buffer.concat([
        frame(1, `text ${OTHER_KEY}`),
        frame(2, Buffer.from(`bin\u0000${API_KEY}\u00ff`, "latin1")),
        frame(1, `frag ${OTHER_KEY.slice(0, 7)}`, { fin: false }),
        frame(9, ""),
        frame(0, OTHER_KEY.slice(7, 20), { fin: false }),
        frame(0, `${OTHER_KEY.slice(20)} ${Buffer.from(`u:${API_KEY}`).toString("base64")}`),
        frame(9, `ping ${API_KEY}`),
        frame(8, closePayload(4000, `bye ${OTHER_KEY}`)),
      ]),
  },
  "/masked": { after: () => frame(1, "masked by a server", { mask: true }) },
  "/huge": {
    after: () =>
      Buffer.concat([frame(2, Buffer.alloc(0)), Buffer.from([0x82, 127, 0, 0, 0, 0, 1, 16, 0, 0])]),
  },
  "/hold": { after: () => Buffer.alloc(0) },
  "/ext": { headers: ["Sec-WebSocket-Extensions: permessage-deflate"], after: () => frame(1, "compressed?") },
  "/proto": { headers: ["Sec-WebSocket-Protocol: evil"], after: () => Buffer.alloc(0) },
};

/** A WebSocket upstream that answers the handshake and then writes exact bytes. */
function onConnection(socket: Socket): void {
  let head = "";
  socket.on("error", () => undefined);
  const onData = (chunk: Buffer): void => {
    head += chunk.toString("latin1");
    if (!head.includes("\r\n\r\n")) return;
    socket.off("data", onData);
    const path = /^GET (\S+)/.exec(head)?.[1] ?? "/";
    const key = /sec-websocket-key:\s*(\S+)/i.exec(head)?.[1] ?? "";
    const accept = createHash("sha1").update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest("base64");
    const b = BEHAVIOUR[path] ?? { after: () => Buffer.alloc(0) };
    upstreamClosed.set(path, new Promise((resolve) => socket.on("close", () => resolve())));
    const lines = ["HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade"];
    lines.push(`Sec-WebSocket-Accept: ${accept}`, ...(b.headers ?? []));
    socket.write(Buffer.concat([Buffer.from(`${lines.join("\r\n")}\r\n\r\n`), b.after()]));
    socket.resume();
  };
  socket.on("data", onData);
}

beforeAll(async () => {
  const ca = await createTestCa();
  const leaf = await ca.issue(["wsr-tls.test"]);
  raw = createServer(onConnection);
  rawTls = createTlsServer({ cert: leaf.cert, key: leaf.key }, onConnection);
  await Promise.all([raw, rawTls].map((s) => new Promise<void>((r) => s.listen(0, "127.0.0.1", r))));
  echoUp = await startUpstream();
  const port = (s: Server): number => (s.address() as { port: number }).port;
  gw = await startGateway({
    policies: {
      sockets: {
        hosts: ["wsr.test", "wsr-tls.test", "echo.test"],
        secrets: { API_KEY: {} },
        default: "allow",
      },
      other: { hosts: ["other.test"], secrets: { OTHER_KEY: {} }, default: "allow" },
    },
    upstreamCa: [ca.pemPath],
    resolve: {
      "wsr.test": `127.0.0.1:${port(raw)}`,
      "wsr-tls.test": `127.0.0.1:${port(rawTls)}`,
      "echo.test": `127.0.0.1:${echoUp.port}`,
    },
  });
  await gw.setSecret("API_KEY", API_KEY);
  await gw.setSecret("OTHER_KEY", OTHER_KEY);
  agent = await gw.createAgent("framer");
});

afterAll(async () => {
  await gw?.cleanup();
  await echoUp?.close();
  for (const s of [raw, rawTls]) s?.close();
});

const VIA = ["ws", "wss"] as const;
const url = (via: (typeof VIA)[number], path: string): string =>
  via === "ws"
    ? `ws://wsr.test:${(raw.address() as { port: number }).port}${path}`
    : `wss://wsr-tls.test:${(rawTls.address() as { port: number }).port}${path}`;
const auth = () => ({ agent: "framer", token: agent.token });

interface Seen {
  events: string[];
  close: { code: number; reason: string };
}

/** Everything the agent's client sees until the connection closes. */
function watch(ws: WebSocket): Promise<Seen> {
  const events: string[] = [];
  ws.on("message", (data, isBinary) =>
    events.push(`${isBinary ? "binary" : "text"}:${Buffer.from(data as Buffer).toString("latin1")}`),
  );
  ws.on("ping", (data) => events.push(`ping:${data.toString("latin1")}`));
  ws.on("error", (err) => events.push(`error:${err.message}`));
  return new Promise((resolve) =>
    ws.on("close", (code, reason) => resolve({ events, close: { code, reason: reason.toString() } })),
  );
}

/**
 * Like proxyWebSocket, but returns the socket before it opens, so nothing the upstream sent with
 * its 101 (delivered in the same tick as "open") is missed by the test's listeners.
 */
function openWatched(via: (typeof VIA)[number], path: string): WebSocket {
  const target = url(via, path);
  const { hostname, port } = new URL(target.replace(/^ws/, "http"));
  return new WebSocket(target, {
    createConnection: ((_o: unknown, cb: (err: Error | null, s?: Socket) => void) => {
      if (via === "ws") return connect(gw.proxy.port, gw.proxy.host);
      tunnelTls(gw, hostname, Number(port), auth()).then((t) => cb(null, t), cb);
      return undefined;
    }) as unknown as typeof connect,
    finishRequest: (req) => {
      if (via === "ws") {
        req.path = `http${target.slice(2)}`;
        req.setHeader("proxy-authorization", basicAuth("framer", agent.token));
      }
      req.end();
    },
  });
}

/** Any form of a secret in `text`: literal or the base64 characters that carry it. */
function leaks(text: string): string[] {
  return [API_KEY, OTHER_KEY].flatMap((v) => {
    const cores = [0, 1, 2].map((k) =>
      Buffer.concat([Buffer.alloc(k), Buffer.from(v)])
        .toString("base64")
        .slice(k + 1, -4),
    );
    return [v, ...cores].filter((f) => text.includes(f));
  });
}

describe("upstream frames are parsed and scrubbed", () => {
  it.each(VIA)("text, binary, fragmented, ping and close reason sent with the 101 (%s)", async (via) => {
    const seen = await watch(openWatched(via, "/burst"));
    const all = JSON.stringify(seen);
    expect(leaks(all)).toEqual([]);
    const [api, other] = [agent.env.API_KEY as string, agent.env.OTHER_KEY as string];
    expect(seen.events).toEqual([
      `text:text ${other}`,
      `binary:bin\u0000${api}\u00ff`,
      "ping:",
      `text:frag ${other} ${Buffer.from(`u:${api}`).toString("base64")}`,
      `ping:ping ${api}`,
    ]);
    expect(seen.close).toEqual({ code: 4000, reason: `bye ${other}` });
  });

  it.each(VIA)("a masked frame from the upstream closes both connections (%s)", async (via) => {
    const ws = await proxyWebSocket(gw, url(via, "/masked"), auth());
    const seen = await watch(ws);
    expect(seen.events.filter((e) => e.startsWith("text"))).toEqual([]);
    expect(seen.close.code).toBe(1002);
    await upstreamClosed.get("/masked");
  });

  it.each(VIA)("a message over the size bound closes both connections (%s)", async (via) => {
    const ws = await proxyWebSocket(gw, url(via, "/huge"), auth());
    const seen = await watch(ws);
    expect(seen.close.code).toBe(1009);
    await upstreamClosed.get("/huge");
  });
});

describe("the handshake cannot smuggle an unreadable stream", () => {
  it.each(VIA)("a 101 naming an extension is refused (%s)", async (via) => {
    const err = await proxyWebSocket(gw, url(via, "/ext"), auth()).then(
      (ws) => void ws.terminate(),
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WebSocketRefused);
    expect((err as WebSocketRefused).status).toBe(502);
  });

  it.each(VIA)("a 101 choosing a subprotocol nobody offered is refused (%s)", async (via) => {
    const err = await proxyWebSocket(gw, url(via, "/proto"), auth()).then(
      (ws) => void ws.terminate(),
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WebSocketRefused);
  });

  it("a client offering permessage-deflate runs uncompressed; the upstream never sees the offer", async () => {
    echoUp.reset();
    const ws = await proxyWebSocket(gw, `ws://echo.test:${echoUp.port}/echo`, auth());
    expect(ws.extensions).toBe("");
    const back = new Promise<string>((resolve) => ws.once("message", (d) => resolve(String(d))));
    ws.send("x".repeat(5000));
    expect(await back).toBe("x".repeat(5000));
    ws.close();
    expect(echoUp.handshakes[0]?.headers["sec-websocket-extensions"]).toBeUndefined();
  });
});

describe("agent frames are parsed too", () => {
  it("an unmasked frame from the agent (sent with its handshake) closes both connections", async () => {
    const port = (raw.address() as { port: number }).port;
    const socket = connect(gw.proxy.port, gw.proxy.host);
    const handshake = [
      `GET http://wsr.test:${port}/hold HTTP/1.1`,
      `Host: wsr.test:${port}`,
      "Upgrade: websocket",
      "Connection: Upgrade",
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
      "Sec-WebSocket-Version: 13",
      `Proxy-Authorization: ${basicAuth("framer", agent.token)}`,
    ];
    socket.write(Buffer.concat([Buffer.from(`${handshake.join("\r\n")}\r\n\r\n`), frame(1, "not masked")]));
    let got = Buffer.alloc(0);
    socket.on("data", (c: Buffer) => {
      got = Buffer.concat([got, c]);
    });
    await new Promise((resolve) => socket.on("close", resolve));
    const text = got.toString("latin1");
    expect(text).toMatch(/^HTTP\/1\.1 101 /);
    const frames = got.subarray(text.indexOf("\r\n\r\n") + 4);
    expect(frames[0]).toBe(0x88); // a close frame…
    expect(frames.readUInt16BE(2)).toBe(1002); // …saying "protocol error"
    await upstreamClosed.get("/hold");
  });
});
