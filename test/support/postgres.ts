/**
 * A throwaway PostgreSQL for the tests: Debian's server binaries, a fresh cluster in a temp dir,
 * listening on 127.0.0.1 only (fsync off), trust auth for role `warden`. Each test file gets its own
 * cluster or, with `schema()`, its own schema in one. With CI set a missing server fails the run;
 * otherwise the caller skips with the reason.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TestPostgres {
  /** postgres://warden@127.0.0.1:PORT/postgres */
  readonly url: string;
  /** A URL whose connections use a fresh schema of their own (search_path), created now. */
  schema(name?: string): Promise<string>;
  stop(): Promise<void>;
}

/** The newest installed server's bin directory, or why there is none. */
export function postgresBin(): { bin: string } | { missing: string } {
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions)
    if (existsSync(join(root, v, "bin", "initdb"))) return { bin: join(root, v, "bin") };
  return { missing: "PostgreSQL server binaries (apt-get install postgresql) are not installed" };
}

/** Undefined when PostgreSQL can run here; else the reason to skip (throws with CI set). */
export function postgresUnavailable(): string | undefined {
  const b = postgresBin();
  if ("bin" in b) return undefined;
  if (process.env.CI) throw new Error(`CI: ${b.missing}`);
  return b.missing;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export async function startPostgres(): Promise<TestPostgres> {
  const b = postgresBin();
  if (!("bin" in b)) throw new Error(b.missing);
  const dir = mkdtempSync(join(tmpdir(), "warden-pg-"));
  chmodSync(dir, 0o777);
  const data = join(dir, "data");
  // initdb and postgres refuse to run as root: run them as the `postgres` system user then.
  const asRoot = process.getuid?.() === 0;
  const run = (cmd: string, args: string[]) => {
    const r = asRoot
      ? spawnSync("runuser", ["-u", "postgres", "--", cmd, ...args], { encoding: "utf8" })
      : spawnSync(cmd, args, { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr || r.stdout}`);
  };
  const port = await freePort();
  run(join(b.bin, "initdb"), [
    "-D",
    data,
    "-U",
    "warden",
    "--auth=trust",
    "-E",
    "UTF8",
    "--no-sync",
    "-A",
    "trust",
  ]);
  const opts = `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`;
  run(join(b.bin, "pg_ctl"), ["-D", data, "-l", join(dir, "pg.log"), "-w", "-t", "30", "-o", opts, "start"]);
  const url = `postgres://warden@127.0.0.1:${port}/postgres`;
  let n = 0;
  return {
    url,
    async schema(name = `t${process.pid}_${++n}`) {
      const pg = (await import("pg")).default;
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      await c.query(`CREATE SCHEMA IF NOT EXISTS ${name}`);
      await c.end();
      return `${url}?options=${encodeURIComponent(`-c search_path=${name}`)}`;
    },
    async stop() {
      try {
        run(join(b.bin, "pg_ctl"), ["-D", data, "-m", "immediate", "-w", "stop"]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
