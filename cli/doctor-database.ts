/**
 * `warden doctor` with WARDEN_DATABASE_URL: can this replica reach PostgreSQL, create or use Warden's
 * tables (the same check start makes, naming a missing privilege), and will it be one Warden with
 * the others (the master key must come from WARDEN_MASTER_KEY, the same on every replica). The URL
 * may hold a password: it is never printed; errors are reported by code only.
 */
import { openPostgresStore } from "../gateway/index.js";
import type { Check } from "./doctor-checks.js";

export async function checkDatabase(
  databaseUrl: string | undefined,
  masterKeyFromEnv: boolean,
): Promise<Check[]> {
  if (!databaseUrl)
    return [
      {
        status: "ok",
        item: "database",
        message: "SQLite in WARDEN_HOME/warden.db (one process; set WARDEN_DATABASE_URL for replicas)",
      },
    ];
  const checks: Check[] = [];
  try {
    const store = await openPostgresStore({ url: databaseUrl });
    const agents = (await store.listAgents()).length;
    await store.close();
    checks.push({
      status: "ok",
      item: "database",
      message: `PostgreSQL reachable, Warden's tables usable (${agents} agent(s))`,
    });
  } catch (err) {
    const e = err as { code?: unknown; message?: unknown };
    const ours = typeof e.message === "string" && e.message.startsWith("the database role");
    checks.push({
      status: "fail",
      item: "database",
      message: ours
        ? String(e.message)
        : `PostgreSQL not usable (${typeof e.code === "string" ? e.code : "connection failed"})`,
      fix: ours
        ? "grant the role what is named, or start Warden once as the schema's owner"
        : "check WARDEN_DATABASE_URL (host, port, database, user) and that PostgreSQL accepts this machine",
    });
  }
  if (!masterKeyFromEnv)
    checks.push({
      status: "warn",
      item: "master key",
      message: "replicas need one master key, but this one comes from WARDEN_HOME/master.key",
      fix: "set WARDEN_MASTER_KEY to the same 64 hex characters on every replica",
    });
  return checks;
}
