/**
 * SQLite under the `Sql` seam: the only file that imports better-sqlite3. One file, WAL mode. Calls
 * run synchronously underneath (microseconds each); one connection serves one process, so a
 * transaction holds a queue that every other statement of that connection waits behind, or it
 * would run inside the transaction. Notifications stay in the process: one process per file.
 */
import { EventEmitter } from "node:events";
import { resolve } from "node:path";
import Database from "better-sqlite3";
import { createSqlStore } from "./sql-store.js";
import type { Sql, SqlValue } from "./sql.js";
import type { Store } from "./store.js";

/**
 * Opens a connection to the SQLite file with Warden's settings (WAL, busy timeout). Exported so the
 * bot keeps its own tables in the same warden.db while this stays the only better-sqlite3 importer.
 */
export function openDatabase(path: string): Database.Database {
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.pragma("busy_timeout = 5000");
  return db;
}

const drivers = new WeakMap<Database.Database, Sql>();

/** The `Sql` seam over an open connection; one per connection, so every user shares its queue. */
export function sqliteSql(db: Database.Database): Sql {
  const known = drivers.get(db);
  if (known) return known;
  const statements = new Map<string, Database.Statement>();
  const prepare = (text: string): Database.Statement => {
    let s = statements.get(text);
    if (!s) {
      s = db.prepare(text);
      statements.set(text, s);
    }
    return s;
  };
  const args = (p: readonly SqlValue[]) => p as unknown[];
  const events = new EventEmitter().setMaxListeners(0);
  // The connection's queue: a transaction's turn lasts until it commits or rolls back.
  let tail: Promise<unknown> = Promise.resolve();
  let busy = false;
  const queued = <T>(fn: () => T | Promise<T>): Promise<T> => {
    const run = tail.then(fn);
    tail = run.catch(() => undefined);
    return run;
  };
  // Outside a transaction a statement runs at once; during one it waits its turn (checked when it
  // runs, not when it was asked for, since a transaction may have begun in between).
  const now = <T>(fn: () => Promise<T>): Promise<T> =>
    Promise.resolve().then(() => (busy ? queued(fn) : fn()));

  const inside: Sql = {
    dialect: "sqlite",
    get: async <T>(text: string, p: readonly SqlValue[] = []) =>
      prepare(text).get(...args(p)) as T | undefined,
    all: async <T>(text: string, p: readonly SqlValue[] = []) => prepare(text).all(...args(p)) as T[],
    run: async (text, p = []) => {
      const s = prepare(text);
      return { changes: s.reader ? s.all(...args(p)).length : s.run(...args(p)).changes };
    },
    exec: async (text) => void db.exec(text),
    tx: (fn) => fn(inside), // already inside one: SQLite has no nested BEGIN
    notify: async (topic, message) => void setImmediate(() => events.emit(topic, message)),
    listen: (topic, handler) => {
      events.on(topic, handler);
      return () => void events.off(topic, handler);
    },
    close: async () => undefined,
  };
  const sql: Sql = {
    ...inside,
    get: <T>(text: string, p?: readonly SqlValue[]) => now(() => inside.get<T>(text, p)),
    all: <T>(text: string, p?: readonly SqlValue[]) => now(() => inside.all<T>(text, p)),
    run: (text, p) => now(() => inside.run(text, p)),
    exec: (text) => now(() => inside.exec(text)),
    tx: (fn) =>
      queued(async () => {
        busy = true;
        db.exec("BEGIN IMMEDIATE");
        try {
          const out = await fn(inside);
          db.exec("COMMIT");
          return out;
        } catch (err) {
          if (db.inTransaction) db.exec("ROLLBACK");
          throw err;
        } finally {
          busy = false;
        }
      }),
    close: () =>
      queued(() => {
        events.removeAllListeners();
        if (db.open) db.close();
      }),
  };
  drivers.set(db, sql);
  return sql;
}

const shared = new Map<string, { sql: Sql; refs: number }>();

/**
 * The `Sql` seam on the file at `path`, shared by everyone in this process who opens that file (the
 * gateway's store and the bot's): one connection, one queue. Two connections in one process would
 * deadlock, since a transaction now spans awaits and SQLite's lock wait blocks the event loop the
 * other transaction needs to finish. Each opener gets its own `close()`; the last one closes the file.
 * ":memory:" is always a new database.
 */
export function openSqliteSql(path: string): Sql {
  if (path === ":memory:") return sqliteSql(openDatabase(path));
  const key = resolve(path);
  let entry = shared.get(key);
  if (!entry) {
    entry = { sql: sqliteSql(openDatabase(key)), refs: 0 };
    shared.set(key, entry);
  }
  const e = entry;
  e.refs++;
  let closed = false;
  return {
    ...e.sql,
    close: async () => {
      if (closed) return;
      closed = true;
      if (--e.refs > 0) return;
      shared.delete(key);
      await e.sql.close();
    },
  };
}

/** Opens (creating if needed) the store at `path`; ":memory:" for tests. */
export function openSqliteStore(path: string): Store {
  return createSqlStore(openSqliteSql(path));
}
