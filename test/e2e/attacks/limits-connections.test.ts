/**
 * Connection and header limits (issue #9 classes 9 and 10, connection part): one agent cannot
 * exhaust the gateway with stalled bodies, heads that never finish, too many or too large headers,
 * more connections than its cap, idle keep-alive connections, or a flood of idle and slowloris
 * connections. Short limits come from the hidden env overrides the CLI reads.
 */
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startGateway as startInProcess } from "../../../gateway/server.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collect, openRaw, rawSend } from "../../fakes/raw-agent.js";
import { type RawWorld, startRawWorld, type Via, vias } from "./raw-world.js";

const LIMITS = {
  WARDEN_BODY_TIMEOUT_MS: "1000",
  WARDEN_HEADERS_TIMEOUT_MS: "2000",
  WARDEN_KEEPALIVE_TIMEOUT_MS: "1500",
  WARDEN_MAX_AGENT_CONNECTIONS: "10",
};

let w: RawWorld;

beforeAll(async () => {
  Object.assign(process.env, LIMITS);
  try {
    w = await startRawWorld();
  } finally {
    for (const k of Object.keys(LIMITS)) delete process.env[k];
  }
}, 60_000);

afterAll(async () => {
  await w?.close();
});

const head = (via: Via, method: string, path: string, extra: string, auth = w.auth): string =>
  `${method} ${via.target(path)} HTTP/1.1\r\nHost: ${via.host}\r\n` +
  `${via.mode.kind === "absolute" ? auth : ""}${extra}\r\n`;

/** Resident memory of the process listening on `port`, in MiB (Linux /proc). */
function rssOfListener(port: number): number | undefined {
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  const line = readFileSync("/proc/net/tcp", "utf8")
    .split("\n")
    .find((l) => l.split(/\s+/)[2]?.endsWith(`:${hexPort}`) && l.split(/\s+/)[4] === "0A");
  const inode = line?.trim().split(/\s+/)[9];
  if (!inode) return undefined;
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) !== `socket:[${inode}]`) continue;
      } catch {
        continue;
      }
      const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
      return kb ? Math.round(Number(kb) / 1024) : undefined;
    }
  }
  return undefined;
}

describe.each(vias())("limits via $label", (via) => {
  it("a request body that stalls is answered 408 request_timeout, audited, and the connection closed", async () => {
    const up = via.upstream(w);
    const before = up.requests.length;
    const seq = await w.lastSeq();
    const answer = await rawSend(w.gw, w.auth, {
      mode: via.mode,
      parts: [`${head(via, "POST", "/stalled-body", "Content-Length: 10\r\n")}hello`],
      quietMs: 8000,
    });
    expect(answer.statuses, answer.text).toEqual([408]);
    expect(answer.errors).toEqual(["request_timeout"]);
    expect(answer.closed).toBe(true);
    expect(up.requests.slice(before)).toEqual([]);
    expect((await w.auditAfter(seq)).some((r) => r.code === "request_timeout")).toBe(true);
  });

  it("a request head that never finishes is answered 408 and the connection closed", async () => {
    const seq = await w.lastSeq();
    const answer = await rawSend(w.gw, w.auth, {
      mode: via.mode,
      parts: [`GET ${via.target("/slow-head")} HTTP/1.1\r\nHost: ${via.host}\r\nX-Slow: 1\r\n`],
      quietMs: 10_000,
    });
    expect(answer.statuses, answer.text).toEqual([408]);
    expect(answer.errors).toEqual(["request_timeout"]);
    expect(answer.closed).toBe(true);
    expect((await w.auditAfter(seq)).some((r) => r.code === "request_timeout")).toBe(true);
  });

  it("more than 100 headers are refused with 400 bad_request", async () => {
    const many = Array.from({ length: 120 }, (_, i) => `X-H${i}: v\r\n`).join("");
    const answer = await rawSend(w.gw, w.auth, { mode: via.mode, parts: [head(via, "GET", "/many", many)] });
    expect(answer.statuses, answer.text).toEqual([400]);
    expect(answer.errors).toEqual(["bad_request"]);
  });

  it("a 40 KiB header is refused with a JSON 400 bad_request and the connection closed", async () => {
    const big = `X-Big: ${"a".repeat(40 * 1024)}\r\n`;
    const answer = await rawSend(w.gw, w.auth, { mode: via.mode, parts: [head(via, "GET", "/big", big)] });
    expect(answer.statuses, answer.text).toEqual([400]);
    expect(answer.errors).toEqual(["bad_request"]);
    expect(answer.text).toContain('"code":"bad_request"');
    expect(answer.closed).toBe(true);
  });

  it("an idle keep-alive connection is closed by the gateway", async () => {
    const answer = await rawSend(w.gw, w.auth, {
      mode: via.mode,
      parts: [head(via, "GET", "/then-idle", "")],
      quietMs: 8000,
    });
    expect(answer.statuses).toEqual([200]);
    expect(answer.closed).toBe(true);
  });
});

