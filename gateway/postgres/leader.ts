/**
 * Leader election among replicas on one PostgreSQL: whoever holds a session-level advisory lock on
 * its own connection leads. The lock goes with the session, so a leader that dies (its connection
 * closes) frees it at once, and the others, trying every `retryMs`, take over within seconds. A
 * leader pings its connection every `pingMs` and steps down the moment a ping fails or times out,
 * so a replica cut off from the database stops its consumers before another may start them.
 * (Advisory session locks need a direct connection, not a transaction-pooling proxy in between.)
 */
import pg from "pg";
import { type Leadership, leaderState } from "../leadership.js";

export interface ElectionOptions {
  readonly url: string;
  readonly log?: (event: string, fields: Record<string, unknown>) => void;
  readonly retryMs?: number;
  readonly pingMs?: number;
}

const LOCK = "warden:leader";

export async function electLeader(opts: ElectionOptions): Promise<Leadership> {
  const log = opts.log ?? (() => undefined);
  const retryMs = opts.retryMs ?? 2000;
  const pingMs = opts.pingMs ?? 2000;
  const state = leaderState(false);
  let client: pg.Client | undefined;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const drop = (why: string): void => {
    if (state.get()) log("leader_lost", { why });
    state.set(false);
    const c = client;
    client = undefined;
    void c?.end().catch(() => undefined);
  };
  const withTimeout = <T>(p: Promise<T>, ms: number): Promise<T> =>
    Promise.race([
      p,
      new Promise<T>((_, reject) => setTimeout(() => reject(new Error("timeout")), ms).unref()),
    ]);

  async function step(): Promise<void> {
    if (closed) return;
    try {
      if (!client) {
        const c = new pg.Client({ connectionString: opts.url, keepAlive: true });
        c.on("error", () => drop("connection error"));
        c.on("end", () => client === c && drop("connection closed"));
        await withTimeout(c.connect(), 5000);
        client = c;
      }
      if (state.get()) {
        await withTimeout(client.query("SELECT 1"), pingMs);
      } else {
        const r = await withTimeout(
          client.query<{ ok: boolean }>("SELECT pg_try_advisory_lock(hashtext($1)) AS ok", [LOCK]),
          5000,
        );
        if (r.rows[0]?.ok) {
          state.set(true);
          log("leader_elected", {});
        }
      }
    } catch {
      drop("database unreachable");
    }
    if (!closed) timer = setTimeout(() => void step(), state.get() ? pingMs : retryMs);
    timer?.unref();
  }
  await step();

  return {
    isLeader: () => state.get(),
    onChange: (fn) => state.onChange(fn),
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      state.set(false);
      await client?.end().catch(() => undefined);
      client = undefined;
    },
  };
}
