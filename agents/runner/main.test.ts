/**
 * The built runner (dist/) as the container runs it: forwarder on 127.0.0.1, gateway on a Unix
 * socket, demo brain. vitest's global setup builds dist/ before the run.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";

const MAIN = join(import.meta.dirname, "../../dist/agents/runner/main.js");

let child: ChildProcess | undefined;
let gateway: http.Server | undefined;
let dir: string | undefined;

afterEach(async () => {
  child?.kill("SIGKILL");
  gateway?.closeAllConnections();
  await new Promise((r) => (gateway ? gateway.close(r) : r(undefined)));
  if (dir) await rm(dir, { recursive: true, force: true });
  child = gateway = dir = undefined;
});

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const { port } = s.address() as net.AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

describe("runner main.js", () => {
  it("forwards to the gateway socket, answers an inbox message with the demo brain, exits 0 on SIGTERM", async () => {
    expect(existsSync(MAIN), "dist is built by the global setup").toBe(true);
    dir = await mkdtemp(join(tmpdir(), "warden-runner-"));
    const socketPath = join(dir, "gateway.sock");
    const seen: Array<{ method: string; url: string; auth?: string; body: string }> = [];
    let delivered = false;
    let replied: (body: string) => void = () => {};
    const reply = new Promise<string>((r) => (replied = r));

    gateway = http.createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on("data", (c: Buffer) => parts.push(c));
      req.on("end", () => {
        const body = Buffer.concat(parts).toString();
        seen.push({
          method: req.method ?? "",
          url: req.url ?? "",
          auth: req.headers["proxy-authorization"],
          body,
        });
        const url = new URL(req.url ?? "");
        if (url.host === "warden.internal" && url.pathname === "/v1/inbox") {
          const messages = delivered
            ? []
            : [{ id: "m1", text: "check my inbox", from: "web:owner", at: "now" }];
          delivered = true;
          return setTimeout(
            () =>
              res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ messages })),
            messages.length ? 0 : 200,
          );
        }
        if (url.host === "warden.internal" && url.pathname === "/v1/outbox") replied(body);
        if (url.host === "warden.internal") return res.writeHead(204).end();
        if (url.host === "demo.warden.local" && url.pathname === "/inbox") {
          return res
            .writeHead(200, { "content-type": "application/json" })
            .end('[{"subject":"Hello from the demo"}]');
        }
        res.writeHead(404).end();
      });
    });
    await new Promise<void>((r) => gateway?.listen(socketPath, () => r()));

    const port = await freePort();
    child = spawn(process.execPath, [MAIN], {
      env: {
        PATH: process.env.PATH,
        WARDEN_AGENT: "tester",
        WARDEN_PROVIDER: "demo",
        WARDEN_SOCKET: socketPath,
        WARDEN_PROXY: `http://127.0.0.1:${port}`,
        WARDEN_WORKSPACE: dir,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (d) => (stdout += d));
    child.stderr?.on("data", (d) => (stderr += d));

    const text = JSON.parse(await reply).text as string;
    expect(text).toContain("Scripted demo brain");
    expect(text).toContain("Hello from the demo");
    expect(stdout.trim().split("\n")[0]).toBe('{"event":"runner_ready"}');
    expect(
      seen.every((s) => s.auth === undefined),
      "no Proxy-Authorization inside containers",
    ).toBe(true);
    const states = seen.filter((s) => s.url.endsWith("/v1/status")).map((s) => JSON.parse(s.body).state);
    expect(states.slice(0, 2)).toEqual(["idle", "thinking"]);

    const exited = new Promise<number | null>((r) => child?.once("exit", (code) => r(code)));
    child.kill("SIGTERM");
    expect(await exited, stderr).toBe(0);
  });

  it("exits 1 with a clear log line for a bad provider", async () => {
    child = spawn(process.execPath, [MAIN], {
      env: { PATH: process.env.PATH, WARDEN_PROVIDER: "nope", WARDEN_NO_FORWARDER: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr?.on("data", (d) => (stderr += d));
    const code = await new Promise<number | null>((r) => child?.once("exit", (c) => r(c)));
    expect(code).toBe(1);
    expect(stderr).toContain("WARDEN_PROVIDER must be one of demo, openai, claude");
  });
});
