/**
 * The audit log is a hash chain: `GET /v1/audit/verify` and `warden audit verify` must notice a row
 * edited or deleted behind the gateway's back (here with better-sqlite3 on `home/warden.db`, after
 * dropping any trigger that guards the table, as an attacker with the file would).
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type AgentCredentials,
  type GatewayProcess,
  REPO_ROOT,
  startGateway,
  WARDEN_BIN,
} from "../fakes/gateway-process.js";
import { proxyRequest } from "../fakes/proxy-client.js";
import { type RecordingUpstream, startUpstream } from "../fakes/upstreams.js";

let up: RecordingUpstream;
let gw: GatewayProcess;
let agent: AgentCredentials;

interface AuditTable {
  readonly name: string;
  readonly seqColumn: string;
}

function openDb(): Database.Database {
  return new Database(join(gw.home, "warden.db"), { timeout: 5000 });
}

function auditTable(db: Database.Database): AuditTable {
  const tables = db
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE '%audit%'")
    .all() as { name: string }[];
  const name = tables[0]?.name;
  if (!name) throw new Error("no audit table in warden.db");
  const columns = db.prepare(`PRAGMA table_info("${name}")`).all() as { name: string; pk: number }[];
  const seqColumn =
    columns.find((c) => c.name === "seq")?.name ??
    columns.find((c) => /seq/i.test(c.name))?.name ??
    columns.find((c) => c.pk === 1)?.name;
  if (!seqColumn) throw new Error(`no seq column in ${name}`);
  for (const trigger of db
    .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?")
    .all(name) as { name: string }[]) {
    db.exec(`DROP TRIGGER "${trigger.name}"`);
  }
  return { name, seqColumn };
}

/** Finds the first number under a key mentioning "seq" anywhere in a verify answer. */
function badSeqOf(value: unknown): number | undefined {
  if (!value || typeof value !== "object") return undefined;
  for (const [key, inner] of Object.entries(value)) {
    if (/seq/i.test(key) && typeof inner === "number") return inner;
    const nested = badSeqOf(inner);
    if (nested !== undefined) return nested;
  }
  return undefined;
}

function cliVerify(): number | null {
  const result = spawnSync(process.execPath, [WARDEN_BIN, "audit", "verify", "--home", gw.home], {
    cwd: REPO_ROOT,
    env: { ...process.env, WARDEN_HOME: gw.home },
    encoding: "utf8",
    timeout: 20_000,
  });
  return result.status;
}

beforeAll(async () => {
  up = await startUpstream();
  gw = await startGateway({
    policies: {
      log: {
        hosts: ["log.test"],
        rules: [{ name: "no-delete", methods: ["DELETE"], action: "deny" }],
        default: "allow",
      },
    },
    resolve: { "log.test": `127.0.0.1:${up.port}` },
  });
  agent = await gw.createAgent("auditor");
  for (let i = 0; i < 6; i++) {
    const method = i % 2 === 0 ? "GET" : "DELETE";
    await proxyRequest(gw, `http://log.test:${up.port}/item/${i}`, {
      auth: { agent: "auditor", token: agent.token },
      method,
    });
  }
});

afterAll(async () => {
  await gw?.cleanup();
  await up?.close();
});

describe("audit chain", () => {
  it("GET /v1/audit lists the decisions in seq order", async () => {
    const res = await gw.control("GET", "/v1/audit?after=0");
    expect(res.status).toBe(200);
    const rows = Array.isArray(res.body) ? res.body : (res.body?.entries ?? res.body?.audit);
    expect(Array.isArray(rows)).toBe(true);
    expect(rows.length).toBeGreaterThanOrEqual(6);
    expect(res.text).toContain("/item/5");
    const later = await gw.control("GET", `/v1/audit?after=${badSeqOf(rows[rows.length - 2]) ?? 0}`);
    expect(later.status).toBe(200);
  });

  it("verifies while untouched, through the API and the CLI", async () => {
    const res = await gw.control("GET", "/v1/audit/verify");
    expect(res.status).toBe(200);
    expect(res.body.ok).toBe(true);
    expect(res.body.entries).toBeGreaterThanOrEqual(6);
    expect(cliVerify()).toBe(0);
  });

  it("reports the seq of a row edited in warden.db, and recovers when it is put back", async () => {
    const db = openDb();
    try {
      const { name, seqColumn } = auditTable(db);
      const rows = db.prepare(`SELECT * FROM "${name}" ORDER BY "${seqColumn}"`).all() as Record<
        string,
        unknown
      >[];
      const target = rows
        .slice(1)
        .find((row) =>
          Object.entries(row).some(
            ([k, v]) => !/hash/i.test(k) && typeof v === "string" && v.includes("auditor"),
          ),
        );
      if (!target) throw new Error("no audit row mentions the agent");
      const column = Object.keys(target).find(
        (k) => !/hash/i.test(k) && typeof target[k] === "string" && (target[k] as string).includes("auditor"),
      ) as string;
      const seq = target[seqColumn];
      const original = target[column] as string;
      db.prepare(`UPDATE "${name}" SET "${column}" = ? WHERE "${seqColumn}" = ?`).run(
        original.replace("auditor", "auditer"),
        seq,
      );

      const res = await gw.control("GET", "/v1/audit/verify");
      expect(res.body?.ok, res.text).toBe(false);
      expect(badSeqOf(res.body), res.text).toBe(Number(seq));
      expect(cliVerify()).not.toBe(0);

      db.prepare(`UPDATE "${name}" SET "${column}" = ? WHERE "${seqColumn}" = ?`).run(original, seq);
      expect((await gw.control("GET", "/v1/audit/verify")).body?.ok).toBe(true);
    } finally {
      db.close();
    }
  });

  it("reports a deleted row", async () => {
    const db = openDb();
    try {
      const { name, seqColumn } = auditTable(db);
      const seqs = (
        db.prepare(`SELECT "${seqColumn}" AS s FROM "${name}" ORDER BY "${seqColumn}"`).all() as {
          s: number;
        }[]
      ).map((r) => Number(r.s));
      const victim = seqs[Math.floor(seqs.length / 2)] as number;
      db.prepare(`DELETE FROM "${name}" WHERE "${seqColumn}" = ?`).run(victim);

      const res = await gw.control("GET", "/v1/audit/verify");
      expect(res.body?.ok, res.text).toBe(false);
      const next = seqs[seqs.indexOf(victim) + 1];
      expect([victim, next], res.text).toContain(badSeqOf(res.body));
      expect(cliVerify()).not.toBe(0);
    } finally {
      db.close();
    }
  });
});
