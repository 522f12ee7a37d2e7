/**
 * Agent container figures for `npm run bench`: cold start of an agent container to ready (median
 * of several, image already built) and the idle memory of each running agent container, measured
 * with the real Docker runtime, agent manager and an in-process gateway on loopback.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createDockerRuntime } from "../agents/docker-runtime.js";
import { gatewayPort } from "../agents/gateway-port.js";
import { buildAgentImage } from "../agents/image/build-image.js";
import { createAgentManager } from "../agents/manager.js";
import { startGateway } from "../gateway/index.js";

export const median = (xs: number[]): number =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

/** Runs the agent benchmarks; report lines (or why they were skipped) and the cold-start median. */
export async function benchAgents(repoRoot: string, runs = 5): Promise<{ lines: string[]; coldMs?: number }> {
  try {
    execFileSync("docker", ["info"], { stdio: "ignore", timeout: 10_000 });
  } catch {
    return { lines: ["agent containers: skipped (no Docker engine answers)"] };
  }
  const home = await mkdtemp(join(tmpdir(), "wdn-bench-agents-"));
  await mkdir(join(home, "policies"));
  await writeFile(join(home, "policies", "none.yaml"), "hosts: [none.test]\nrules: []\n");
  const gateway = await startGateway({
    home,
    policiesDir: join(home, "policies"),
    listen: { host: "127.0.0.1", port: 0 },
    control: { host: "127.0.0.1", port: 0 },
    masterKey: randomBytes(32).toString("hex"),
    log: () => undefined,
  });
  const instance = `b${randomBytes(3).toString("hex")}`;
  const runtime = createDockerRuntime({ instance });
  try {
    process.stderr.write("bench: agent image… ");
    const image = await buildAgentImage({ repoRoot, runnerDir: join(repoRoot, "dist", "agents", "runner") });
    process.stderr.write(`${image.tag}\n`);
    const manager = createAgentManager({
      runtime,
      gateway: await gatewayPort(gateway),
      dir: join(home, "agents"),
      image: image.tag,
      idleStopMs: 0,
    });
    const starts: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t = performance.now();
      await manager.start(`cold${i}`, { provider: "demo" });
      starts.push(performance.now() - t);
      process.stderr.write(`bench: cold start ${i + 1}/${runs}: ${Math.round(starts.at(-1) ?? 0)} ms\n`);
      if (i < runs - 1) await manager.stop(`cold${i}`);
    }
    // Let the last three settle into their idle inbox long-poll before reading memory.
    await manager.start("idle1", { provider: "demo" });
    await manager.start("idle2", { provider: "demo" });
    await new Promise((r) => setTimeout(r, 3000));
    const stats = execFileSync(
      "docker",
      [
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}} {{.MemUsage}}",
        ...["cold", "idle1", "idle2"].map((n, i) => `warden-${instance}-${i === 0 ? `cold${runs - 1}` : n}`),
      ],
      { encoding: "utf8" },
    );
    const mib = stats
      .trim()
      .split("\n")
      .map((l) => /\s([\d.]+)(MiB|GiB|KiB)/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]) * (m[2] === "GiB" ? 1024 : m[2] === "KiB" ? 1 / 1024 : 1));
    await manager.stopAll();
    return {
      coldMs: median(starts),
      lines: [
        `agent cold start to ready (demo provider, image cached): median ${Math.round(median(starts))} ms of ${runs} (min ${Math.round(Math.min(...starts))}, max ${Math.round(Math.max(...starts))})`,
        `agent idle memory per container: median ${median(mib).toFixed(1)} MiB (${mib.map((m) => m.toFixed(1)).join(", ")} MiB)`,
      ],
    };
  } catch (err) {
    return { lines: [`agent containers: failed (${(err as Error).message.split("\n")[0]})`] };
  } finally {
    await runtime.cleanupOrphans().catch(() => 0);
    await gateway.close();
    await rm(home, { recursive: true, force: true });
  }
}
