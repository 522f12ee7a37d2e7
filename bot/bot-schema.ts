/**
 * The bot's tables (`bot_*`), per dialect, for `ensureSchema(sql, "bot", …)`. On SQLite the text is
 * the one earlier versions ran, so warden.db files they made open unchanged. On PostgreSQL times are
 * BIGINT, `by` (a reserved word there) is quoted, and tables whose readers need insertion order get
 * an explicit `ord` column, since PostgreSQL has no rowid. Nothing here is untrusted: no input
 * reaches the DDL.
 */
import type { Dialect } from "../gateway/index.js";

/** Every table the bot needs, named for the privilege check. */
export const BOT_TABLES = [
  "bot_people",
  "bot_identities",
  "bot_tokens",
  "bot_cards",
  "bot_bindings",
  "bot_quiet",
  "bot_setups",
  "bot_batches",
  "bot_batch_items",
  "bot_batch_cards",
  "bot_state",
] as const;

/** The column that orders rows as they were inserted: SQLite's rowid, PostgreSQL's `ord`. */
export const insertionOrder = (d: Dialect): string => (d === "sqlite" ? "rowid" : "ord");

/**
 * Byte-wise ordering of text on both: SQLite compares text as bytes by default, PostgreSQL by the
 * cluster's locale unless told otherwise.
 */
export const binary = (d: Dialect): string => (d === "postgres" ? ' COLLATE "C"' : "");

export function botTables(d: Dialect): string {
  const pg = d === "postgres";
  const int = pg ? "BIGINT" : "INTEGER";
  const by = pg ? '"by"' : "by";
  const ord = pg ? ", ord BIGSERIAL" : "";
  return `
CREATE TABLE IF NOT EXISTS bot_people (id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL,
  preferred TEXT, created_at ${int} NOT NULL${ord});
CREATE TABLE IF NOT EXISTS bot_identities (identity TEXT PRIMARY KEY, person TEXT NOT NULL, private_chat TEXT,
  linked_at ${int} NOT NULL${ord});
CREATE INDEX IF NOT EXISTS bot_identities_person ON bot_identities (person);
CREATE TABLE IF NOT EXISTS bot_tokens (hash TEXT PRIMARY KEY, kind TEXT NOT NULL, role TEXT, person TEXT,
  expires_at ${int} NOT NULL);
CREATE TABLE IF NOT EXISTS bot_cards (approval TEXT NOT NULL, address TEXT NOT NULL, platform TEXT NOT NULL,
  chat_id TEXT NOT NULL, message_id TEXT NOT NULL, PRIMARY KEY (approval, platform, chat_id, message_id));
CREATE TABLE IF NOT EXISTS bot_bindings (agent TEXT NOT NULL, address TEXT NOT NULL, PRIMARY KEY (agent, address));
CREATE TABLE IF NOT EXISTS bot_quiet (person TEXT PRIMARY KEY, start_min INTEGER NOT NULL,
  end_min INTEGER NOT NULL, tz TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS bot_setups (address TEXT PRIMARY KEY, ${by} TEXT NOT NULL, kind TEXT NOT NULL,
  data TEXT NOT NULL, expires_at ${int} NOT NULL);
CREATE TABLE IF NOT EXISTS bot_batches (id TEXT PRIMARY KEY, key TEXT NOT NULL, opened_at ${int} NOT NULL,
  last_at ${int} NOT NULL${ord});
CREATE INDEX IF NOT EXISTS bot_batches_key ON bot_batches (key, last_at);
CREATE TABLE IF NOT EXISTS bot_batch_items (batch TEXT NOT NULL, seq INTEGER NOT NULL, approval TEXT NOT NULL UNIQUE,
  PRIMARY KEY (batch, seq));
CREATE TABLE IF NOT EXISTS bot_batch_cards (batch TEXT NOT NULL, address TEXT NOT NULL, platform TEXT NOT NULL,
  chat_id TEXT NOT NULL, message_id TEXT NOT NULL, drawn INTEGER NOT NULL,
  PRIMARY KEY (batch, platform, chat_id, message_id));
CREATE TABLE IF NOT EXISTS bot_state (ns TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
  expires_at ${int} NOT NULL, PRIMARY KEY (ns, key));
CREATE INDEX IF NOT EXISTS bot_state_expiry ON bot_state (expires_at);
`;
}
