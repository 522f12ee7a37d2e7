/**
 * Harness for container tests: an in-process gateway on loopback, the real agent image, the Docker
 * runtime and the agent manager, wired as `warden start` wires them. `requireDocker()` fails under CI
 * and skips (with the reason) elsewhere when no Docker engine answers.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createDockerRuntime } from "../../agents/docker-runtime.js";
import { gatewayPort } from "../../agents/gateway-port.js";
import { buildAgentImage } from "../../agents/image/build-image.js";
import { createAgentManager } from "../../agents/manager.js";
import { type Gateway, startGateway } from "../../gateway/index.js";

export const REPO = fileURLToPath(new URL("../../", import.meta.url));

/** Why Docker tests cannot run here, or undefined when they can. Under CI a missing engine throws. */
export function dockerUnavailable(): string | undefined {
  try {
    execFileSync("docker", ["info", "--format", "{{.ServerVersion}}"], { stdio: "pipe", timeout: 10_000 });
    return undefined;
  } catch (err) {
    const why = `Docker engine not reachable (${(err as Error).message.split("\n")[0]})`;
    if (process.env.CI) throw new Error(`${why}; CI must run Docker tests`);
    return why;
  }
}

export interface AgentWorld {
  readonly gateway: Gateway;
  readonly manager: ReturnType<typeof createAgentManager>;
  readonly runtime: ReturnType<typeof createDockerRuntime>;
  readonly home: string;
  readonly logs: string[];
  close(): Promise<void>;
}

/** Starts gateway + manager with the given policy files (name → YAML text). */
export async function startAgentWorld(opts: {
  policies: Record<string, string>;
  resolve?: Record<string, { host: string; port: number }>;
  upstreamCa?: string[];
}): Promise<AgentWorld> {
  const home = await mkdtemp(join(tmpdir(), "wdn-agents-"));
  const policiesDir = join(home, "policies");
  await mkdir(policiesDir);
  for (const [name, text] of Object.entries(opts.policies))
    await writeFile(join(policiesDir, `${name}.yaml`), text);
  const logs: string[] = [];
  const gateway = await startGateway({
    home,
    policiesDir,
    listen: { host: "127.0.0.1", port: 0 },
    control: { host: "127.0.0.1", port: 0 },
    resolve: new Map(Object.entries(opts.resolve ?? {})),
    upstreamCa: opts.upstreamCa,
    masterKey: randomBytes(32).toString("hex"),
    log: (event, fields) => void logs.push(JSON.stringify({ event, ...fields })),
    drainMs: 1000,
  });
  const image = await buildAgentImage({ repoRoot: REPO, runnerDir: join(REPO, "dist", "agents", "runner") });
  // A fresh instance per world: parallel test files never see (or clean up) each other's containers.
  const runtime = createDockerRuntime({ instance: `t${randomBytes(4).toString("hex")}` });
  const manager = createAgentManager({
    runtime,
    gateway: await gatewayPort(gateway),
    dir: join(home, "agents"),
    image: image.tag,
    log: (event, fields) => void logs.push(JSON.stringify({ event, ...fields })),
  });
  return {
    gateway,
    manager,
    runtime,
    home,
    logs,
    async close() {
      await manager.stopAll();
      await gateway.close();
      await rm(home, { recursive: true, force: true });
    },
  };
}