describe("connection cap per agent", () => {
  it("an agent's connection beyond its cap gets 429 and is closed; another agent is still served", async () => {
    const [via] = vias();
    if (!via) throw new Error("no via");
    const held: Socket[] = [];
    try {
      for (let i = 0; i < 10; i++) {
        const s = await openRaw(w.gw, via.mode, w.auth);
        const ok = new Promise<void>((resolve) => s.once("data", () => resolve()));
        s.write(head(via, "GET", `/hold-${i}`, ""));
        await ok;
        held.push(s);
      }
      const refused = await rawSend(w.gw, w.auth, {
        mode: via.mode,
        parts: [head(via, "GET", "/one-too-many", "")],
      });
      expect(refused.statuses, refused.text).toEqual([429]);
      expect(refused.errors).toEqual(["rate_limited"]);
      expect(refused.closed).toBe(true);
      const other = await rawSend(w.gw, w.otherAuth, {
        mode: via.mode,
        parts: [head(via, "GET", "/other-agent", "", w.otherAuth)],
      });
      expect(other.statuses).toEqual([200]);
    } finally {
      for (const s of held) s.destroy();
    }
    await new Promise((r) => setTimeout(r, 300));
    const again = await rawSend(w.gw, w.auth, {
      mode: via.mode,
      parts: [head(via, "GET", "/after-release", "")],
    });
    expect(again.statuses).toEqual([200]);
  });
});

describe("flood", () => {
  it("2000 idle connections and 100 slowloris heads leave the gateway serving another agent", async () => {
    const { host, port } = w.gw.proxy;
    const rssBefore = rssOfListener(port);
    const sockets: Socket[] = [];
    const open = (): Promise<Socket> =>
      new Promise((resolve) => {
        const s = connect(port, host);
        s.on("error", () => undefined);
        s.on("end", () => s.destroy());
        s.resume();
        s.once("connect", () => resolve(s));
        s.once("error", () => resolve(s));
      });
    for (let i = 0; i < 2000; i += 100)
      sockets.push(...(await Promise.all(Array.from({ length: 100 }, open))));
    const loris = await Promise.all(Array.from({ length: 100 }, open));
    for (const s of loris) s.write(`GET http://raw.test/loris HTTP/1.1\r\nHost: raw.test\r\n${w.auth}`);
    const drip = setInterval(() => {
      for (const s of loris) if (!s.destroyed) s.write("X-Drip: 1\r\n");
    }, 300);
    await new Promise((r) => setTimeout(r, 1500));
    const rssPeak = rssOfListener(port);
    const stillOpen = () => [...sockets, ...loris].filter((s) => !s.destroyed && !s.readableEnded).length;
    const openAtPeak = stillOpen();
    try {
      const [via] = vias();
      if (!via) throw new Error("no via");
      const other = await collect(await openRaw(w.gw, via.mode, w.otherAuth), {
        parts: [head(via, "GET", "/during-flood", "", w.otherAuth)],
      });
      expect(other.statuses).toEqual([200]);
      // Heads time out after 2 s: give the gateway a few checking rounds, then count.
      await new Promise((r) => setTimeout(r, 6000));
      const openAfter = stillOpen();
      const rssAfter = rssOfListener(port);
      console.log(
        `[flood] gateway RSS before ${rssBefore} MiB, with 2000 idle + 100 slowloris ${rssPeak} MiB, ` +
          `after timeouts ${rssAfter} MiB; client sockets open at peak ${openAtPeak}, after ${openAfter}`,
      );
      const after = await rawSend(w.gw, w.otherAuth, {
        mode: via.mode,
        parts: [head(via, "GET", "/after-flood", "", w.otherAuth)],
      });
      expect(after.statuses).toEqual([200]);
    } finally {
      clearInterval(drip);
      for (const s of [...sockets, ...loris]) s.destroy();
    }
  }, 60_000);
});

describe("connection cap on an agent's Unix socket", () => {
  it("the connection beyond the cap is answered 429 and closed, the ones before it are served", async () => {
    const root = mkdtempSync(join(tmpdir(), "warden-cap-"));
    mkdirSync(join(root, "policies"));
    writeFileSync(
      join(root, "policies", "raw.yaml"),
      JSON.stringify({ hosts: ["raw.test"], rules: [], default: "allow" }),
    );
    const gw = await startInProcess({
      home: join(root, "home"),
      policiesDir: join(root, "policies"),
      listen: { host: "127.0.0.1", port: 0 },
      control: { host: "127.0.0.1", port: 0 },
      resolve: new Map([["raw.test", { host: "127.0.0.1", port: w.plain.port }]]),
      log: () => undefined,
      proxyLimits: { maxConnectionsPerAgent: 3 },
    });
    const path = join(root, "agent.sock");
    const held: Socket[] = [];
    try {
      await gw.listenAgentSocket("sock-agent", path);
      const open = (): Promise<Socket> =>
        new Promise((resolve) => {
          const s = connect(path);
          s.on("error", () => undefined);
          s.once("connect", () => resolve(s));
        });
      for (let i = 0; i < 3; i++) held.push(await open());
      const extra = await collect(await open(), { parts: [], quietMs: 3000 });
      expect(extra.statuses, extra.text).toEqual([429]);
      expect(extra.errors).toEqual(["rate_limited"]);
      expect(extra.closed).toBe(true);
      const first = held[0];
      if (!first) throw new Error("no socket");
      const served = await collect(first, {
        parts: ["GET http://raw.test/via-socket HTTP/1.1\r\nHost: raw.test\r\n\r\n"],
      });
      expect(served.statuses).toEqual([200]);
    } finally {
      for (const s of held) s.destroy();
      await gw.close();
      rmSync(root, { recursive: true, force: true });
    }
  }, 60_000);
});
