/**
 * Builds the offline agent image for real and runs it under the same lockdown the runtime uses
 * (no network, read-only root, uid 1000, no capabilities). Needs a Docker daemon: without one the
 * suite skips locally, but under CI it fails, because a silently skipped image test hides breakage.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AGENT_IMAGE, buildAgentImage } from "./build-image.js";
import { dockerBinary } from "./docker-cli.js";
import { parseLddOutput } from "./host-files.js";

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
const realRunner = path.join(repoRoot, "dist", "agents", "runner");
const dockerUp = spawnSync(dockerBinary(), ["version", "--format", "{{.Server.Version}}"]).status === 0;
const inCi = Boolean(process.env.CI);
const skip = !dockerUp && !inCi;
const reason = skip ? " [skipped: no Docker daemon reachable and CI is not set]" : "";
if (skip) console.warn(`agents/image: ${reason.trim()}`);

function docker(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(dockerBinary(), args, { encoding: "utf8", timeout: 120_000 });
  return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

const LOCKDOWN = ["--rm", "--network", "none", "--read-only", "--user", "1000:1000", "--cap-drop", "ALL"];
const NO_NEW_PRIVS = ["--security-opt", "no-new-privileges"];

describe("parseLddOutput", () => {
  it("reads arrow lines and the bare loader line, skips the vDSO", () => {
    const out = [
      "\tlinux-vdso.so.1 (0x00007ffd)",
      "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f00)",
      "\t/lib64/ld-linux-x86-64.so.2 (0x00007f01)",
    ].join("\n");
    expect(parseLddOutput(out, "x")).toEqual([
      "/lib/x86_64-linux-gnu/libc.so.6",
      "/lib64/ld-linux-x86-64.so.2",
    ]);
  });

  it("refuses a missing library", () => {
    expect(() => parseLddOutput("\tlibgone.so.1 => not found\n", "/usr/bin/x")).toThrow(/libgone/);
  });
});

describe("buildAgentImage", () => {
  let runnerDir = realRunner;
  let fakeDir: string | undefined;
  let tag = "";

  beforeAll(async () => {
    // The lead's tsc may not have produced the runner yet; a stub proves the entrypoint wiring.
    if (!existsSync(path.join(realRunner, "main.js"))) {
      fakeDir = await mkdtemp(path.join(tmpdir(), "warden-fake-runner-"));
      const main =
        'import process from "node:process";\nprocess.stdout.write(\'{"event":"runner_ready"}\\n\');\n';
      await writeFile(path.join(fakeDir, "main.js"), main);
      runnerDir = fakeDir;
    }
  });

  afterAll(async () => {
    if (fakeDir) await rm(fakeDir, { recursive: true, force: true });
  });

  it.skipIf(skip)(
    `builds, runs locked down, then reports cached${reason}`,
    { timeout: 300_000 },
    async () => {
      if (!dockerUp)
        throw new Error("CI is set but no Docker daemon is reachable: the agent image cannot be tested");
      const lines: string[] = [];
      const first = await buildAgentImage({ repoRoot, runnerDir, onProgress: (l) => lines.push(l) });
      tag = first.tag;
      expect(tag).toMatch(/^warden-agent:[0-9a-f]{12}$/);
      expect(lines[0]).toMatch(/^collecting files \(\d+\)$/);
      expect(lines.at(-1)).toMatch(/^done in \d+(\.\d+)?s$/);
      if (!first.cached) expect(lines).toContain("building image");

      const script = [
        "id -un",
        "git --version",
        "curl --version | head -1",
        'node -e "console.log(process.version)"',
        "ls /etc/ssl/certs/ca-certificates.crt",
      ].join("; ");
      const run = docker(["run", ...LOCKDOWN, ...NO_NEW_PRIVS, "--entrypoint", "/bin/sh", tag, "-c", script]);
      expect(run.stderr).toBe("");
      expect(run.status).toBe(0);
      const out = run.stdout.trim().split("\n");
      expect(out[0]).toBe("agent");
      expect(out[1]).toMatch(/^git version \d/);
      expect(out[2]).toMatch(/^curl \d/);
      expect(out[3]).toBe(process.version);
      expect(out[4]).toBe("/etc/ssl/certs/ca-certificates.crt");

      // Default entrypoint + user + workdir, with the writable bits the runtime provides (tmpfs /tmp).
      const env = docker([
        "run",
        ...LOCKDOWN,
        "--tmpfs",
        "/tmp",
        "--entrypoint",
        "/bin/bash",
        tag,
        "-c",
        'echo "$HOME $(pwd) $(id -u):$(id -g)"; mktemp -p /tmp >/dev/null && echo tmp-ok; git init -q /tmp/r && echo git-ok',
      ]);
      expect(env.stdout.trim().split("\n")).toEqual(["/workspace /workspace 1000:1000", "tmp-ok", "git-ok"]);
      if (fakeDir) expect(docker(["run", ...LOCKDOWN, tag]).stdout.trim()).toBe('{"event":"runner_ready"}');

      const second = await buildAgentImage({ repoRoot, runnerDir });
      expect(second).toEqual({ tag, cached: true });
      const ids = [tag, AGENT_IMAGE].map((t) =>
        docker(["image", "inspect", "--format", "{{.Id}}", t]).stdout.trim(),
      );
      expect(ids[0]).toBe(ids[1]);
    },
  );
});
