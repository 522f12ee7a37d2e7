/**
 * Runs the real gateway (`node bin/warden.js gateway …`) as a child process against a temporary
 * WARDEN home and policies directory, and talks to its control API. Everything the process prints
 * is kept so tests can search it (e.g. for leaked secrets).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { type IncomingHttpHeaders, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

/** Repository root (the folder holding package.json). */
export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** The CLI entry point the gateway is started with. */
export const WARDEN_BIN = join(REPO_ROOT, "bin", "warden.js");

const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 20_000;

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** What `POST /v1/agents` returns. */
export interface AgentCredentials {
  readonly name: string;
  readonly token: string;
  readonly env: Record<string, string>;
}

export interface ControlResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
  // biome-ignore lint/suspicious/noExplicitAny: JSON payloads are checked field by field by the tests.
  readonly body: any;
}

export interface GatewayStartOptions {
  /** File name without `.yaml` → policy. Objects are written as JSON (valid YAML); strings verbatim. */
  readonly policies: Record<string, unknown>;
  /** `--upstream-ca` files. */
  readonly upstreamCa?: readonly string[];
  /** `--resolve HOST=IP:PORT` entries, host → "IP:PORT". */
  readonly resolve?: Record<string, string>;
  /** More environment for the process (e.g. WARDEN_DATABASE_URL and WARDEN_MASTER_KEY for replicas). */
  readonly env?: Record<string, string>;
  /** More `warden gateway` arguments (e.g. `--replica-id A`). */
  readonly args?: readonly string[];
}

export interface GatewayProcess {
  readonly home: string;
  readonly policiesDir: string;
  readonly proxy: HostPort;
  readonly controlAddr: HostPort;
  /** The Warden CA (`home/ca/ca.pem`) as read after the last start. */
  readonly caPem: string;
  readonly controlToken: string;
  /** True once the current process has exited. */
  readonly exited: boolean;
  /** Every stdout/stderr byte of every run so far, as text. */
  output(): string;
  control(method: string, path: string, body?: unknown): Promise<ControlResponse>;
  createAgent(name: string): Promise<AgentCredentials>;
  setSecret(name: string, value: string): Promise<void>;
  /** `http://agent:token@host:port` for the proxy listener. */
  proxyUrl(agent: string, token: string): string;
  writePolicy(name: string, policy: unknown): Promise<void>;
  /** SIGTERM, wait for exit, start again on the same home and policies (new ports). */
  restart(): Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Kills the process if still running and removes the temporary directories. */
  cleanup(): Promise<void>;
}

function childEnv(home: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, WARDEN_HOME: home };
  // The gateway must never route through the test runner's proxy or inherit loaders.
  for (const key of Object.keys(env)) {
    if (/^(https?_proxy|no_proxy|all_proxy|node_options|node_use_env_proxy|warden_master_key)$/i.test(key))
      delete env[key];
  }
  return env;
}

function parseHostPort(value: unknown, what: string): HostPort {
  const match = typeof value === "string" ? /^(?:https?:\/\/)?([^:/]+):(\d+)\/?$/.exec(value) : null;
  if (!match?.[1] || !match[2]) throw new Error(`listening line has a bad ${what}: ${String(value)}`);
  return { host: match[1], port: Number(match[2]) };
}

