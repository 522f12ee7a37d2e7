/**
 * SQLite implementation of `Store`: the only file that imports better-sqlite3. One file, WAL mode,
 * synchronous calls underneath (microseconds each) behind the async seam.
 */
import { EventEmitter } from "node:events";
import Database from "better-sqlite3";
import { chainHash, GENESIS_HASH } from "./audit-chain.js";
import type {
  AgentRecord,
  ApprovalRecord,
  ApprovalState,
  AuditRow,
  AuditVerifyResult,
  Store,
  Sync,
} from "./store.js";
import { asyncify } from "./store.js";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS agents (name TEXT PRIMARY KEY, token_hash TEXT NOT NULL, created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS placeholders (agent TEXT NOT NULL, secret TEXT NOT NULL, placeholder TEXT NOT NULL UNIQUE,
  PRIMARY KEY (agent, secret));
CREATE TABLE IF NOT EXISTS secrets (name TEXT PRIMARY KEY, sealed BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS approvals (id TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, state TEXT NOT NULL,
  created_at INTEGER NOT NULL, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS approvals_fp ON approvals (fingerprint, state);
CREATE INDEX IF NOT EXISTS approvals_state ON approvals (state);
CREATE TABLE IF NOT EXISTS held_bodies (id TEXT PRIMARY KEY, sealed BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS grants (agent TEXT NOT NULL, policy TEXT NOT NULL, rule TEXT NOT NULL,
  until INTEGER NOT NULL, PRIMARY KEY (agent, policy, rule));
CREATE TABLE IF NOT EXISTS inbox (rowid INTEGER PRIMARY KEY, agent TEXT NOT NULL, id TEXT NOT NULL, text TEXT NOT NULL,
  sender TEXT, at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS inbox_agent ON inbox (agent);
CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, agent TEXT NOT NULL, text TEXT NOT NULL,
  reply_to TEXT, at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS outbox_agent ON outbox (agent, seq);
CREATE TABLE IF NOT EXISTS audit (seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL, entry TEXT NOT NULL,
  prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit_head (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, hash TEXT NOT NULL);
`;

const AUDIT_FLUSH_MS = 20;

/**
 * Adds the columns the limits query (agent, held_bytes) to an approvals table made before them,
 * filled from each row's JSON, so old rows keep counting. Idempotent.
 */
function migrateApprovals(db: Database.Database): void {
  const info = db.pragma("table_info(approvals)") as { name: string }[];
  const cols = new Set(info.map((c) => c.name));
  db.transaction(() => {
    if (!cols.has("agent")) {
      db.exec("ALTER TABLE approvals ADD COLUMN agent TEXT NOT NULL DEFAULT ''");
      db.exec("UPDATE approvals SET agent = coalesce(json_extract(data, '$.agent'), '')");
    }
    if (!cols.has("held_bytes")) {
      db.exec("ALTER TABLE approvals ADD COLUMN held_bytes INTEGER NOT NULL DEFAULT 0");
      db.exec("UPDATE approvals SET held_bytes = coalesce(json_extract(data, '$.bodyBytes'), 0)");
    }
    db.exec("CREATE INDEX IF NOT EXISTS approvals_agent ON approvals (agent, state)");
  })();
}

interface AuditDbRow {
  seq: number;
  ts: number;
  entry: string;
  prev_hash: string;
  hash: string;
}

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

/** Opens (creating if needed) the store at `path`; ":memory:" for tests. */
export function openSqliteStore(path: string): Store {
  return asyncify<Store>(openSyncStore(path), ["appendAudit", "listen"]);
}

function openSyncStore(path: string): Sync<Store> {
  const db = openDatabase(path);
  db.exec(SCHEMA);
  migrateApprovals(db);

  const q = {
    putAgent: db.prepare(
      "INSERT INTO agents (name, token_hash, created_at) VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE SET token_hash = excluded.token_hash",
    ),
    getAgent: db.prepare<[string], { name: string; token_hash: string; created_at: number }>(
      "SELECT * FROM agents WHERE name = ?",
    ),
    listAgents: db.prepare<[], { name: string; token_hash: string; created_at: number }>(
      "SELECT * FROM agents ORDER BY name",
    ),
    deleteAgent: db.prepare("DELETE FROM agents WHERE name = ?"),
    deletePlaceholders: db.prepare("DELETE FROM placeholders WHERE agent = ?"),
    getPlaceholder: db.prepare<[string, string], { placeholder: string }>(
      "SELECT placeholder FROM placeholders WHERE agent = ? AND secret = ?",
    ),
    insertPlaceholder: db.prepare("INSERT INTO placeholders (agent, secret, placeholder) VALUES (?, ?, ?)"),
    placeholdersOf: db.prepare<[string], { secret: string; placeholder: string }>(
      "SELECT secret, placeholder FROM placeholders WHERE agent = ?",
    ),
    putSecret: db.prepare(
      "INSERT INTO secrets (name, sealed) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET sealed = excluded.sealed",
    ),
    getSecret: db.prepare<[string], { sealed: Buffer }>("SELECT sealed FROM secrets WHERE name = ?"),
    listSecrets: db.prepare<[], { name: string }>("SELECT name FROM secrets ORDER BY name"),
    deleteSecret: db.prepare("DELETE FROM secrets WHERE name = ?"),
    putApproval: db.prepare(
      "INSERT INTO approvals (id, fingerprint, state, created_at, data, agent, held_bytes) VALUES (@id, @fingerprint, @state, @createdAt, @data, @agent, @heldBytes) ON CONFLICT(id) DO UPDATE SET state = excluded.state, data = excluded.data, held_bytes = excluded.held_bytes",
    ),
    casApproval: db.prepare(
      "UPDATE approvals SET state = @state, data = @data, held_bytes = @heldBytes WHERE id = @id AND data = @prev",
    ),
    countPending: db.prepare<[string], { n: number }>(
      "SELECT count(*) AS n FROM approvals WHERE agent = ? AND state = 'pending'",
    ),
    heldBytes: db.prepare<[], { n: number | null }>(
      "SELECT sum(held_bytes) AS n FROM approvals WHERE state IN ('pending', 'approved')",
    ),
    putHeldBody: db.prepare(
      "INSERT INTO held_bodies (id, sealed) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET sealed = excluded.sealed",
    ),
    getHeldBody: db.prepare<[string], { sealed: Buffer }>("SELECT sealed FROM held_bodies WHERE id = ?"),
    deleteHeldBody: db.prepare("DELETE FROM held_bodies WHERE id = ?"),
    listHeldBodies: db.prepare<[], { id: string }>("SELECT id FROM held_bodies"),
    getApproval: db.prepare<[string], { data: string }>("SELECT data FROM approvals WHERE id = ?"),
    listApprovals: db.prepare<[], { data: string }>("SELECT data FROM approvals ORDER BY created_at, id"),
    listApprovalsByState: db.prepare<[string], { data: string }>(
      "SELECT data FROM approvals WHERE state = ? ORDER BY created_at, id",
    ),
    putGrant: db.prepare(
      "INSERT INTO grants (agent, policy, rule, until) VALUES (?, ?, ?, ?) ON CONFLICT(agent, policy, rule) DO UPDATE SET until = excluded.until",
    ),
    getGrant: db.prepare<[string, string, string], { until: number }>(
      "SELECT until FROM grants WHERE agent = ? AND policy = ? AND rule = ?",
    ),
    pushInbox: db.prepare("INSERT INTO inbox (agent, id, text, sender, at) VALUES (?, ?, ?, ?, ?)"),
    readInbox: db.prepare<
      [string],
      { rowid: number; id: string; text: string; sender: string | null; at: string }
    >("SELECT rowid, id, text, sender, at FROM inbox WHERE agent = ? ORDER BY rowid"),
    hasInbox: db.prepare<[string], { n: number }>("SELECT 1 AS n FROM inbox WHERE agent = ? LIMIT 1"),
    deleteInboxUpTo: db.prepare("DELETE FROM inbox WHERE agent = ? AND rowid <= ?"),
    appendOutbox: db.prepare("INSERT INTO outbox (agent, text, reply_to, at) VALUES (?, ?, ?, ?)"),
    listOutbox: db.prepare<
      [string, number, number],
      { seq: number; text: string; reply_to: string | null; at: string }
    >("SELECT seq, text, reply_to, at FROM outbox WHERE agent = ? AND seq > ? ORDER BY seq LIMIT ?"),
    forgetInbox: db.prepare("DELETE FROM inbox WHERE agent = ?"),
    forgetOutbox: db.prepare("DELETE FROM outbox WHERE agent = ?"),
    head: db.prepare<[], { seq: number; hash: string }>("SELECT seq, hash FROM audit_head WHERE id = 1"),
    setHead: db.prepare(
      "INSERT INTO audit_head (id, seq, hash) VALUES (1, ?, ?) ON CONFLICT(id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
    ),
    insertAudit: db.prepare("INSERT INTO audit (seq, ts, entry, prev_hash, hash) VALUES (?, ?, ?, ?, ?)"),
    listAudit: db.prepare<[number, number], AuditDbRow>(
      "SELECT * FROM audit WHERE seq > ? ORDER BY seq LIMIT ?",
    ),
    allAudit: db.prepare<[], AuditDbRow>("SELECT * FROM audit ORDER BY seq"),
  };

  const toAgent = (r: { name: string; token_hash: string; created_at: number }): AgentRecord => ({
    name: r.name,
    tokenHash: r.token_hash,
    createdAt: r.created_at,
  });
  const toAudit = (r: AuditDbRow): AuditRow => ({
    seq: r.seq,
    ts: r.ts,
    entry: JSON.parse(r.entry) as Record<string, unknown>,
    prevHash: r.prev_hash,
    hash: r.hash,
  });

  // Audit rows are written in batches, at most AUDIT_FLUSH_MS after they were queued, instead of one
  // WAL commit per request (measured here: ~0.5 ms per commit once checkpoints are counted, on the
  // event loop). Readers and close() flush first; a crash can lose at most that window.
  const pending: { entry: Record<string, unknown>; ts: number }[] = [];
  let scheduled = false;
  const writeBatch = db.transaction((batch: { entry: Record<string, unknown>; ts: number }[]): void => {
    let head = q.head.get() ?? { seq: 0, hash: GENESIS_HASH };
    for (const { entry, ts } of batch) {
      const seq = head.seq + 1;
      const hash = chainHash(head.hash, seq, ts, entry);
      q.insertAudit.run(seq, ts, JSON.stringify(entry), head.hash, hash);
      head = { seq, hash };
    }
    q.setHead.run(head.seq, head.hash);
  });
  const flush = (): void => {
    if (pending.length > 0) writeBatch(pending.splice(0));
  };

  const events = new EventEmitter().setMaxListeners(0);
  const approvalRow = (a: ApprovalRecord) => ({
    id: a.id,
    fingerprint: a.fingerprint,
    state: a.state,
    createdAt: a.createdAt,
    data: JSON.stringify(a),
    agent: a.agent,
    heldBytes: a.bodyBytes ?? 0,
  });
  const insertApproval = db.transaction(
    (a: ApprovalRecord, l: { maxPending: number; maxHeldBytes: number }) => {
      if ((q.countPending.get(a.agent)?.n ?? 0) >= l.maxPending) return "max_pending" as const;
      if ((q.heldBytes.get()?.n ?? 0) + (a.bodyBytes ?? 0) > l.maxHeldBytes) return "max_held_bytes" as const;
      q.putApproval.run(approvalRow(a));
      return undefined;
    },
  );
  const takeInbox = db.transaction((agent: string) => {
    const rows = q.readInbox.all(agent);
    const last = rows.at(-1);
    if (last) q.deleteInboxUpTo.run(agent, last.rowid);
    return rows.map((r) => ({ id: r.id, text: r.text, from: r.sender, at: r.at }));
  });

  const placeholder = db.transaction((agent: string, secret: string, make: () => string): string => {
    const found = q.getPlaceholder.get(agent, secret);
    if (found) return found.placeholder;
    const value = make();
    q.insertPlaceholder.run(agent, secret, value);
    return value;
  });

  return {
    putAgent: (a) => void q.putAgent.run(a.name, a.tokenHash, a.createdAt),
    getAgent: (name) => {
      const r = q.getAgent.get(name);
      return r && toAgent(r);
    },
    listAgents: () => q.listAgents.all().map(toAgent),
    deleteAgent: (name) => {
      q.deletePlaceholders.run(name);
      return q.deleteAgent.run(name).changes > 0;
    },
    placeholder: (agent, secret, make) => placeholder(agent, secret, make),
    placeholdersOf: (agent) => new Map(q.placeholdersOf.all(agent).map((r) => [r.placeholder, r.secret])),
    putSecret: (name, sealed) => void q.putSecret.run(name, sealed),
    getSecret: (name) => q.getSecret.get(name)?.sealed,
    listSecrets: () => q.listSecrets.all().map((r) => r.name),
    deleteSecret: (name) => q.deleteSecret.run(name).changes > 0,
    putApproval: (a) => void q.putApproval.run(approvalRow(a)),
    insertApproval: (a, limits) => insertApproval(a, limits),
    casApproval: (prev, next) =>
      q.casApproval.run({
        id: prev.id,
        prev: JSON.stringify(prev),
        state: next.state,
        data: JSON.stringify(next),
        heldBytes: next.bodyBytes ?? 0,
      }).changes === 1,
    getApproval: (id) => {
      const r = q.getApproval.get(id);
      return r && (JSON.parse(r.data) as ApprovalRecord);
    },
    findApproval: (fingerprint, states) => {
      if (states.length === 0) return undefined;
      const marks = states.map(() => "?").join(",");
      const r = db
        .prepare<unknown[], { data: string }>(
          `SELECT data FROM approvals WHERE fingerprint = ? AND state IN (${marks}) ORDER BY created_at DESC LIMIT 1`,
        )
        .get(fingerprint, ...states);
      return r && (JSON.parse(r.data) as ApprovalRecord);
    },
    listApprovals: (state?: ApprovalState) =>
      (state ? q.listApprovalsByState.all(state) : q.listApprovals.all()).map(
        (r) => JSON.parse(r.data) as ApprovalRecord,
      ),
    countPending: (agent) => q.countPending.get(agent)?.n ?? 0,
    heldBytes: () => q.heldBytes.get()?.n ?? 0,
    putHeldBody: (id, sealed) => void q.putHeldBody.run(id, sealed),
    getHeldBody: (id) => q.getHeldBody.get(id)?.sealed,
    deleteHeldBody: (id) => void q.deleteHeldBody.run(id),
    listHeldBodies: () => q.listHeldBodies.all().map((r) => r.id),
    putGrant: (agent, policy, rule, until) => void q.putGrant.run(agent, policy, rule, until),
    grantUntil: (agent, policy, rule) => q.getGrant.get(agent, policy, rule)?.until,
    pushInbox: (agent, m) => void q.pushInbox.run(agent, m.id, m.text, m.from, m.at),
    takeInbox: (agent) => takeInbox(agent),
    hasInbox: (agent) => q.hasInbox.get(agent) !== undefined,
    appendOutbox: (agent, m) => Number(q.appendOutbox.run(agent, m.text, m.replyTo, m.at).lastInsertRowid),
    listOutbox: (agent, after, limit) =>
      q.listOutbox
        .all(agent, after, limit)
        .map((r) => ({ seq: r.seq, text: r.text, replyTo: r.reply_to, at: r.at })),
    forgetMailbox: (agent) => {
      q.forgetInbox.run(agent);
      q.forgetOutbox.run(agent);
    },
    appendAudit: (entry, ts) => {
      pending.push({ entry, ts });
      if (pending.length >= 512) return flush();
      if (scheduled) return;
      scheduled = true;
      setTimeout(() => {
        scheduled = false;
        flush();
      }, AUDIT_FLUSH_MS).unref();
    },
    flushAudit: flush,
    listAudit: (after, limit) => {
      flush();
      return q.listAudit.all(after, limit).map(toAudit);
    },
    verifyAudit: () => {
      flush();
      return verifyRows(q.allAudit.all(), q.head.get());
    },
    // One process per SQLite file: a local emitter is every listener there is. Delivered after the
    // current turn, like a database notification, so no caller depends on a synchronous callback.
    notify: (topic, message) => void setImmediate(() => events.emit(topic, message)),
    listen: (topic, handler) => {
      events.on(topic, handler);
      return () => void events.off(topic, handler);
    },
    close: () => {
      flush();
      events.removeAllListeners();
      db.close();
    },
  };
}

/** Walks the whole chain; reports the first row whose link or hash does not hold. */
function verifyRows(rows: AuditDbRow[], head: { seq: number; hash: string } | undefined): AuditVerifyResult {
  let prev = GENESIS_HASH;
  let expectedSeq = 1;
  for (const r of rows) {
    const bad = (problem: string): AuditVerifyResult => ({
      ok: false,
      entries: rows.length,
      badSeq: r.seq,
      problem,
    });
    if (r.seq !== expectedSeq)
      return { ok: false, entries: rows.length, badSeq: expectedSeq, problem: "missing entry" };
    if (r.prev_hash !== prev) return bad("broken link to previous entry");
    let entry: unknown;
    try {
      entry = JSON.parse(r.entry);
    } catch {
      return bad("entry is not JSON");
    }
    if (chainHash(prev, r.seq, r.ts, entry) !== r.hash) return bad("entry does not match its hash");
    prev = r.hash;
    expectedSeq++;
  }
  // Deleting the newest rows leaves a valid prefix: the head record catches that.
  const last = rows.length;
  if (head && (head.seq !== last || head.hash !== prev)) {
    return { ok: false, entries: last, badSeq: last + 1, problem: "entries missing at the end of the log" };
  }
  return { ok: true, entries: last };
}
