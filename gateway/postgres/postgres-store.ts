/**
 * The gateway's store on PostgreSQL (`WARDEN_DATABASE_URL`): the same `Store` as SQLite's, over the
 * pg driver. Opening waits until the tables are in place, so a role without the privileges it needs
 * stops `warden start` with the reason instead of failing requests later.
 */
import { createSqlStore } from "../sql-store.js";
import type { Store } from "../store.js";
import { openPostgresSql, type PgOptions } from "./pg-sql.js";

export async function openPostgresStore(opts: PgOptions): Promise<Store> {
  const sql = await openPostgresSql(opts);
  const store = createSqlStore(sql);
  try {
    await store.ready();
  } catch (err) {
    await sql.close();
    throw err;
  }
  return store;
}
