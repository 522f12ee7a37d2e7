/**
 * The gateway's tables, per dialect, created or migrated on start and recorded in `warden_schema`
 * (one row per part: gateway, bot). SQLite files from before a column existed are migrated in
 * place; on PostgreSQL a role that may not create or use the tables gets an error naming exactly
 * what it lacks, before anything else runs.
 */
import type { Dialect, Sql } from "./sql.js";

/** Bumped when a part's tables change; start migrates anything older. */
export const SCHEMA_VERSIONS = { gateway: 2, bot: 1 } as const;

const types = (d: Dialect) =>
  d === "postgres"
    ? { int: "BIGINT", blob: "BYTEA", serial: "BIGSERIAL PRIMARY KEY" }
    : { int: "INTEGER", blob: "BLOB", serial: "INTEGER PRIMARY KEY AUTOINCREMENT" };

function gatewayTables(d: Dialect): string {
  const { int, blob, serial } = types(d);
  const rowid = d === "postgres" ? "rowid BIGSERIAL PRIMARY KEY" : "rowid INTEGER PRIMARY KEY";
  return `
CREATE TABLE IF NOT EXISTS agents (name TEXT PRIMARY KEY, token_hash TEXT NOT NULL, created_at ${int} NOT NULL);
CREATE TABLE IF NOT EXISTS placeholders (agent TEXT NOT NULL, secret TEXT NOT NULL, placeholder TEXT NOT NULL UNIQUE,
  PRIMARY KEY (agent, secret));
CREATE TABLE IF NOT EXISTS secrets (name TEXT PRIMARY KEY, sealed ${blob} NOT NULL);
CREATE TABLE IF NOT EXISTS approvals (id TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, state TEXT NOT NULL,
  created_at ${int} NOT NULL, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS approvals_fp ON approvals (fingerprint, state);
CREATE INDEX IF NOT EXISTS approvals_state ON approvals (state);
CREATE TABLE IF NOT EXISTS held_bodies (id TEXT PRIMARY KEY, sealed ${blob} NOT NULL);
CREATE TABLE IF NOT EXISTS grants (agent TEXT NOT NULL, policy TEXT NOT NULL, rule TEXT NOT NULL,
  until ${int} NOT NULL, PRIMARY KEY (agent, policy, rule));
CREATE TABLE IF NOT EXISTS inbox (${rowid}, agent TEXT NOT NULL, id TEXT NOT NULL, text TEXT NOT NULL,
  sender TEXT, at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS inbox_agent ON inbox (agent);
CREATE TABLE IF NOT EXISTS outbox (seq ${serial}, agent TEXT NOT NULL, text TEXT NOT NULL,
  reply_to TEXT, at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS outbox_agent ON outbox (agent, seq);
CREATE TABLE IF NOT EXISTS audit (seq ${int} PRIMARY KEY, ts ${int} NOT NULL, entry TEXT NOT NULL,
  prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit_head (id ${int} PRIMARY KEY CHECK (id = 1), seq ${int} NOT NULL, hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rate_windows (key TEXT PRIMARY KEY, window_start ${int} NOT NULL, used ${int} NOT NULL);
CREATE TABLE IF NOT EXISTS kv (ns TEXT NOT NULL, key TEXT NOT NULL, value ${blob} NOT NULL, PRIMARY KEY (ns, key));
`;
}

/** Tables every part needs, named for the privilege check. */
export const GATEWAY_TABLES = [
  "agents",
  "placeholders",
  "secrets",
  "approvals",
  "held_bodies",
  "grants",
  "inbox",
  "outbox",
  "audit",
  "audit_head",
  "rate_windows",
  "kv",
] as const;

/**
 * Columns the limits query (agent, held_bytes) added to an approvals table made before them, filled
 * from each row's JSON so old rows keep counting (SQLite files of earlier versions). Idempotent.
 */
async function migrateSqliteApprovals(sql: Sql): Promise<void> {
  await sql.tx(async (t) => {
    const cols = new Set((await t.all<{ name: string }>("PRAGMA table_info(approvals)")).map((c) => c.name));
    if (!cols.has("agent")) {
      await t.exec("ALTER TABLE approvals ADD COLUMN agent TEXT NOT NULL DEFAULT ''");
      await t.exec("UPDATE approvals SET agent = coalesce(json_extract(data, '$.agent'), '')");
    }
    if (!cols.has("held_bytes")) {
      await t.exec("ALTER TABLE approvals ADD COLUMN held_bytes INTEGER NOT NULL DEFAULT 0");
      await t.exec("UPDATE approvals SET held_bytes = coalesce(json_extract(data, '$.bodyBytes'), 0)");
    }
  });
}

/** Runs `ddl` (and records `version` for `part`), turning a privilege error into one that says what to grant. */
export async function ensureSchema(
  sql: Sql,
  part: keyof typeof SCHEMA_VERSIONS,
  ddl: string,
  tables: readonly string[],
) {
  const int = types(sql.dialect).int;
  try {
    await sql.tx(async (t) => {
      await t.exec(
        `CREATE TABLE IF NOT EXISTS warden_schema (part TEXT PRIMARY KEY, version ${int} NOT NULL)`,
      );
      await t.exec(ddl);
    }, "schema");
  } catch (err) {
    if ((err as { code?: string }).code === "42501")
      throw new Error(
        `the database role may not create Warden's tables (${part}: ${tables.join(", ")}): grant it CREATE on the schema, or have an owner start Warden once to create them`,
      );
    throw err;
  }
  if (sql.dialect === "postgres") {
    const missing: string[] = [];
    for (const table of ["warden_schema", ...tables])
      for (const priv of ["SELECT", "INSERT", "UPDATE", "DELETE"]) {
        const r = await sql.get<{ ok: boolean }>("SELECT has_table_privilege(?, ?) AS ok", [table, priv]);
        if (!r?.ok) missing.push(`${priv} on ${table}`);
      }
    if (missing.length > 0) throw new Error(`the database role lacks ${missing.join(", ")}`);
  }
  await sql.run(
    "INSERT INTO warden_schema (part, version) VALUES (?, ?) ON CONFLICT (part) DO UPDATE SET version = excluded.version",
    [part, SCHEMA_VERSIONS[part]],
  );
}

/** Creates or migrates the gateway's tables. */
export async function gatewaySchema(sql: Sql): Promise<void> {
  await ensureSchema(sql, "gateway", gatewayTables(sql.dialect), GATEWAY_TABLES);
  if (sql.dialect === "sqlite") await migrateSqliteApprovals(sql);
  else {
    // Fresh PostgreSQL tables get the columns directly (no old rows to fill).
    await sql.exec(
      "ALTER TABLE approvals ADD COLUMN IF NOT EXISTS agent TEXT NOT NULL DEFAULT ''; ALTER TABLE approvals ADD COLUMN IF NOT EXISTS held_bytes BIGINT NOT NULL DEFAULT 0",
    );
  }
  await sql.exec("CREATE INDEX IF NOT EXISTS approvals_agent ON approvals (agent, state)");
}
