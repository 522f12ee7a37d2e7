/**
 * Thin wrapper over the `docker` CLI for image builds. Only agents/docker-runtime.ts may import
 * dockerode, and `docker build` via the CLI gives us the daemon's own context handling and progress
 * output for free. Arguments are always passed as an array: no shell, no quoting bugs.
 */
import { spawn } from "node:child_process";

export interface DockerRunResult {
  code: number;
  /** Last lines of combined output, for error messages. */
  tail: string[];
}

export interface DockerRunOptions {
  cwd?: string;
  /** Receives each output line (stdout and stderr) as it arrives, without the trailing newline. */
  onLine?: (line: string) => void;
}

/** Docker CLI binary, found on PATH; the child inherits our environment (DOCKER_HOST etc.). */
export function dockerBinary(): string {
  return "docker";
}

/**
 * Runs `docker <args>` and resolves with its exit code; rejects only if the CLI cannot be started.
 * Output is split into lines so callers can forward build progress verbatim.
 */
export function runDocker(args: readonly string[], opts: DockerRunOptions = {}): Promise<DockerRunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(dockerBinary(), [...args], {
      cwd: opts.cwd,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const tail: string[] = [];
    const emit = (line: string) => {
      tail.push(line);
      if (tail.length > 40) tail.shift();
      opts.onLine?.(line);
    };
    for (const stream of [child.stdout, child.stderr]) {
      let partial = "";
      stream.setEncoding("utf8");
      stream.on("data", (chunk: string) => {
        const lines = (partial + chunk).split(/\r?\n/);
        partial = lines.pop() ?? "";
        for (const l of lines) if (l.trim()) emit(l);
      });
      stream.on("end", () => {
        if (partial.trim()) emit(partial);
        partial = "";
      });
    }
    child.on("error", reject);
    // "close" (not "exit") waits for the pipes to drain, so `tail` is complete.
    child.on("close", (code) => resolve({ code: code ?? 1, tail }));
  });
}

/** True when the CLI is installed and the daemon answers; used to decide whether builds can run. */
export async function dockerAvailable(): Promise<boolean> {
  try {
    const { code } = await runDocker(["version", "--format", "{{.Server.Version}}"]);
    return code === 0;
  } catch {
    return false;
  }
}
