/**
 * Process plumbing for the benchmark: free ports, waiting for a listener, stopping children,
 * reading a process's memory, and installing a missing Debian package with apt-get.
 */
import { type ChildProcess, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import net from "node:net";

/** `VmRSS` and `VmHWM` (peak) of a process, e.g. "61 MB (peak 75 MB)". */
export function rss(pid: number): string {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (field: string) =>
      Number(new RegExp(`^${field}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? Number.NaN);
    return `${Math.round(kb("VmRSS") / 1024)} MB (peak ${Math.round(kb("VmHWM") / 1024)} MB)`;
  } catch {
    return "unknown (process gone)";
  }
}

/** CPU time (user + system, all threads) a process has used so far, ms; NaN once it is gone. */
export function cpuMs(pid: number): number {
  try {
    // Fields after "(comm) ": state is [0], utime [11], stime [12], in clock ticks (100 Hz on Linux).
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return Number.NaN;
  }
}

export const cleanEnv = (): NodeJS.ProcessEnv => {
  const env = { ...process.env };
  for (const key of Object.keys(env)) {
    if (/^(https?_proxy|no_proxy|all_proxy|node_options|warden_master_key)$/i.test(key)) delete env[key];
  }
  return env;
};

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function tail(file: string, lines = 8): string {
  try {
    const text = readFileSync(file, "utf8").trim();
    return text ? text.split("\n").slice(-lines).join("\n") : "(empty)";
  } catch {
    return "(no log)";
  }
}

/** Resolves once `port` accepts connections; rejects if `child` exits first or time runs out. */
export async function waitForPort(
  port: number,
  child: ChildProcess,
  logs: readonly string[],
  timeoutMs = 30_000,
): Promise<void> {
  const log = () => logs.map((f) => `${f}:\n${tail(f)}`).join("\n");
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`exited (${child.exitCode ?? child.signalCode}) before listening; ${log()}`);
    }
    const open = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: "127.0.0.1", port }, () => {
        s.destroy();
        resolve(true);
      });
      s.on("error", () => resolve(false));
    });
    if (open) return;
    await sleep(200);
  }
  throw new Error(`not listening on ${port} after ${timeoutMs / 1000} s; ${log()}`);
}

export function stopper(child: ChildProcess, signal: NodeJS.Signals = "SIGTERM"): () => Promise<void> {
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  };
}

export const runsAsRoot = () => process.getuid?.() === 0;

/**
 * Makes `check()` true by installing Debian package `pkg` when it is not; returns why not, if not.
 * Prints a progress message first, because an install can take minutes.
 */
export function ensurePackage(pkg: string, check: () => boolean): string | undefined {
  if (check()) return undefined;
  const sudo = runsAsRoot()
    ? []
    : spawnSync("sudo", ["-n", "true"]).status === 0
      ? ["sudo", "-n"]
      : undefined;
  if (!sudo)
    return `${pkg} is not installed and this user cannot apt-get install it (run: sudo apt-get install ${pkg})`;
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const apt = (...args: string[]) => {
    const [cmd, ...rest] = [...sudo, "apt-get", ...args];
    return spawnSync(cmd!, rest, { env, encoding: "utf8", timeout: 900_000 });
  };
  const started = Date.now();
  console.error(`bench: ${pkg} is missing; installing it with apt-get (one-time, may take a few minutes)…`);
  let result = apt("install", "-y", "-q", "--no-install-recommends", pkg);
  if (result.status !== 0) {
    console.error(
      `bench: apt-get install ${pkg} failed; refreshing package lists (apt-get update) and retrying…`,
    );
    apt("update", "-q");
    result = apt("install", "-y", "-q", "--no-install-recommends", pkg);
  }
  if (result.status !== 0 || !check()) {
    const why = `${result.stderr ?? ""}${result.error?.message ?? ""}`
      .trim()
      .split("\n")
      .slice(-3)
      .join(" / ");
    return `apt-get install ${pkg} failed: ${why || `exit ${result.status}`}`;
  }
  console.error(`bench: installed ${pkg} in ${Math.round((Date.now() - started) / 1000)} s`);
  return undefined;
}
