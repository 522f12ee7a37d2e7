/**
 * The one seam under both stores: a few async SQL calls that SQLite (`sqlite-store.ts`,
 * better-sqlite3) and PostgreSQL (`postgres/pg-sql.ts`, pg) each implement, so the gateway's store
 * and the bot's store are written once, in hand-written SQL, and behave the same on both. Statements
 * use `?` placeholders (the PostgreSQL driver numbers them); where the dialects differ the stores ask
 * `dialect`. Values are strings, numbers (integers up to 2^53), Buffers and null.
 */

export type SqlValue = string | number | Buffer | null;
export type Dialect = "sqlite" | "postgres";

export interface SqlRun {
  /** Rows changed by the statement. */
  readonly changes: number;
}

export interface Sql {
  readonly dialect: Dialect;
  get<T>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined>;
  all<T>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  run(sql: string, params?: readonly SqlValue[]): Promise<SqlRun>;
  /** Runs several `;`-separated statements without parameters (schema). */
  exec(sql: string): Promise<void>;
  /**
   * Runs `fn` in one transaction on one connection; commits when it resolves, rolls back when it
   * throws. `lock` names what the transaction serialises on across every process sharing the
   * database (PostgreSQL: a transaction-scoped advisory lock; SQLite: the write lock taken by
   * BEGIN IMMEDIATE covers everything already).
   */
  tx<T>(fn: (sql: Sql) => Promise<T>, lock?: string): Promise<T>;
  /** Announces `message` on `topic` to every listener on the database (this process included). */
  notify(topic: string, message: string): Promise<void>;
  /** Calls `handler` for every notification on `topic`; returns the unsubscribe. */
  listen(topic: string, handler: (message: string) => void): () => void;
  close(): Promise<void>;
}

/** A topic name both drivers accept (PostgreSQL channel names are identifiers). */
export function channelOf(topic: string): string {
  if (!/^[a-z][a-z0-9_]{0,40}$/.test(topic)) throw new Error(`bad notification topic ${topic}`);
  return `warden_${topic}`;
}