/** Starts a gateway with its own temporary home and policies directory. */
export async function startGateway(options: GatewayStartOptions): Promise<GatewayProcess> {
  if (!existsSync(WARDEN_BIN))
    throw new Error(`${WARDEN_BIN} does not exist yet: the gateway CLI is not built`);
  const root = await mkdtemp(join(tmpdir(), "warden-e2e-"));
  const home = join(root, "home");
  const policiesDir = join(root, "policies");
  await mkdir(home, { recursive: true });
  await mkdir(policiesDir, { recursive: true });

  async function writePolicy(name: string, policy: unknown): Promise<void> {
    const text = typeof policy === "string" ? policy : `${JSON.stringify(policy, null, 2)}\n`;
    await writeFile(join(policiesDir, `${name}.yaml`), text);
  }
  for (const [name, policy] of Object.entries(options.policies)) await writePolicy(name, policy);

  const args = [
    "gateway",
    "--home",
    home,
    "--policies",
    policiesDir,
    "--listen",
    "127.0.0.1:0",
    "--control",
    "127.0.0.1:0",
  ];
  for (const file of options.upstreamCa ?? []) args.push("--upstream-ca", file);
  for (const [host, target] of Object.entries(options.resolve ?? {}))
    args.push("--resolve", `${host}=${target}`);
  args.push(...(options.args ?? []));

  const chunks: string[] = [];
  let child: ChildProcess | undefined;
  let exitPromise: Promise<{ code: number | null; signal: NodeJS.Signals | null }> = Promise.resolve({
    code: 0,
    signal: null,
  });
  let exited = true;
  let proxy: HostPort = { host: "127.0.0.1", port: 0 };
  let controlAddr: HostPort = { host: "127.0.0.1", port: 0 };
  let caPem = "";
  let controlToken = "";

  async function launch(): Promise<void> {
    const proc = spawn(process.execPath, [WARDEN_BIN, ...args], {
      cwd: REPO_ROOT,
      env: { ...childEnv(home), ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child = proc;
    exited = false;
    exitPromise = new Promise((resolve) => {
      proc.on("exit", (code, signal) => {
        exited = true;
        resolve({ code, signal });
      });
    });
    proc.stderr?.setEncoding("utf8").on("data", (text: string) => chunks.push(text));
    const lines = createInterface({ input: proc.stdout as NodeJS.ReadableStream });
    let first: string | undefined;
    const firstLine = new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`gateway printed no listening line within ${START_TIMEOUT_MS} ms`)),
        START_TIMEOUT_MS,
      );
      lines.on("line", (line) => {
        chunks.push(`${line}\n`);
        if (first === undefined) {
          first = line;
          clearTimeout(timer);
          resolve(line);
        }
      });
      void exitPromise.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(
          new Error(`gateway exited (code ${code}, signal ${signal}) before listening:\n${chunks.join("")}`),
        );
      });
    });
    const line = await firstLine;
    let event: { event?: unknown; proxy?: unknown; control?: unknown };
    try {
      event = JSON.parse(line);
    } catch {
      throw new Error(`first stdout line is not JSON: ${line}`);
    }
    if (event.event !== "listening") throw new Error(`first stdout line is not the listening event: ${line}`);
    proxy = parseHostPort(event.proxy, "proxy");
    controlAddr = parseHostPort(event.control, "control");
    controlToken = (await readFile(join(home, "control.token"), "utf8")).trim();
    caPem = await readFile(join(home, "ca", "ca.pem"), "utf8");
  }

  async function stop(
    signal: NodeJS.Signals = "SIGTERM",
  ): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (exited || !child) return exitPromise;
    child.kill(signal);
    const timeout = new Promise<"timeout">((resolve) =>
      setTimeout(() => resolve("timeout"), STOP_TIMEOUT_MS).unref(),
    );
    const result = await Promise.race([exitPromise, timeout]);
    if (result === "timeout") {
      child.kill("SIGKILL");
      await exitPromise;
      throw new Error(`gateway did not exit within ${STOP_TIMEOUT_MS} ms of ${signal}`);
    }
    return result;
  }

  function control(method: string, path: string, body?: unknown): Promise<ControlResponse> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: controlAddr.host,
          port: controlAddr.port,
          method,
          path,
          agent: false,
          headers: {
            authorization: `Bearer ${controlToken}`,
            ...(payload ? { "content-type": "application/json", "content-length": payload.length } : {}),
          },
        },
        (res) => {
          const parts: Buffer[] = [];
          res.on("data", (c: Buffer) => parts.push(c));
          res.on("end", () => {
            const text = Buffer.concat(parts).toString("utf8");
            let parsed: unknown;
            try {
              parsed = text ? JSON.parse(text) : undefined;
            } catch {
              parsed = undefined;
            }
            resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body: parsed });
          });
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      req.end(payload);
    });
  }

  try {
    await launch();
  } catch (err) {
    child?.kill("SIGKILL");
    await rm(root, { recursive: true, force: true });
    throw err;
  }

  return {
    home,
    policiesDir,
    get proxy() {
      return proxy;
    },
    get controlAddr() {
      return controlAddr;
    },
    get caPem() {
      return caPem;
    },
    get controlToken() {
      return controlToken;
    },
    get exited() {
      return exited;
    },
    output: () => chunks.join(""),
    control,
    async createAgent(name) {
      const res = await control("POST", "/v1/agents", { name });
      if (res.status < 200 || res.status > 299)
        throw new Error(`POST /v1/agents → ${res.status} ${res.text}`);
      return res.body as AgentCredentials;
    },
    async setSecret(name, value) {
      const res = await control("PUT", `/v1/secrets/${encodeURIComponent(name)}`, { value });
      if (res.status !== 204) throw new Error(`PUT /v1/secrets/${name} → ${res.status} ${res.text}`);
    },
    proxyUrl: (agent, token) =>
      `http://${encodeURIComponent(agent)}:${encodeURIComponent(token)}@${proxy.host}:${proxy.port}`,
    writePolicy,
    async restart() {
      const { code } = await stop("SIGTERM");
      if (code !== 0) throw new Error(`gateway exited with ${code} on SIGTERM before restart`);
      await launch();
    },
    stop,
    async cleanup() {
      if (!exited && child) {
        child.kill("SIGKILL");
        await exitPromise;
      }
      await rm(root, { recursive: true, force: true });
    },
  };
}
