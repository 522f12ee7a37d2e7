/**
 * Process plumbing for the test cluster: free loopback ports, daemons started in their own process
 * group with their output in a log file, group-wide stop (TERM, then KILL), polling, and removal of
 * a scratch dir the kubelet and dockerd have mounted tmpfs/overlay filesystems into. Every process
 * here is one the fixture started; nothing is killed by name.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { openSync, readFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";

/** A free TCP port on `host` (127.0.0.1, or the Pod bridge's address for a gateway Pods reach). */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, host, r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

export interface Daemon {
  readonly name: string;
  readonly child: ChildProcess;
  readonly log: string;
  /** Last lines of its log, for error messages. */
  tail(lines?: number): string;
  exited(): boolean;
}

const live = new Set<Daemon>();
// If the test worker dies without afterAll, do not leave etcd/apiserver/kubelet/dockerd behind.
process.once("exit", () => {
  for (const d of live) killGroup(d, "SIGKILL");
});

function killGroup(d: Daemon, signal: NodeJS.Signals): void {
  if (d.child.pid === undefined) return;
  try {
    process.kill(-d.child.pid, signal);
  } catch {
    // already gone
  }
}

/** Starts `cmd` detached (its own process group), stdout+stderr appended to `<logDir>/<name>.log`. */
export function startDaemon(name: string, cmd: string, args: string[], logDir: string): Daemon {
  const log = join(logDir, `${name}.log`);
  const fd = openSync(log, "a");
  const child = spawn(cmd, args, { detached: true, stdio: ["ignore", fd, fd] });
  let done = false;
  child.once("exit", () => {
    done = true;
  });
  child.once("error", () => {
    done = true;
  });
  const d: Daemon = {
    name,
    child,
    log,
    tail: (lines = 25) => {
      try {
        return readFileSync(log, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
      } catch {
        return "";
      }
    },
    exited: () => done,
  };
  live.add(d);
  return d;
}

/** TERM the daemon's process group, KILL it after `graceMs`; resolves once the leader has exited. */
export async function stopDaemon(d: Daemon, graceMs = 10_000): Promise<void> {
  if (!d.exited()) {
    const gone = new Promise<void>((r) => d.child.once("exit", () => r()));
    killGroup(d, "SIGTERM");
    const timer = setTimeout(() => killGroup(d, "SIGKILL"), graceMs);
    await Promise.race([gone, new Promise((r) => setTimeout(r, graceMs + 5_000))]);
    clearTimeout(timer);
  }
  killGroup(d, "SIGKILL"); // stragglers left in the group
  live.delete(d);
}

/** Polls `check` until it returns a value (not undefined) or `timeoutMs` passes. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs: number,
  context: () => string = () => "",
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (${last})` : ""}\n${context()}`,
  );
}

/** Mount points at or below `dir`, deepest first (from /proc/self/mountinfo). */
function mountsUnder(dir: string): string[] {
  let info = "";
  try {
    info = readFileSync("/proc/self/mountinfo", "utf8");
  } catch {
    return [];
  }
  return info
    .split("\n")
    .map((l) => (l.split(" ")[4] ?? "").replace(/\\040/g, " "))
    .filter((m) => m === dir || m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

/**
 * Removes the scratch dir. The kubelet mounts tmpfs (projected tokens) and dockerd overlay/netns
 * files inside it: unmount those first, lazily, so rm never walks into (or fails on) a live mount.
 */
export async function removeScratch(dir: string): Promise<void> {
  for (const m of mountsUnder(dir)) {
    try {
      execFileSync("umount", ["-l", m], { stdio: "ignore" });
    } catch {
      // not ours to unmount or already gone
    }
  }
  await rm(dir, { recursive: true, force: true, maxRetries: 3 });
}
