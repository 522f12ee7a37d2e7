/**
 * What every `Store` must do, run against SQLite and PostgreSQL alike (test/gateway/store-*.test.ts).
 * `open` returns a fresh, empty store; `openTwin` (when the backend can) a second store on the SAME
 * database, standing in for a second replica: then the races are real, across connections.
 */
import { describe, expect, it } from "vitest";
import type { ApprovalRecord, Store } from "../../gateway/store.js";

export interface StoreHarness {
  open(): Promise<Store>;
  /** A second store over the database the last `open()` made (another replica), if supported. */
  openTwin?(): Promise<Store>;
  /** Notifications cross to the twin (PostgreSQL); SQLite's stay in their process. */
  readonly crossNotify?: boolean;
}

const approval = (over: Partial<ApprovalRecord> = {}): ApprovalRecord => ({
  id: "a1",
  fingerprint: "fp",
  agent: "bot",
  method: "POST",
  url: "https://api.test/x",
  host: "api.test",
  path: "/x",
  policy: "p",
  rule: "r",
  bodyPreview: "",
  reason: null,
  createdAt: 1000,
  expiresAt: 9000,
  needed: 1,
  approvers: ["test:alice"],
  grantMs: null,
  votes: [],
  state: "pending",
  bodyBytes: 0,
  ...over,
});

