import Database from "better-sqlite3";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { canonicalJson } from "./audit-chain.js";
import { openSqliteStore } from "./sqlite-store.js";
import type { ApprovalRecord } from "./store.js";

async function withLog(n: number) {
  const path = join(mkdtempSync(join(tmpdir(), "wdn-store-")), "warden.db");
  const store = openSqliteStore(path);
  for (let i = 0; i < n; i++) store.appendAudit({ type: "request", i }, 1000 + i);
  await store.close();
  return path;
}

describe("canonicalJson()", () => {
  it("sorts keys at every level so equal entries hash equally", async () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[1,{"y":2,"z":1}]},"b":1}',
    );
  });
});

describe("openSqliteStore() audit chain", () => {
  it("verifies an untouched log", async () => {
    const store = openSqliteStore(await withLog(5));
    expect(await store.verifyAudit()).toEqual({ ok: true, entries: 5 });
  });

  it.each([
    ["an edited entry", "UPDATE audit SET entry = json_set(entry, '$.i', 99) WHERE seq = 3", 3],
    ["an edited timestamp", "UPDATE audit SET ts = 1 WHERE seq = 2", 2],
    ["a deleted middle row", "DELETE FROM audit WHERE seq = 2", 2],
    ["a deleted newest row", "DELETE FROM audit WHERE seq = 5", 5],
    ["a re-hashed row (breaks the next link)", "UPDATE audit SET hash = 'x' WHERE seq = 4", 4],
  ])("detects %s", async (_why, sql, badSeq) => {
    const path = await withLog(5);
    const db = new Database(path);
    db.exec(sql);
    db.close();
    const r = await openSqliteStore(path).verifyAudit();
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.badSeq).toBe(badSeq);
  });
});

describe("openSqliteStore() placeholders", () => {
  it("keeps an agent's placeholder stable", async () => {
    const store = openSqliteStore(":memory:");
    const a = await store.placeholder("a1", "X", () => "wdn_1");
    expect(await store.placeholder("a1", "X", () => "wdn_2")).toBe(a);
    expect(await store.placeholdersOf("a1")).toEqual(new Map([["wdn_1", "X"]]));
  });
});

describe("openSqliteStore() approvals table from before held bodies", () => {
  it("migrates in place: old rows still read and count toward max_pending, new rows count held bytes", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "wdn-store-")), "warden.db");
    const old = new Database(path);
    old.exec(`CREATE TABLE approvals (id TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, state TEXT NOT NULL,
      created_at INTEGER NOT NULL, data TEXT NOT NULL)`);
    const row: ApprovalRecord = {
      id: "old1",
      fingerprint: "fp",
      agent: "a1",
      method: "POST",
      url: "https://x.test/p",
      host: "x.test",
      path: "/p",
      policy: "p",
      rule: "r",
      bodyPreview: "{}",
      reason: null,
      createdAt: 1,
      expiresAt: 2,
      needed: 1,
      approvers: ["test:a"],
      grantMs: null,
      votes: [],
      state: "pending",
    };
    old
      .prepare("INSERT INTO approvals VALUES (?, ?, ?, ?, ?)")
      .run("old1", "fp", "pending", 1, JSON.stringify(row));
    old.close();

    const store = openSqliteStore(path);
    expect(await store.getApproval("old1")).toEqual(row);
    expect(await store.countPending("a1")).toBe(1);
    expect(await store.heldBytes()).toBe(0);
    await store.putApproval({ ...row, id: "new1", bodyBytes: 500, bodyDigest: "d", bodyAt: "store" });
    await store.putApproval({
      ...row,
      id: "new2",
      agent: "a2",
      bodyBytes: 70,
      bodyDigest: "d",
      bodyAt: "store",
    });
    expect(await store.heldBytes()).toBe(570);
    await store.putApproval({ ...row, id: "new1", bodyBytes: 500, state: "used" });
    expect(await store.heldBytes()).toBe(70);
    expect(await store.countPending("a1")).toBe(1);
    await store.close();
    // Opening again is a no-op migration.
    expect(await openSqliteStore(path).countPending("a2")).toBe(1);
  });
});
