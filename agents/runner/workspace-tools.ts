/**
 * Shell and file tools for brains. The container is the sandbox (read-only root, no network, no
 * capabilities); these tools add a narrower fence for the model's file calls: paths are resolved,
 * symlinks followed, and anything that lands outside the workspace or /tmp is refused, so a prompt
 * like "read ../../etc/passwd" fails plainly instead of depending on file permissions. The shell runs
 * in the workspace with a timeout; it is not path-confined (a shell cannot be), the container is.
 */
import { spawn } from "node:child_process";
import { mkdir, open, realpath, writeFile } from "node:fs/promises";
import { basename, dirname, isAbsolute, relative, resolve, sep } from "node:path";
import type { ShellResult, Tools } from "./brain.js";
import { RunnerError } from "./errors.js";

/** Options for {@link createWorkspaceTools}. */
export interface WorkspaceToolsOptions {
  /** Working directory and first allowed root (`/workspace` in containers). */
  readonly workspace: string;
  /** Other allowed roots; default `["/tmp"]`. */
  readonly extraRoots?: readonly string[];
  readonly shellTimeoutMs?: number;
  /** Per stream (stdout, stderr) for the shell; default 32 KB. */
  readonly maxOutputBytes?: number;
  /** readFile returns at most this much; default 1 MB. */
  readonly maxFileBytes?: number;
}

/** Builds `shell`, `readFile` and `writeFile` confined to the workspace and /tmp. */
export function createWorkspaceTools(
  options: WorkspaceToolsOptions,
): Pick<Tools, "shell" | "readFile" | "writeFile"> {
  const { workspace, extraRoots = ["/tmp"], shellTimeoutMs = 60_000 } = options;
  const { maxOutputBytes = 32 * 1024, maxFileBytes = 1024 * 1024 } = options;
  const roots = [workspace, ...extraRoots];

  return {
    shell: (command) => runShell(command, workspace, shellTimeoutMs, maxOutputBytes),
    async readFile(path) {
      const file = await open(await confinePath(path, { base: workspace, roots }), "r");
      try {
        const buffer = Buffer.alloc(maxFileBytes + 1);
        const { bytesRead } = await file.read(buffer, 0, buffer.length, 0);
        const text = buffer.subarray(0, Math.min(bytesRead, maxFileBytes)).toString("utf8");
        return bytesRead > maxFileBytes ? `${text}\n…[truncated at ${maxFileBytes} bytes]` : text;
      } finally {
        await file.close();
      }
    },
    async writeFile(path, content) {
      const target = await confinePath(path, { base: workspace, roots });
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, content);
    },
  };
}

/**
 * Resolves `path` against `base` and returns its real location, or throws `path_outside_workspace`
 * when that location (after following symlinks of the longest existing prefix) is under no root.
 */
export async function confinePath(
  path: string,
  { base, roots }: { readonly base: string; readonly roots: readonly string[] },
): Promise<string> {
  const wanted = resolve(base, path);
  const real = await realOrNearest(wanted);
  const realRoots = await Promise.all(roots.map((r) => realOrNearest(resolve(r))));
  if (!realRoots.some((root) => inside(real, root))) {
    throw new RunnerError("path_outside_workspace", `${path} is outside ${roots.join(" and ")}; refused`);
  }
  return real;
}

function inside(path: string, root: string): boolean {
  const rel = relative(root, path);
  return rel === "" || (!rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel));
}

/** realpath of the longest existing prefix, with the missing tail appended (for files to create). */
async function realOrNearest(path: string): Promise<string> {
  let head = path;
  const tail: string[] = [];
  for (;;) {
    try {
      return resolve(await realpath(head), ...tail);
    } catch {
      const parent = dirname(head);
      if (parent === head) return path;
      tail.unshift(basename(head));
      head = parent;
    }
  }
}

function runShell(command: string, cwd: string, timeoutMs: number, maxBytes: number): Promise<ShellResult> {
  return new Promise((done, fail) => {
    // Own process group, so a timeout kills what the command started too, not just /bin/sh.
    const child = spawn("/bin/sh", ["-c", command], {
      cwd,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const out = { stdout: [] as Buffer[], stderr: [] as Buffer[], size: { stdout: 0, stderr: 0 } };
    let truncated = false;
    let timedOut = false;
    for (const name of ["stdout", "stderr"] as const) {
      child[name].on("data", (chunk: Buffer) => {
        const room = maxBytes - out.size[name];
        if (chunk.length > room) truncated = true;
        if (room <= 0) return;
        out[name].push(chunk.subarray(0, room));
        out.size[name] += Math.min(room, chunk.length);
      });
    }
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid);
      // A daemon that escaped the group may still hold the pipes open; stop waiting for it.
      setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
      }, 1_000).unref();
    }, timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      fail(err);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      const text = (parts: Buffer[]) => Buffer.concat(parts).toString("utf8");
      done({ exitCode: code, stdout: text(out.stdout), stderr: text(out.stderr), timedOut, truncated });
    });
  });
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // already gone
  }
}