export function storeContract(name: string, h: StoreHarness): void {
  describe(`Store contract: ${name}`, () => {
    it("keeps agents, placeholders (stable), secrets and grants", async () => {
      const s = await h.open();
      await s.putAgent({ name: "bot", tokenHash: "h1", createdAt: 5 });
      await s.putAgent({ name: "bot", tokenHash: "h2", createdAt: 6 });
      expect(await s.getAgent("bot")).toEqual({ name: "bot", tokenHash: "h2", createdAt: 5 });
      expect((await s.listAgents()).map((a) => a.name)).toEqual(["bot"]);
      const p = await s.placeholder("bot", "X", () => "wdn_1");
      expect(await s.placeholder("bot", "X", () => "wdn_2")).toBe(p);
      expect(await s.placeholdersOf("bot")).toEqual(new Map([["wdn_1", "X"]]));
      await s.putSecret("X", Buffer.from([0, 1, 255]));
      expect(await s.getSecret("X")).toEqual(Buffer.from([0, 1, 255]));
      expect(await s.listSecrets()).toEqual(["X"]);
      expect(await s.deleteSecret("X")).toBe(true);
      expect(await s.getSecret("X")).toBeUndefined();
      await s.putGrant("bot", "p", "r", 1_700_000_000_000);
      expect(await s.grantUntil("bot", "p", "r")).toBe(1_700_000_000_000);
      expect(await s.deleteAgent("bot")).toBe(true);
      expect(await s.placeholdersOf("bot")).toEqual(new Map());
      await s.close();
    });

    it("approvals: find by fingerprint, compare-and-set once, limits checked as the row goes in", async () => {
      const s = await h.open();
      const a = approval();
      expect(await s.insertApproval(a, { maxPending: 1, maxHeldBytes: 100 })).toBeUndefined();
      expect(
        await s.insertApproval(approval({ id: "a2", fingerprint: "fp2" }), {
          maxPending: 1,
          maxHeldBytes: 100,
        }),
      ).toBe("max_pending");
      expect(
        await s.insertApproval(approval({ id: "a3", agent: "other", bodyBytes: 101 }), {
          maxPending: 9,
          maxHeldBytes: 100,
        }),
      ).toBe("max_held_bytes");
      expect(await s.findApproval("fp", ["pending"])).toEqual(a);
      const approved = { ...a, state: "approved" as const };
      expect(await s.casApproval(a, approved)).toBe(true);
      expect(await s.casApproval(a, { ...a, state: "denied" })).toBe(false); // stale
      expect(await s.casApproval(approved, { ...approved, state: "used" })).toBe(true);
      expect((await s.getApproval("a1"))?.state).toBe("used");
      expect(await s.countPending("bot")).toBe(0);
      expect((await s.listApprovals("used")).map((r) => r.id)).toEqual(["a1"]);
      await s.close();
    });

    it("mailbox: inbox taken once, outbox seq increasing", async () => {
      const s = await h.open();
      await s.pushInbox("bot", { id: "m1", text: "hi", from: null, at: "t" });
      expect(await s.hasInbox("bot")).toBe(true);
      expect(await s.takeInbox("bot")).toEqual([{ id: "m1", text: "hi", from: null, at: "t" }]);
      expect(await s.takeInbox("bot")).toEqual([]);
      const one = await s.appendOutbox("bot", { text: "a", replyTo: null, at: "t" });
      const two = await s.appendOutbox("bot", { text: "b", replyTo: "m1", at: "t" });
      expect(two).toBeGreaterThan(one);
      expect((await s.listOutbox("bot", one, 10)).map((m) => m.text)).toEqual(["b"]);
      await s.close();
    });

    it("audit: one verifiable chain with seq, hash and prevHash", async () => {
      const s = await h.open();
      for (let i = 0; i < 30; i++) s.appendAudit({ type: "request", i }, 1000 + i);
      const rows = await s.listAudit(0, 100);
      expect(rows.map((r) => r.seq)).toEqual([...Array(30).keys()].map((i) => i + 1));
      expect(rows[1]?.prevHash).toBe(rows[0]?.hash);
      expect(await s.verifyAudit()).toEqual({ ok: true, entries: 30 });
      await s.close();
    });

    it("stores hostile strings as data: SQL, quotes, NUL-free control bytes and unicode come back as sent", async () => {
      // Agent-controlled values (names via the control API, reasons, URLs in the audit) reach SQL only
      // as bound parameters (sql-store.ts, sql-audit.ts): a value that would break a quoted literal
      // must round-trip unchanged and leave every table intact.
      const s = await h.open();
      const evil = `x'); DROP TABLE audit; -- "\\ \u2028 $1 ? :a \u{1F600}`;
      await s.putAgent({ name: evil, tokenHash: "h", createdAt: 1 });
      expect((await s.getAgent(evil))?.name).toBe(evil);
      expect(await s.placeholder(evil, "K", () => "wdn_evil")).toBe("wdn_evil");
      s.appendAudit({ type: "request", agent: evil, reason: evil }, 1);
      s.appendAudit({ type: "request", n: 2 }, 2);
      const rows = await s.listAudit(0, 10);
      expect(rows.map((r) => r.entry.reason)).toEqual([evil, undefined]);
      expect(await s.verifyAudit()).toEqual({ ok: true, entries: 2 });
      expect(await s.takeRate(evil, 60_000)).toBe(1);
      expect(await s.deleteAgent(evil)).toBe(true);
      expect(await s.listAgents()).toEqual([]);
      await s.close();
    });

    it("rate windows count per key and window; shared blobs: first writer wins", async () => {
      const s = await h.open();
      expect(await s.takeRate("k", 60_000)).toBe(1);
      expect(await s.takeRate("k", 60_000)).toBe(2);
      expect(await s.takeRate("k", 120_000)).toBe(1); // a new window starts from one
      expect(await s.takeRate("other", 120_000)).toBe(1);
      expect(await s.kvPutIfAbsent("install", "x", Buffer.from("one"))).toBe(true);
      expect(await s.kvPutIfAbsent("install", "x", Buffer.from("two"))).toBe(false);
      expect(await s.kvGet("install", "x")).toEqual(Buffer.from("one"));
      await s.close();
    });

    it("notifications reach listeners (this store's own included)", async () => {
      const s = await h.open();
      const got: string[] = [];
      const off = s.listen("approvals", (m) => got.push(m));
      await s.notify("approvals", "id-1");
      for (let i = 0; i < 100 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
      expect(got).toEqual(["id-1"]);
      off();
      await s.close();
    });

    if (h.openTwin) {
      const twin = h.openTwin.bind(h);
      describe("two replicas on one database", () => {
        it("interleaved audit writers make one gap-free chain", async () => {
          const a = await h.open();
          const b = await twin();
          for (let i = 0; i < 200; i++) (i % 2 ? a : b).appendAudit({ type: "request", i }, 1000 + i);
          await Promise.all([a.flushAudit(), b.flushAudit()]);
          expect(await a.verifyAudit()).toEqual({ ok: true, entries: 200 });
          await Promise.all([a.close(), b.close()]);
        });

        it("exactly one replica wins a compare-and-set; limits hold across both", async () => {
          const a = await h.open();
          const b = await twin();
          const rec = approval();
          await a.putApproval({ ...rec, state: "approved" });
          const approved = { ...rec, state: "approved" as const };
          const wins = await Promise.all(
            [a, b, a, b].map((s) => s.casApproval(approved, { ...approved, state: "used" })),
          );
          expect(wins.filter(Boolean)).toHaveLength(1);
          const tries = await Promise.all(
            [...Array(10).keys()].map((i) =>
              (i % 2 ? a : b).insertApproval(approval({ id: `p${i}`, fingerprint: `f${i}` }), {
                maxPending: 3,
                maxHeldBytes: 1e9,
              }),
            ),
          );
          expect(tries.filter((t) => t === undefined)).toHaveLength(3);
          await Promise.all([a.close(), b.close()]);
        });

        it.runIf(h.crossNotify)("a notification on one reaches the other", async () => {
          const a = await h.open();
          const b = await twin();
          const got: string[] = [];
          b.listen("approvals", (m) => got.push(m));
          await new Promise((r) => setTimeout(r, 100)); // LISTEN is issued
          await a.notify("approvals", "x");
          for (let i = 0; i < 100 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
          expect(got).toEqual(["x"]);
          await Promise.all([a.close(), b.close()]);
        });
      });
    }
  });
}
