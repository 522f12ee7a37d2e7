/**
 * `Store` over the `Sql` seam: the same hand-written SQL on SQLite and PostgreSQL. Replicas share
 * one database, so every read-modify-write here is either one statement (upserts, compare-and-set)
 * or a transaction serialised on a named lock (the audit head, holds under limits, placeholders,
 * an agent's inbox). Nothing is cached here; callers that cache listen for changes. The audit log
 * (batched, hash-chained) is `sql-audit.ts`. Untrusted: the values stored (approval records built
 * from the agent's requests, its inbox and outbox text); they reach the database as bound parameters.
 */
import { createSqlAudit } from "./sql-audit.js";
import { gatewaySchema } from "./sql-schema.js";
import { channelOf, type Sql } from "./sql.js";
import type { AgentRecord, ApprovalRecord, Store } from "./store.js";

type AgentRow = { name: string; token_hash: string; created_at: number };

const toAgent = (r: AgentRow): AgentRecord => ({
  name: r.name,
  tokenHash: r.token_hash,
  createdAt: r.created_at,
});
const parse = (r: { data: string } | undefined): ApprovalRecord | undefined =>
  r && (JSON.parse(r.data) as ApprovalRecord);

/**
 * The store over `sql`, returned at once; its tables are created or migrated first (`ready()`), and
 * every call waits for that, so a store can be opened synchronously and fail on first use.
 */
export function createSqlStore(sql: Sql): Store {
  const ready = gatewaySchema(sql);
  ready.catch(() => undefined); // reported by ready() and by every call
  const raw = rawStore(sql, ready);
  const wrapped: Record<string, unknown> = { ...raw, ready: () => ready };
  for (const [name, fn] of Object.entries(raw)) {
    if (typeof fn !== "function" || SYNC.has(name)) continue;
    wrapped[name] = async (...args: unknown[]) => {
      await ready;
      return (fn as (...a: unknown[]) => unknown)(...args);
    };
  }
  return wrapped as unknown as Store;
}

/** Calls that stay synchronous: queueing an audit entry and subscribing. */
const SYNC = new Set(["appendAudit", "listen"]);

