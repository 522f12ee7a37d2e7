/**
 * The audit log of the SQL store (`sql-store.ts`): entries queued synchronously, chained and
 * written in batches, read and verified after a flush. Untrusted: the entries' contents (hosts,
 * paths, reasons the agent chose); each entry is hashed and written as one JSON parameter. Replicas
 * sharing the database make one gap-free chain: each batch links onto the head under the "audit"
 * lock.
 */
import { chainHash, GENESIS_HASH } from "./audit-chain.js";
import { verifyAuditRows } from "./audit-verify.js";
import type { Sql, SqlValue } from "./sql.js";
import type { AuditRow, Store } from "./store.js";

const AUDIT_FLUSH_MS = 20;
/** 5 parameters a row: 100 rows stay far below SQLite's and PostgreSQL's parameter limits. */
const AUDIT_ROWS_PER_INSERT = 100;

interface AuditDbRow {
  seq: number;
  ts: number;
  entry: string;
  prev_hash: string;
  hash: string;
}

const toAudit = (r: AuditDbRow): AuditRow => ({
  seq: r.seq,
  ts: r.ts,
  entry: JSON.parse(r.entry) as Record<string, unknown>,
  prevHash: r.prev_hash,
  hash: r.hash,
});

/** The store's audit calls over `sql`; writes wait for `ready` (the schema). */
export function createSqlAudit(
  sql: Sql,
  ready: Promise<void>,
): Pick<Store, "appendAudit" | "flushAudit" | "listAudit" | "verifyAudit"> {
  // Audit rows are written in batches, at most AUDIT_FLUSH_MS after they were queued, instead of one
  // commit per request. Readers and close() flush first; a crash can lose at most that window.
  // Each batch links onto the chain's head under the "audit" lock, so writers on several replicas
  // make one gap-free chain.
  let pending: { entry: Record<string, unknown>; ts: number }[] = [];
  let scheduled = false;
  let writing: Promise<void> = Promise.resolve();
  const writeBatch = (batch: { entry: Record<string, unknown>; ts: number }[]) =>
    sql.tx(async (t) => {
      let head =
        (await t.get<{ seq: number; hash: string }>("SELECT seq, hash FROM audit_head WHERE id = 1")) ??
        ({ seq: 0, hash: GENESIS_HASH } as const);
      // Many rows per statement: on a networked database each statement is a round trip.
      const rows: SqlValue[][] = [];
      for (const { entry, ts } of batch) {
        const seq = head.seq + 1;
        const hash = chainHash(head.hash, seq, ts, entry);
        rows.push([seq, ts, JSON.stringify(entry), head.hash, hash]);
        head = { seq, hash };
      }
      for (let i = 0; i < rows.length; i += AUDIT_ROWS_PER_INSERT) {
        const chunk = rows.slice(i, i + AUDIT_ROWS_PER_INSERT);
        await t.run(
          `INSERT INTO audit (seq, ts, entry, prev_hash, hash) VALUES ${chunk.map(() => "(?, ?, ?, ?, ?)").join(", ")}`,
          chunk.flat(),
        );
      }
      await t.run(
        "INSERT INTO audit_head (id, seq, hash) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
        [head.seq, head.hash],
      );
    }, "audit");
  const later = (ms: number): void => {
    if (scheduled) return;
    scheduled = true;
    setTimeout(() => {
      scheduled = false;
      void flush();
    }, ms).unref();
  };
  const flush = (): Promise<void> => {
    if (pending.length > 0) {
      const batch = pending;
      pending = [];
      // Batches are written one after another, in queue order.
      writing = writing
        .then(() => ready)
        .then(() => writeBatch(batch))
        .catch(() => {
          // Not written (the database is unreachable): keep the entries, in order, and try again.
          pending = [...batch, ...pending];
          later(1000);
        });
    }
    return writing;
  };

  return {
    appendAudit: (entry, ts) => {
      pending.push({ entry, ts });
      if (pending.length >= 512) return void flush();
      later(AUDIT_FLUSH_MS);
    },
    flushAudit: flush,
    listAudit: async (after, limit) => {
      await flush();
      return (
        await sql.all<AuditDbRow>("SELECT * FROM audit WHERE seq > ? ORDER BY seq LIMIT ?", [after, limit])
      ).map(toAudit);
    },
    verifyAudit: async () => {
      await flush();
      // The head first, then the rows up to it: another replica may commit a batch in between, and
      // its rows (past this head) must not read as a chain whose head is missing.
      const head = await sql.get<{ seq: number; hash: string }>(
        "SELECT seq, hash FROM audit_head WHERE id = 1",
      );
      const rows = await sql.all<AuditDbRow>("SELECT * FROM audit WHERE seq <= ? ORDER BY seq", [
        head?.seq ?? Number.MAX_SAFE_INTEGER, // no head row (removed, or an old log): check every row
      ]);
      return verifyAuditRows(rows, head);
    },
  };
}
