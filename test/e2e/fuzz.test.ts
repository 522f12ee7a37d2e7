/**
 * Malformed traffic thrown at the proxy listener over raw sockets: each case must get an answer or
 * a close, the gateway must stay up, and the recording upstreams must receive nothing (the policy
 * lets through only one path no case uses).
 */
import { connect, createServer, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AgentCredentials, type GatewayProcess, startGateway } from "../fakes/gateway-process.js";
import { basicAuth, tunnelTls } from "../fakes/proxy-client.js";
import { createTestCa } from "../fakes/test-ca.js";
import { type RecordingUpstream, startUpstream } from "../fakes/upstreams.js";
import { type FuzzCase, type FuzzContext, fixedCases, generatedCases, mulberry32 } from "./fuzz-cases.js";

const SEED = 0x5eed_2024;
const GENERATED = 300;
const CONCURRENCY = 16;
const CASE_TIMEOUT_MS = 5000;

let plain: RecordingUpstream;
let tlsUp: RecordingUpstream;
let gw: GatewayProcess;
let agent: AgentCredentials;
let ctx: FuzzContext;

type Outcome = "answered" | "closed" | "silent";

/** Captures the first flight of a real TLS client: a complete ClientHello for `servername`. */
async function captureClientHello(servername: string): Promise<Buffer> {
  const server = createServer();
  const hello = new Promise<Buffer>((resolve) =>
    server.once("connection", (s: Socket) =>
      s.once("data", (d: Buffer) => {
        resolve(d);
        s.destroy();
      }),
    ),
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  const client = tlsConnect({ host: "127.0.0.1", port, servername, rejectUnauthorized: false });
  client.on("error", () => {});
  const bytes = await hello;
  client.destroy();
  server.close();
  return bytes;
}

function throwCase(c: FuzzCase, target = gw.proxy): Promise<Outcome> {
  return new Promise((resolve) => {
    let answered = false;
    let head = "";
    const socket = connect(target.port, target.host);
    const finish = (outcome: Outcome) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => finish(answered ? "answered" : "silent"), CASE_TIMEOUT_MS);
    socket.on("error", () => finish(answered ? "answered" : "closed"));
    socket.on("close", () => finish(answered ? "answered" : "closed"));
    socket.on("data", (chunk: Buffer) => {
      if (c.afterConnect && !answered) {
        head += chunk.toString("latin1");
        if (head.includes("\r\n\r\n")) {
          answered = true;
          if (/^HTTP\/1\.[01] 200/.test(head)) socket.end(c.afterConnect);
        }
        return;
      }
      answered = true;
    });
    socket.on("connect", () => {
      if (c.afterConnect) socket.write(c.first);
      else socket.end(c.first);
    });
  });
}

async function healthy(): Promise<boolean> {
  if (gw.exited) return false;
  return (await gw.control("GET", "/v1/health")).status === 200;
}

beforeAll(async () => {
  const ca = await createTestCa();
  plain = await startUpstream();
  tlsUp = await startUpstream({ tls: await ca.issue(["fuzz-tls.test"]) });
  const onlyOnePath = {
    rules: [{ name: "needle", methods: ["GET"], paths: ["/never-generated-7f3a"], action: "allow" }],
    default: "deny",
  };
  gw = await startGateway({
    policies: {
      _defaults: { unknown_hosts: "deny" },
      fuzz: { hosts: ["fuzz.test", "fuzz-tls.test", "fresh.test"], ...onlyOnePath },
    },
    upstreamCa: [ca.pemPath],
    resolve: {
      "fuzz.test": `127.0.0.1:${plain.port}`,
      "fuzz-tls.test": `127.0.0.1:${tlsUp.port}`,
      "fresh.test": `127.0.0.1:${tlsUp.port}`,
    },
  });
  agent = await gw.createAgent("fuzzer");
  ctx = {
    auth: basicAuth("fuzzer", agent.token),
    target: `fuzz.test:${plain.port}`,
    tlsTarget: `fuzz-tls.test:${tlsUp.port}`,
    clientHello: await captureClientHello("fuzz-tls.test"),
  };
});

afterAll(async () => {
  await gw?.cleanup();
  await plain?.close();
  await tlsUp?.close();
});

