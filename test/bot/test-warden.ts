/**
 * `warden start` in-process for end-to-end tests: runStart with loopback listeners on free ports, a
 * fresh WARDEN_HOME, a fixed master key, and the log and human lines kept for the test to read.
 * `close()` stops everything and removes the home.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runStart, type StartOptions } from "../../cli/start.js";
import { REPO } from "../agents/agent-world.js";

export type TestWardenOptions = Partial<
  Pick<
    StartOptions,
    | "telegram"
    | "slack"
    | "discord"
    | "whatsapp"
    | "chatSdk"
    | "matrix"
    | "email"
    | "x"
    | "imessage"
    | "databaseUrl"
    | "replicaId"
    | "kubernetes"
  >
> & { readonly listen?: StartOptions["listen"] };

/**
 * Starts Warden; `prefix` names its temporary home. With `home`, that directory is used and kept
 * on close (a restart test removes it itself).
 */
export async function startTestWarden(prefix: string, opts: TestWardenOptions & { home?: string } = {}) {
  const keep = opts.home !== undefined;
  const home = opts.home ?? (await mkdtemp(join(tmpdir(), `wdn-${prefix}-`)));
  const logs: string[] = [];
  const said: string[] = [];
  const loopback = { host: "127.0.0.1", port: 0 };
  try {
    const { home: _home, ...rest } = opts;
    const running = await runStart({
      ...rest,
      home,
      repoRoot: REPO,
      listen: opts.listen ?? loopback,
      control: loopback,
      web: loopback,
      masterKey: "e".repeat(64),
      agentEnv: {},
      log: (event, fields) => void logs.push(JSON.stringify({ event, ...fields })),
      say: (line) => void said.push(line),
    });
    return {
      ...running,
      home,
      logs,
      said,
      /** The one-time owner token (the end of the claim link), for `/start TOKEN` on a platform. */
      claimToken: /\/claim\/(\S+)$/.exec(running.claimUrl ?? "")?.[1] ?? "",
      async close(): Promise<void> {
        await running.close();
        if (!keep) await rm(home, { recursive: true, force: true });
      },
    };
  } catch (err) {
    if (!keep) await rm(home, { recursive: true, force: true });
    throw err;
  }
}
