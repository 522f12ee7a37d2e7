import { describe, expect, it } from "vitest";
import { openDatabase } from "../gateway/index.js";
import { createBotStore, openBotStore } from "./bot-store.js";
import { createRoleResolver, redeemToken } from "./roles.js";

function store(t = { now: 1_000 }) {
  return { s: openBotStore(":memory:", { now: () => t.now }), t };
}

describe("BotStore", () => {
  it("consumeToken() works once, and an expired token is burned without granting anything", async () => {
    const { s, t } = store();
    const a = await s.issueToken("invite", { role: "approver", ttlMs: 1000 });
    expect(await s.consumeToken("invite", a)).toEqual({ role: "approver", person: null });
    expect(await s.consumeToken("invite", a)).toBeUndefined();
    const b = await s.issueToken("invite", { role: "admin", ttlMs: 1000 });
    t.now += 2000;
    expect(await s.consumeToken("invite", b)).toBeUndefined();
    t.now -= 2000;
    expect(await s.consumeToken("invite", b)).toBeUndefined();
  });

  it("consumeToken() does not accept a token of another kind", async () => {
    const { s } = store();
    const link = await s.issueToken("link", { person: "p", ttlMs: 1000 });
    expect(await s.consumeToken("claim", link)).toBeUndefined();
    expect(await s.consumeToken("link", link)).toMatchObject({ person: "p" });
  });

  it("linkIdentity() joins identities to one person and prefers the newest platform", async () => {
    const { s } = store();
    const p = await s.createPerson("web:1", "Ann", "approver");
    await s.linkIdentity("telegram:9", p.id);
    expect((await s.personOf("telegram:9"))?.id).toBe(p.id);
    expect((await s.person(p.id))?.preferred).toBe("telegram");
    expect((await s.identitiesOf(p.id)).sort()).toEqual(["telegram:9", "web:1"]);
  });

  it("keeps card refs, bindings and private chats", async () => {
    const { s } = store();
    const to = { platform: "web", chatId: "c1", threadId: "t" };
    await s.addCardRef("ap1", to, { platform: "web", chatId: "c1", messageId: "m1" });
    expect(await s.cardRefs("ap1")).toEqual([
      { to, ref: { platform: "web", chatId: "c1", messageId: "m1" } },
    ]);
    await s.bind("demo", to);
    expect(await s.agentsBoundTo(to)).toEqual(["demo"]);
    expect(await s.bindingsOf("demo")).toEqual([to]);
    await s.unbind("demo");
    expect(await s.bindingsOf("demo")).toEqual([]);
    await s.createPerson("web:1", "A", "member");
    await s.rememberPrivateChat("web:1", { platform: "web", chatId: "dm1" });
    expect(await s.privateChatOf("web:1")).toEqual({ platform: "web", chatId: "dm1" });
  });

  it("a private chat is the DM itself: a thread the person wrote in is never remembered as it", async () => {
    const db = openDatabase(":memory:");
    const s = createBotStore(db);
    await s.createPerson("slack:U1", "A", "owner");
    await s.rememberPrivateChat("slack:U1", {
      platform: "slack",
      chatId: "U1",
      threadId: "1700000000.000100",
    });
    expect(await s.privateChatOf("slack:U1")).toEqual({ platform: "slack", chatId: "U1" });
    // A row written by an older version, naming a thread, is read as the DM.
    db.prepare("UPDATE bot_identities SET private_chat = ? WHERE identity = ?").run(
      JSON.stringify(["slack", "U1", "1700000000.000200"]),
      "slack:U1",
    );
    expect(await s.privateChatOf("slack:U1")).toEqual({ platform: "slack", chatId: "U1" });
  });
});

describe("createRoleResolver()", () => {
  it("resolves role:owner through a linked identity; unknown ids and unknown roles match nobody", async () => {
    const { s } = store();
    const p = await s.createPerson("web:1", "Olga", "owner");
    await s.linkIdentity("telegram:1", p.id);
    const r = createRoleResolver(s);
    expect(await r.hasRole("telegram:1", "owner")).toBe(true);
    expect(await r.hasRole("telegram:1", "approver")).toBe(true);
    expect(await r.hasRole("telegram:2", "member")).toBe(false);
    expect(await r.hasRole("telegram:1", "superuser")).toBe(false);
  });
});

describe("redeemToken()", () => {
  it("first valid owner claim wins and the token is burned", async () => {
    const { s } = store();
    const claim = await s.issueToken("claim", { ttlMs: 10_000 });
    const other = await s.issueToken("claim", { ttlMs: 10_000 });
    expect(await redeemToken(s, claim, "web:1", "Olga")).toMatchObject({ ok: true, role: "owner" });
    expect(await redeemToken(s, claim, "web:2", "Eve")).toEqual({ ok: false, reason: "invalid_token" });
    expect(await redeemToken(s, other, "web:2", "Eve")).toEqual({ ok: false, reason: "already_owned" });
    expect(await s.personOf("web:2")).toBeUndefined();
  });

  it("an invitation never lowers an existing role", async () => {
    const { s } = store();
    await s.createPerson("web:1", "A", "admin");
    const inv = await s.issueToken("invite", { role: "member", ttlMs: 10_000 });
    expect(await redeemToken(s, inv, "web:1", "A")).toMatchObject({ ok: true, role: "admin" });
  });
});