describe("proxy listener under malformed input", () => {
  it("answers or closes every named attack", { timeout: 120_000 }, async () => {
    const silent: string[] = [];
    for (const c of fixedCases(ctx)) if ((await throwCase(c)) === "silent") silent.push(c.name);
    expect(silent).toEqual([]);
    expect(await healthy()).toBe(true);
  });

  it(`answers or closes ${GENERATED} generated cases (seed ${SEED}) and stays up`, {
    timeout: 180_000,
  }, async () => {
    const cases = generatedCases(SEED, GENERATED, ctx);
    const silent: string[] = [];
    for (let i = 0; i < cases.length; i += CONCURRENCY) {
      const batch = cases.slice(i, i + CONCURRENCY);
      const outcomes = await Promise.all(batch.map((c) => throwCase(c)));
      for (const [j, o] of outcomes.entries()) if (o === "silent") silent.push(batch[j]?.name ?? "?");
      expect(await healthy(), `gateway down after cases ${i}..${i + batch.length - 1}`).toBe(true);
    }
    expect(silent).toEqual([]);
  });

  it("answers or closes garbage sent inside an intercepted tunnel", { timeout: 60_000 }, async () => {
    const rand = mulberry32(SEED ^ 0xbeef);
    const garbage = [
      `GET /x HTTP/1.1\r\nHost: fuzz-tls.test\r\n${"X: y\r\n".repeat(20_000)}\r\n`,
      "\r\n\r\n\r\n",
      "CONNECT fuzz-tls.test:443 HTTP/1.1\r\n\r\n",
      "GET http://fuzz.test/ HTTP/1.1\r\nHost: fuzz.test\r\n\r\n",
      "GET /../../etc/passwd HTTP/1.1\r\nHost: fuzz-tls.test\r\n\r\n",
      "GET /x HTTP/1.1\r\nHost: evil.test\r\n\r\n",
      ...Array.from({ length: 10 }, () =>
        Buffer.from(
          Array.from({ length: 1 + Math.floor(rand() * 2048) }, () => Math.floor(rand() * 256)),
        ).toString("latin1"),
      ),
    ];
    for (const text of garbage) {
      const tls = await tunnelTls(gw, "fuzz-tls.test", tlsUp.port, { agent: "fuzzer", token: agent.token });
      const outcome = await new Promise<Outcome>((resolve) => {
        let answered = false;
        const timer = setTimeout(() => resolve(answered ? "answered" : "silent"), CASE_TIMEOUT_MS);
        const done = () => {
          clearTimeout(timer);
          resolve(answered ? "answered" : "closed");
        };
        tls.on("data", () => {
          answered = true;
        });
        tls.on("close", done);
        tls.on("error", done);
        tls.end(Buffer.from(text, "latin1"));
      });
      tls.destroy();
      expect(outcome, JSON.stringify(text.slice(0, 80))).not.toBe("silent");
    }
    expect(await healthy()).toBe(true);
  });

  it.each([
    // why                                                                  when the client sends its FIN   host
    ["FIN after the 200 Connection Established", "after-200", "fuzz-tls.test"],
    ["CONNECT and FIN together, leaf already minted", "with-connect", "fuzz-tls.test"],
    ["CONNECT and FIN together, FIN lands while the leaf is minted", "with-connect", "fresh.test"],
  ] as const)(
    "closes a tunnel whose client hangs up before the TLS handshake: %s",
    async (_why, when, host) => {
      const closed = await new Promise<boolean>((resolve) => {
        const socket = connect(gw.proxy.port, gw.proxy.host);
        const target = `${host}:${tlsUp.port}`;
        const request = `CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\nProxy-Authorization: ${ctx.auth}\r\n\r\n`;
        const timer = setTimeout(() => {
          socket.destroy();
          resolve(false);
        }, CASE_TIMEOUT_MS);
        socket.on("error", () => {});
        socket.on("close", () => {
          clearTimeout(timer);
          resolve(true);
        });
        socket.on("data", (chunk: Buffer) => {
          if (when === "after-200" && chunk.toString("latin1").startsWith("HTTP/1.1 200")) socket.end();
        });
        socket.on("connect", () => (when === "with-connect" ? socket.end(request) : socket.write(request)));
      });
      // A half-open tunnel nobody will ever speak TLS on is a socket a hostile agent can pile up.
      expect(closed, "tunnel still open after the client's FIN").toBe(true);
    },
  );

  it("sent nothing upstream and is still serving", async () => {
    expect(plain.received()).toBe(0);
    expect(tlsUp.received()).toBe(0);
    expect(gw.exited).toBe(false);
    expect(await healthy()).toBe(true);
    expect(gw.output()).not.toMatch(/TypeError|ReferenceError|RangeError|unhandled|uncaught/i);
  });
});
