/**
 * What every `BotStore` must do, run against SQLite and PostgreSQL alike
 * (test/bot/bot-store-contract.test.ts). `open` returns a fresh, empty store on a clock the test
 * moves; `openTwin` a second store on the SAME database, standing in for a second replica, so the
 * races below are real ones across connections; `rows` reads a table as stored, to check what never
 * reaches the database (token values). Names, tokens and keys here carry quotes and `?` on purpose:
 * chat users choose them, and they must travel as parameters, never as SQL.
 */
import { describe, expect, it } from "vitest";
import type { BotStore } from "../../bot/bot-store.js";

export interface BotStoreHarness {
  open(now: () => number): Promise<BotStore>;
  openTwin?(now: () => number): Promise<BotStore>;
  /** Every row of `table` in the database the last `open()` made. */
  rows(table: string): Promise<Record<string, unknown>[]>;
}

const web = (chatId: string, threadId?: string) =>
  threadId === undefined ? { platform: "web", chatId } : { platform: "web", chatId, threadId };
const ref = (chatId: string, messageId: string) => ({ platform: "web", chatId, messageId });

export function botStoreContract(name: string, h: BotStoreHarness): void {
  describe(`BotStore contract: ${name}`, () => {
    const clock = { t: 1_000_000 };
    const now = () => clock.t;
    const fresh = async () => {
      clock.t = 1_000_000;
      return h.open(now);
    };

    it("people, roles, identities and linking", async () => {
      const s = await fresh();
      const ann = await s.createPerson("web:1", "Ann 'O?", "approver");
      expect(ann).toEqual({ id: ann.id, name: "Ann 'O?", role: "approver", preferred: "web" });
      const bob = await s.createPerson("slack:U2", "Bob", "member"); // same millisecond as Ann
      expect((await s.listPeople()).map((p) => p.name)).toEqual(["Ann 'O?", "Bob"]);
      expect(await s.personOf("web:1")).toEqual(ann);
      expect(await s.person(bob.id)).toEqual(bob);
      expect(await s.findPerson("ann 'o?")).toEqual(ann);
      expect(await s.findPerson(bob.id)).toEqual(bob);
      expect(await s.findPerson("slack:U2")).toEqual(bob);
      expect(await s.findPerson("nobody")).toBeUndefined();
      await s.createPerson("web:3", "BOB", "member");
      expect(await s.findPerson("bob")).toBeUndefined(); // ambiguous
      await s.setRole(bob.id, "admin");
      await s.setPreferred(bob.id, "email");
      expect(await s.person(bob.id)).toMatchObject({ role: "admin", preferred: "email" });
      await expect(s.createPerson("web:1", "Again", "owner")).rejects.toThrow();
      expect((await s.listPeople()).map((p) => p.name)).toEqual(["Ann 'O?", "Bob", "BOB"]);

      clock.t += 10;
      await s.linkIdentity("telegram:9", ann.id);
      await s.linkIdentity("matrix:@a:x", ann.id); // same millisecond: still newest first
      expect(await s.identitiesOf(ann.id)).toEqual(["telegram:9", "matrix:@a:x", "web:1"]);
      expect((await s.person(ann.id))?.preferred).toBe("matrix");
      clock.t += 10;
      await s.linkIdentity("telegram:9", bob.id); // moves it
      expect((await s.personOf("telegram:9"))?.id).toBe(bob.id);
      expect(await s.identitiesOf(ann.id)).toEqual(["matrix:@a:x", "web:1"]);
      expect((await s.person(bob.id))?.preferred).toBe("telegram");

      await s.rememberPrivateChat("web:1", web("dm1", "thread-7"));
      expect(await s.privateChatOf("web:1")).toEqual(web("dm1"));
      expect(await s.privateChatOf("web:404")).toBeUndefined();
      await s.close();
    });

    it("tokens: work once, expire, keep their kind, and only their hash is stored", async () => {
      const s = await fresh();
      const invite = await s.issueToken("invite", { role: "approver", ttlMs: 1000 });
      const link = await s.issueToken("link", { person: "p1", ttlMs: 1000 });
      expect(link).toMatch(/^[A-HJ-NP-Z2-9]{8}$/);
      const chosen = await s.issueToken("claim", { ttlMs: 1000 }, "x'; DROP TABLE bot_tokens; --?");
      const rows = JSON.stringify(await h.rows("bot_tokens"));
      for (const t of [invite, link, chosen]) expect(rows).not.toContain(t);
      expect(await s.consumeToken("claim", invite)).toBeUndefined(); // another kind: not burned
      expect(await s.consumeToken("invite", invite)).toEqual({ role: "approver", person: null });
      expect(await s.consumeToken("invite", invite)).toBeUndefined();
      expect(await s.consumeToken("claim", chosen)).toEqual({ role: null, person: null });
      expect(await s.consumeToken("link", "")).toBeUndefined();
      expect(await s.consumeToken("link", "A".repeat(129))).toBeUndefined();
      clock.t += 1000; // expires_at <= now: expired
      expect(await s.consumeToken("link", link)).toBeUndefined();
      clock.t -= 1000;
      expect(await s.consumeToken("link", link)).toBeUndefined(); // burned while expired
      expect(await h.rows("bot_tokens")).toEqual([]);
      await s.close();
    });

    it("cards and card refs", async () => {
      const s = await fresh();
      const to = web("c1", "t1");
      await s.addCardRef("ap1", to, ref("c1", "m2"));
      await s.addCardRef("ap1", web("c0"), ref("c0", "m1"));
      await s.addCardRef("ap1", to, ref("c1", "m2")); // again: ignored
      expect(await s.cardRefs("ap1")).toEqual([
        { to: web("c0"), ref: ref("c0", "m1") },
        { to, ref: ref("c1", "m2") },
      ]);
      expect(await s.approvalOfCardRef(ref("c1", "m2"))).toBe("ap1");
      expect(await s.approvalOfCardRef(ref("c1", "m3"))).toBeUndefined();
      expect(await s.cardRefs("ap2")).toEqual([]);
      await s.close();
    });

    it("batches: append-only order, the newest per key, cards redrawn", async () => {
      const s = await fresh();
      expect(await s.latestBatch("k")).toBeUndefined();
      expect(await s.addBatchItem("b1", "k", "a1", 10)).toBe(0);
      expect(await s.addBatchItem("b1", "k", "a2", 20)).toBe(1);
      expect(await s.addBatchItem("b2", "k", "a3", 20)).toBe(0); // same last_at: the later batch wins
      expect(await s.latestBatch("k")).toEqual({ id: "b2", lastAt: 20, size: 1 });
      expect(await s.addBatchItem("b1", "k", "a4", 30)).toBe(2);
      expect(await s.latestBatch("k")).toEqual({ id: "b1", lastAt: 30, size: 3 });
      await expect(s.addBatchItem("b2", "k", "a1", 40)).rejects.toThrow(); // one batch per approval
      expect(await s.batchItems("b1")).toEqual(["a1", "a2", "a4"]);
      expect(await s.batchItems("b2")).toEqual(["a3"]);
      expect(await s.batchOf("a2")).toBe("b1");
      expect(await s.batchOf("zz")).toBeUndefined();
      await s.setBatchCard("b1", web("c1"), ref("c1", "m1"), 2);
      await s.setBatchCard("b1", web("c1"), ref("c1", "m1"), 3);
      await s.setBatchCard("b1", web("c0", "t"), ref("c0", "m9"), 1);
      expect(await s.batchCards("b1")).toEqual([
        { to: web("c0", "t"), ref: ref("c0", "m9"), drawn: 1 },
        { to: web("c1"), ref: ref("c1", "m1"), drawn: 3 },
      ]);
      expect(await s.batchOfCardRef(ref("c1", "m1"))).toEqual({ batch: "b1", drawn: 3 });
      expect(await s.batchOfCardRef(ref("c1", "m2"))).toBeUndefined();
      await s.close();
    });

    it("setups: per chat and starter, replaced, ended, expired", async () => {
      const s = await fresh();
      await s.beginSetup(web("c1"), "web:1", "agent", { step: "name", q: "it's?" }, 1000);
      expect(await s.setupOf(web("c1"), "web:1")).toEqual({
        kind: "agent",
        data: { step: "name", q: "it's?" },
      });
      expect(await s.setupOf(web("c1"), "web:2")).toBeUndefined();
      expect(await s.setupOf(web("c1", "t"), "web:1")).toBeUndefined();
      await s.beginSetup(web("c1"), "web:2", "secret", {}, 1000);
      expect(await s.setupOf(web("c1"), "web:1")).toBeUndefined();
      expect(await s.setupOf(web("c1"), "web:2")).toEqual({ kind: "secret", data: {} });
      await s.endSetup(web("c1"));
      expect(await s.setupOf(web("c1"), "web:2")).toBeUndefined();
      await s.beginSetup(web("c2"), "web:1", "agent", {}, 1000);
      clock.t += 1000;
      expect(await s.setupOf(web("c2"), "web:1")).toBeUndefined();
      await s.beginSetup(web("c3"), "web:1", "agent", {}, 1000); // prunes the expired one
      expect((await h.rows("bot_setups")).length).toBe(1);
      await s.close();
    });

    it("bindings and quiet hours", async () => {
      const s = await fresh();
      await s.bind("beta", web("c1", "t"));
      await s.bind("Zed", web("c1", "t"));
      await s.bind("beta", web("c1", "t")); // again: ignored
      await s.bind("beta", web("c2"));
      expect(await s.agentsBoundTo(web("c1", "t"))).toEqual(["Zed", "beta"]); // byte order, not the locale's
      expect(await s.agentsBoundTo(web("c1"))).toEqual([]);
      expect(await s.bindingsOf("beta")).toEqual([web("c1", "t"), web("c2")]);
      await s.unbind("beta", web("c2"));
      expect(await s.bindingsOf("beta")).toEqual([web("c1", "t")]);
      await s.unbind("beta");
      expect(await s.bindingsOf("beta")).toEqual([]);
      expect(await s.agentsBoundTo(web("c1", "t"))).toEqual(["Zed"]);

      expect(await s.quietOf("p1")).toBeUndefined();
      await s.setQuiet("p1", { start: 1320, end: 420, tz: "Europe/Berlin" });
      await s.setQuiet("p1", { start: 1380, end: 360, tz: "UTC" });
      expect(await s.quietOf("p1")).toEqual({ start: 1380, end: 360, tz: "UTC" });
      await s.setQuiet("p1", null);
      expect(await s.quietOf("p1")).toBeUndefined();
      await s.close();
    });

    it("bot_state: put, get, list by prefix (literally), delete, expiry and prune", async () => {
      const s = await fresh();
      const t = clock.t;
      await s.statePut("codes", "a%1", "v1", t + 300);
      await s.statePut("codes", "a_2", "v2", t + 100);
      await s.statePut("codes", "ab3", "v3", t + 200);
      await s.statePut("codes", "b", "v4", t + 100);
      await s.statePut("other", "a%9", "x", t + 100);
      await s.statePut("codes", "a%1", "v1'?", t + 300); // overwrite
      expect(await s.stateGet("codes", "a%1")).toBe("v1'?");
      expect(await s.stateGet("codes", "zz")).toBeUndefined();
      expect(await s.stateList("codes", "a%")).toEqual([{ key: "a%1", value: "v1'?", expiresAt: t + 300 }]);
      expect((await s.stateList("codes", "a")).map((r) => r.key)).toEqual(["a_2", "ab3", "a%1"]);
      expect((await s.stateList("codes")).map((r) => r.key)).toEqual(["a_2", "b", "ab3", "a%1"]);
      // Racing takers (e.g. two replicas releasing a withheld card): exactly one removes the row.
      expect(await Promise.all([s.stateDelete("codes", "b"), s.stateDelete("codes", "b")])).toEqual(
        expect.arrayContaining([true, false]),
      );
      expect(await s.stateGet("codes", "b")).toBeUndefined();
      clock.t = t + 100; // expires_at <= now reads as absent
      expect(await s.stateGet("codes", "a_2")).toBeUndefined();
      expect((await s.stateList("codes")).map((r) => r.key)).toEqual(["ab3", "a%1"]);
      await s.statePrune();
      expect((await h.rows("bot_state")).map((r) => r.key).sort()).toEqual(["a%1", "ab3"]);
      await s.close();
    });

    if (h.openTwin) {
      const twin = h.openTwin.bind(h);
      describe("two replicas on one database", () => {
        it("a token is burned exactly once when both race for it", async () => {
          const a = await fresh();
          const b = await twin(now);
          const tokens = await Promise.all(
            [...Array(10).keys()].map(() => a.issueToken("invite", { role: "admin", ttlMs: 60_000 })),
          );
          const tries = await Promise.all(
            tokens.flatMap((tok) => [a, b, a, b].map((s) => s.consumeToken("invite", tok))),
          );
          expect(tries.filter((g) => g !== undefined)).toHaveLength(10);
          expect(tries.filter((g) => g !== undefined)).toEqual(
            Array(10).fill({ role: "admin", person: null }),
          );
          await Promise.all([a.close(), b.close()]);
        });

        it("batch items appended from both get every position once, in order", async () => {
          const a = await fresh();
          const b = await twin(now);
          const seqs = await Promise.all(
            [...Array(20).keys()].map((i) => (i % 2 ? a : b).addBatchItem("b1", "k", `ap${i}`, 10 + i)),
          );
          expect([...seqs].sort((x, y) => x - y)).toEqual([...Array(20).keys()]);
          const items = await b.batchItems("b1");
          expect(items).toHaveLength(20);
          // Each approval sits at the position its caller was told.
          for (const [i, seq] of seqs.entries()) expect(items[seq]).toBe(`ap${i}`);
          expect((await a.latestBatch("k"))?.size).toBe(20);
          await Promise.all([a.close(), b.close()]);
        });

        it("one identity claimed by both at once makes one person, no orphan", async () => {
          const a = await fresh();
          const b = await twin(now);
          const made = await Promise.allSettled([a, b].map((s) => s.createPerson("web:1", "Ann", "member")));
          expect(made.filter((r) => r.status === "fulfilled")).toHaveLength(1);
          expect(await b.listPeople()).toHaveLength(1);
          await Promise.all([a.close(), b.close()]);
        });
      });
    }
  });
}