function rawStore(sql: Sql, ready: Promise<void>): Omit<Store, "ready"> {
  const audit = createSqlAudit(sql, ready);
  const approvalParams = (a: ApprovalRecord) =>
    [a.id, a.fingerprint, a.state, a.createdAt, JSON.stringify(a), a.agent, a.bodyBytes ?? 0] as const;
  const PUT_APPROVAL =
    "INSERT INTO approvals (id, fingerprint, state, created_at, data, agent, held_bytes) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET state = excluded.state, data = excluded.data, held_bytes = excluded.held_bytes";
  const countPending = async (s: Sql, agent: string) =>
    (
      await s.get<{ n: number }>(
        "SELECT count(*) AS n FROM approvals WHERE agent = ? AND state = 'pending'",
        [agent],
      )
    )?.n ?? 0;
  const heldBytes = async (s: Sql) =>
    Number(
      (
        await s.get<{ n: number | null }>(
          "SELECT sum(held_bytes) AS n FROM approvals WHERE state IN ('pending', 'approved')",
        )
      )?.n ?? 0,
    );

  return {
    kind: sql.dialect,
    putAgent: async (a) =>
      void (await sql.run(
        "INSERT INTO agents (name, token_hash, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET token_hash = excluded.token_hash",
        [a.name, a.tokenHash, a.createdAt],
      )),
    getAgent: async (name) => {
      const r = await sql.get<AgentRow>("SELECT * FROM agents WHERE name = ?", [name]);
      return r && toAgent(r);
    },
    listAgents: async () => (await sql.all<AgentRow>("SELECT * FROM agents ORDER BY name")).map(toAgent),
    deleteAgent: (name) =>
      sql.tx(async (t) => {
        await t.run("DELETE FROM placeholders WHERE agent = ?", [name]);
        return (await t.run("DELETE FROM agents WHERE name = ?", [name])).changes > 0;
      }),
    placeholder: (agent, secret, make) =>
      sql.tx(async (t) => {
        const found = await t.get<{ placeholder: string }>(
          "SELECT placeholder FROM placeholders WHERE agent = ? AND secret = ?",
          [agent, secret],
        );
        if (found) return found.placeholder;
        const value = make();
        await t.run("INSERT INTO placeholders (agent, secret, placeholder) VALUES (?, ?, ?)", [
          agent,
          secret,
          value,
        ]);
        return value;
      }, `placeholder:${agent}`),
    placeholdersOf: async (agent) =>
      new Map(
        (
          await sql.all<{ secret: string; placeholder: string }>(
            "SELECT secret, placeholder FROM placeholders WHERE agent = ?",
            [agent],
          )
        ).map((r) => [r.placeholder, r.secret]),
      ),
    putSecret: async (name, sealed) =>
      void (await sql.run(
        "INSERT INTO secrets (name, sealed) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET sealed = excluded.sealed",
        [name, sealed],
      )),
    getSecret: async (name) =>
      (await sql.get<{ sealed: Buffer }>("SELECT sealed FROM secrets WHERE name = ?", [name]))?.sealed,
    listSecrets: async () =>
      (await sql.all<{ name: string }>("SELECT name FROM secrets ORDER BY name")).map((r) => r.name),
    deleteSecret: async (name) => (await sql.run("DELETE FROM secrets WHERE name = ?", [name])).changes > 0,
    putApproval: async (a) => void (await sql.run(PUT_APPROVAL, approvalParams(a))),
    insertApproval: (a, limits) =>
      sql.tx(async (t) => {
        if ((await countPending(t, a.agent)) >= limits.maxPending) return "max_pending" as const;
        if ((await heldBytes(t)) + (a.bodyBytes ?? 0) > limits.maxHeldBytes) return "max_held_bytes" as const;
        await t.run(PUT_APPROVAL, approvalParams(a));
        return undefined;
      }, "holds"),
    casApproval: async (prev, next) =>
      (
        await sql.run("UPDATE approvals SET state = ?, data = ?, held_bytes = ? WHERE id = ? AND data = ?", [
          next.state,
          JSON.stringify(next),
          next.bodyBytes ?? 0,
          prev.id,
          JSON.stringify(prev),
        ])
      ).changes === 1,
    getApproval: async (id) =>
      parse(await sql.get<{ data: string }>("SELECT data FROM approvals WHERE id = ?", [id])),
    findApproval: async (fingerprint, states) => {
      if (states.length === 0) return undefined;
      const marks = states.map(() => "?").join(",");
      return parse(
        await sql.get<{ data: string }>(
          `SELECT data FROM approvals WHERE fingerprint = ? AND state IN (${marks}) ORDER BY created_at DESC LIMIT 1`,
          [fingerprint, ...states],
        ),
      );
    },
    listApprovals: async (state) =>
      (state
        ? await sql.all<{ data: string }>(
            "SELECT data FROM approvals WHERE state = ? ORDER BY created_at, id",
            [state],
          )
        : await sql.all<{ data: string }>("SELECT data FROM approvals ORDER BY created_at, id")
      ).map((r) => JSON.parse(r.data) as ApprovalRecord),
    countPending: (agent) => countPending(sql, agent),
    heldBytes: () => heldBytes(sql),
    putHeldBody: async (id, sealed) =>
      void (await sql.run(
        "INSERT INTO held_bodies (id, sealed) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET sealed = excluded.sealed",
        [id, sealed],
      )),
    getHeldBody: async (id) =>
      (await sql.get<{ sealed: Buffer }>("SELECT sealed FROM held_bodies WHERE id = ?", [id]))?.sealed,
    deleteHeldBody: async (id) => void (await sql.run("DELETE FROM held_bodies WHERE id = ?", [id])),
    listHeldBodies: async () =>
      (await sql.all<{ id: string }>("SELECT id FROM held_bodies")).map((r) => r.id),
    putGrant: async (agent, policy, rule, until) =>
      void (await sql.run(
        "INSERT INTO grants (agent, policy, rule, until) VALUES (?, ?, ?, ?) ON CONFLICT (agent, policy, rule) DO UPDATE SET until = excluded.until",
        [agent, policy, rule, until],
      )),
    grantUntil: async (agent, policy, rule) =>
      (
        await sql.get<{ until: number }>(
          "SELECT until FROM grants WHERE agent = ? AND policy = ? AND rule = ?",
          [agent, policy, rule],
        )
      )?.until,
    pushInbox: async (agent, m) =>
      void (await sql.run("INSERT INTO inbox (agent, id, text, sender, at) VALUES (?, ?, ?, ?, ?)", [
        agent,
        m.id,
        m.text,
        m.from,
        m.at,
      ])),
    takeInbox: (agent) =>
      sql.tx(async (t) => {
        const rows = await t.all<{
          rowid: number;
          id: string;
          text: string;
          sender: string | null;
          at: string;
        }>("SELECT rowid, id, text, sender, at FROM inbox WHERE agent = ? ORDER BY rowid", [agent]);
        const last = rows.at(-1);
        if (last) await t.run("DELETE FROM inbox WHERE agent = ? AND rowid <= ?", [agent, last.rowid]);
        return rows.map((r) => ({ id: r.id, text: r.text, from: r.sender, at: r.at }));
      }, `inbox:${agent}`),
    hasInbox: async (agent) =>
      (await sql.get("SELECT 1 AS n FROM inbox WHERE agent = ? LIMIT 1", [agent])) !== undefined,
    appendOutbox: async (agent, m) =>
      Number(
        (
          await sql.get<{ seq: number }>(
            "INSERT INTO outbox (agent, text, reply_to, at) VALUES (?, ?, ?, ?) RETURNING seq",
            [agent, m.text, m.replyTo, m.at],
          )
        )?.seq,
      ),
    listOutbox: async (agent, after, limit) =>
      (
        await sql.all<{ seq: number; text: string; reply_to: string | null; at: string }>(
          "SELECT seq, text, reply_to, at FROM outbox WHERE agent = ? AND seq > ? ORDER BY seq LIMIT ?",
          [agent, after, limit],
        )
      ).map((r) => ({ seq: r.seq, text: r.text, replyTo: r.reply_to, at: r.at })),
    forgetMailbox: (agent) =>
      sql.tx(async (t) => {
        await t.run("DELETE FROM inbox WHERE agent = ?", [agent]);
        await t.run("DELETE FROM outbox WHERE agent = ?", [agent]);
      }),
    ...audit,
    takeRate: async (key, windowStart) =>
      (
        await sql.get<{ used: number }>(
          "INSERT INTO rate_windows (key, window_start, used) VALUES (?, ?, 1) ON CONFLICT (key) DO UPDATE SET used = CASE WHEN rate_windows.window_start = excluded.window_start THEN rate_windows.used + 1 ELSE 1 END, window_start = excluded.window_start RETURNING used",
          [key, windowStart],
        )
      )?.used ?? Number.MAX_SAFE_INTEGER,
    kvGet: async (ns, key) =>
      (await sql.get<{ value: Buffer }>("SELECT value FROM kv WHERE ns = ? AND key = ?", [ns, key]))?.value,
    kvPutIfAbsent: async (ns, key, value) =>
      (
        await sql.run("INSERT INTO kv (ns, key, value) VALUES (?, ?, ?) ON CONFLICT (ns, key) DO NOTHING", [
          ns,
          key,
          value,
        ])
      ).changes === 1,
    notify: (topic, message) => sql.notify(channelOf(topic), message),
    listen: (topic, handler) => sql.listen(channelOf(topic), handler),
    close: async () => {
      await audit.flushAudit();
      await sql.close();
    },
  };
}
