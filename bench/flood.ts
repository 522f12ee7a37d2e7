/**
 * Memory under a flood, for `npm run bench`: the real gateway process with a policy that holds every
 * request for approval. 20 agents each send 40 held POSTs with a 1 MiB body (far past `max_pending`
 * and `max_held_bytes`), then 2000 idle connections are opened. Reports the gateway's RSS at rest,
 * with the held flood and with the idle connections, and how many requests were held or refused
 * (429 too_many_pending). All traffic stays on 127.0.0.1; nothing is ever approved or sent upstream.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { cleanEnv, rss, sleep } from "./proc.js";

const AGENTS = 20;
const PER_AGENT = 40;
const BODY = Buffer.alloc(1 << 20, "x");
const IDLE = 2000;

/** Runs the flood against a gateway built from `repoRoot`; returns report lines. */
export async function benchFlood(repoRoot: string): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), "warden-flood-"));
  const home = join(dir, "home");
  const policies = join(dir, "policies");
  mkdirSync(home);
  mkdirSync(policies);
  writeFileSync(
    join(policies, "held.yaml"),
    "hosts: [held.test]\nrules:\n  - name: hold\n    action: approve\n",
  );
  const child = spawn(
    process.execPath,
    // biome-ignore format: flag/value pairs.
    [join(repoRoot, "bin", "warden.js"), "gateway", "--home", home, "--policies", policies,
      "--listen", "127.0.0.1:0", "--control", "127.0.0.1:0", "--resolve", "held.test=127.0.0.1:9"],
    { env: { ...cleanEnv(), WARDEN_HOME: home }, stdio: ["ignore", "pipe", "ignore"] },
  );
  const open: (http.ClientRequest | net.Socket)[] = [];
  try {
    const event = JSON.parse(await firstLine(child)) as { proxy: string; control: string };
    const port = (hp: string) => Number(hp.slice(hp.lastIndexOf(":") + 1));
    const token = readFileSync(join(home, "control.token"), "utf8").trim();
    const proxyPort = port(event.proxy);
    const lines = [`memory under a flood (gateway process; ${AGENTS} agents):`];
    await sleep(500);
    lines.push(`  at rest: ${rss(child.pid!)}`);
    const tally = { held: 0, refused: 0, other: 0 };
    for (let a = 0; a < AGENTS; a++) {
      const agent = (await control(port(event.control), token, "/v1/agents", { name: `flood${a}` })) as {
        token: string;
      };
      const auth = `Basic ${Buffer.from(`flood${a}:${agent.token}`).toString("base64")}`;
      for (let i = 0; i < PER_AGENT; i++) open.push(sendHeld(proxyPort, auth, `/a${a}/r${i}`, tally));
    }
    // Requests that are held get no answer; refusals answer at once. Wait until the counts settle.
    let last = -1;
    for (let i = 0; i < 60 && tally.refused + tally.other !== last; i++) {
      last = tally.refused + tally.other;
      await sleep(1000);
    }
    tally.held = AGENTS * PER_AGENT - tally.refused - tally.other;
    lines.push(
      `  ${AGENTS * PER_AGENT} POSTs of 1 MiB waiting for approval (${tally.held} held, ${tally.refused} refused ` +
        `429 too_many_pending${tally.other ? `, ${tally.other} other` : ""}): ${rss(child.pid!)}`,
    );
    for (let i = 0; i < IDLE; i++) {
      const s = net.connect(proxyPort, "127.0.0.1");
      s.on("error", () => undefined);
      open.push(s);
    }
    await sleep(2000);
    lines.push(`  plus ${IDLE} idle connections: ${rss(child.pid!)}`);
    return lines;
  } catch (err) {
    return [`memory under a flood: failed: ${(err as Error).message}`];
  } finally {
    for (const o of open) o.destroy();
    child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
}

function sendHeld(
  port: number,
  auth: string,
  path: string,
  tally: { refused: number; other: number },
): http.ClientRequest {
  const req = http.request({
    host: "127.0.0.1",
    port,
    method: "POST",
    path: `http://held.test${path}`,
    agent: false,
    headers: { "proxy-authorization": auth, "content-type": "text/plain", "content-length": BODY.length },
  });
  req.on("response", (res) => {
    if (res.headers["x-warden-error"] === "too_many_pending") tally.refused++;
    else tally.other++;
    res.resume();
  });
  req.on("error", () => undefined);
  req.end(BODY);
  return req;
}

function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("gateway did not start within 30 s")), 30_000);
    createInterface({ input: child.stdout! }).once("line", (line) => {
      clearTimeout(timer);
      resolve(line);
    });
    child.once("exit", (code) => reject(new Error(`gateway exited (${code})`)));
  });
}

function control(port: number, token: string, path: string, body: unknown): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = http.request(
      {
        host: "127.0.0.1",
        port,
        method: "POST",
        path,
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve(JSON.parse(Buffer.concat(chunks).toString("utf8"))));
      },
    );
    req.on("error", reject);
    req.end(data);
  });
}
