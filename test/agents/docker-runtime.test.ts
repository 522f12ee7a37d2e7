/**
 * The Docker runtime against the shared Runtime contract, with the real agent image, plus the exact
 * isolation settings every agent container gets.
 */
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { containerConfig, createDockerRuntime } from "../../agents/docker-runtime.js";
import { buildAgentImage } from "../../agents/image/build-image.js";
import { DEFAULT_LIMITS } from "../../agents/runtime.js";
import { runtimeContract } from "../contracts/runtime.contract.js";
import { dockerUnavailable, REPO } from "./agent-world.js";

const unavailable = dockerUnavailable();

describe("containerConfig()", () => {
  it("gives every agent container no network, a read-only root, no capabilities and limits", () => {
    const c = containerConfig({
      name: "a1",
      provider: "demo",
      image: "img",
      socketDir: "/s",
      workspaceDir: "/w",
      env: { X: "1" },
      limits: { memoryMb: 256, cpus: 0.5, pids: 64 },
    });
    expect(c.User).toBe("1000:1000");
    expect(c.Labels).toMatchObject({ "warden.agent": "a1" });
    expect(c.HostConfig).toMatchObject({
      NetworkMode: "none",
      ReadonlyRootfs: true,
      CapDrop: ["ALL"],
      SecurityOpt: ["no-new-privileges"],
      Memory: 256 * 1024 * 1024,
      NanoCpus: 500_000_000,
      PidsLimit: 64,
      Binds: ["/s:/run/warden:ro", "/w:/workspace:rw"],
    });
    expect(c.HostConfig?.Tmpfs?.["/tmp"]).toContain("noexec");
    expect(c.Env).toEqual(["X=1"]);
  });
});

describe.skipIf(unavailable)(`DockerRuntime${unavailable ? ` (skipped: ${unavailable})` : ""}`, () => {
  runtimeContract("docker", async () => {
    // A runner with no gateway socket still reports ready (it logs that it has no forwarder).
    const image = await buildAgentImage({
      repoRoot: REPO,
      runnerDir: join(REPO, "dist", "agents", "runner"),
    });
    const dir = await mkdtemp(join(tmpdir(), "wdn-rt-"));
    return {
      runtime: createDockerRuntime({ instance: `c${randomBytes(4).toString("hex")}` }),
      spec: async (name) => {
        const socketDir = join(dir, name, "run");
        const workspaceDir = join(dir, name, "ws");
        await mkdir(socketDir, { recursive: true });
        await mkdir(workspaceDir, { recursive: true });
        return {
          name,
          provider: "demo",
          image: image.tag,
          socketDir,
          workspaceDir,
          env: {},
          limits: DEFAULT_LIMITS,
        };
      },
    };
  });
});
