/**
 * PostgreSQL under the `Sql` seam: the only file that imports `pg`. A pool for statements and
 * transactions (each transaction on one pooled client, serialised across every replica by a
 * transaction-scoped advisory lock when it names one), and one dedicated client for LISTEN that
 * reconnects by itself. Integers come back as numbers (bigint and numeric are Warden's times,
 * sequence numbers and sums, all far below 2^53).
 */
import pg from "pg";
import type { Sql, SqlValue } from "../sql.js";

export interface PgOptions {
  /** postgres://… (WARDEN_DATABASE_URL). */
  readonly url: string;
  /** Pool size; default 10. */
  readonly max?: number;
  /** Told when the LISTEN connection drops or comes back (no secrets: the URL is never logged). */
  readonly log?: (event: string, fields: Record<string, unknown>) => void;
}

const INT8 = 20;
const NUMERIC = 1700;
const types = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === INT8 || oid === NUMERIC
      ? (v: string) => Number(v)
      : pg.types.getTypeParser(oid, format as "text")) as typeof pg.types.getTypeParser,
};

/** `?` placeholders numbered as `$1, $2, …` (none of Warden's statements has a `?` in a literal). */
export function numbered(text: string): string {
  let n = 0;
  return text.replace(/\?/g, () => `$${++n}`);
}

type Queryable = Pick<pg.PoolClient, "query">;

function over(q: Queryable): Pick<Sql, "get" | "all" | "run" | "exec"> {
  const query = async <T>(text: string, p: readonly SqlValue[] = []) =>
    q.query<T & pg.QueryResultRow>(numbered(text), p as unknown[]);
  return {
    get: async <T>(text: string, p?: readonly SqlValue[]) =>
      (await query<T>(text, p)).rows[0] as T | undefined,
    all: async <T>(text: string, p?: readonly SqlValue[]) => (await query<T>(text, p)).rows as T[],
    run: async (text, p) => {
      const r = await query(text, p);
      return { changes: r.command === "SELECT" ? r.rows.length : (r.rowCount ?? 0) };
    },
    exec: async (text) => void (await q.query(text)),
  };
}

/** Connects (checking the URL works) and returns the seam over a pool. */
export async function openPostgresSql(opts: PgOptions): Promise<Sql> {
  const log = opts.log ?? (() => undefined);
  const pool = new pg.Pool({ connectionString: opts.url, max: opts.max ?? 10, types });
  // An idle client that errors (server restart) is dropped by the pool; without a listener the
  // error would be thrown as an uncaught exception.
  pool.on("error", () => undefined);
  await pool.query("SELECT 1");
  const handlers = new Map<string, Set<(m: string) => void>>();
  let listener: pg.Client | undefined;
  let closed = false;
  // LISTENs not yet confirmed: a notify waits for them, so a process hears its own notifications.
  let listening: Promise<unknown> = Promise.resolve();

  async function connectListener(): Promise<void> {
    if (closed) return;
    const c = new pg.Client({ connectionString: opts.url, types });
    c.on("notification", (n) => {
      for (const h of handlers.get(n.channel) ?? []) h(n.payload ?? "");
    });
    c.on("error", () => undefined);
    c.on("end", () => {
      if (listener !== c || closed) return;
      listener = undefined;
      log("store_listen_lost", {});
      setTimeout(() => void connectListener().catch(() => undefined), 500).unref();
    });
    try {
      await c.connect();
      for (const channel of handlers.keys()) await c.query(`LISTEN ${channel}`);
      listener = c;
    } catch {
      await c.end().catch(() => undefined);
      setTimeout(() => void connectListener().catch(() => undefined), 1000).unref();
    }
  }
  await connectListener();

  const sql: Sql = {
    dialect: "postgres",
    ...over(pool),
    async tx(fn, lock) {
      const client = await pool.connect();
      try {
        await client.query("BEGIN");
        if (lock) await client.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`warden:${lock}`]);
        const inside: Sql = { ...sql, ...over(client), tx: (inner) => inner(inside) };
        const out = await fn(inside);
        await client.query("COMMIT");
        return out;
      } catch (err) {
        await client.query("ROLLBACK").catch(() => undefined);
        throw err;
      } finally {
        client.release();
      }
    },
    notify: async (channel, message) => {
      await listening;
      await pool.query("SELECT pg_notify($1, $2)", [channel, message]);
    },
    listen(channel, handler) {
      let set = handlers.get(channel);
      if (!set) {
        set = new Set();
        handlers.set(channel, set);
        // Channel names come from channelOf(): plain identifiers, safe to put in the statement.
        const issued = listener?.query(`LISTEN ${channel}`).catch(() => undefined);
        listening = Promise.all([listening, issued]);
      }
      set.add(handler);
      return () => void set.delete(handler);
    },
    async close() {
      closed = true;
      await listener?.end().catch(() => undefined);
      await pool.end().catch(() => undefined);
    },
  };
  return sql;
}
