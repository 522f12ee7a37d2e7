import { describe, expect, it } from "vitest";
import { openDatabase } from "../gateway/index.js";
import { createBotStore, openBotStore } from "./bot-store.js";
import { createRoleResolver, redeemToken } from "./roles.js";

function store(t = { now: 1_000 }) {
  return { s: openBotStore(":memory:", { now: () => t.now }), t };
}

describe("BotStore", () => {
  it("consumeToken() works once, and an expired token is burned without granting anything", () => {
    const { s, t } = store();
    const a = s.issueToken("invite", { role: "approver", ttlMs: 1000 });
    expect(s.consumeToken("invite", a)).toEqual({ role: "approver", person: null });
    expect(s.consumeToken("invite", a)).toBeUndefined();
    const b = s.issueToken("invite", { role: "admin", ttlMs: 1000 });
    t.now += 2000;
    expect(s.consumeToken("invite", b)).toBeUndefined();
    t.now -= 2000;
    expect(s.consumeToken("invite", b)).toBeUndefined();
  });

  it("consumeToken() does not accept a token of another kind", () => {
    const { s } = store();
    const link = s.issueToken("link", { person: "p", ttlMs: 1000 });
    expect(s.consumeToken("claim", link)).toBeUndefined();
    expect(s.consumeToken("link", link)).toMatchObject({ person: "p" });
  });

  it("linkIdentity() joins identities to one person and prefers the newest platform", () => {
    const { s } = store();
    const p = s.createPerson("web:1", "Ann", "approver");
    s.linkIdentity("telegram:9", p.id);
    expect(s.personOf("telegram:9")?.id).toBe(p.id);
    expect(s.person(p.id)?.preferred).toBe("telegram");
    expect(s.identitiesOf(p.id).sort()).toEqual(["telegram:9", "web:1"]);
  });

  it("keeps card refs, bindings and private chats", () => {
    const { s } = store();
    const to = { platform: "web", chatId: "c1", threadId: "t" };
    s.addCardRef("ap1", to, { platform: "web", chatId: "c1", messageId: "m1" });
    expect(s.cardRefs("ap1")).toEqual([{ to, ref: { platform: "web", chatId: "c1", messageId: "m1" } }]);
    s.bind("demo", to);
    expect(s.agentsBoundTo(to)).toEqual(["demo"]);
    expect(s.bindingsOf("demo")).toEqual([to]);
    s.unbind("demo");
    expect(s.bindingsOf("demo")).toEqual([]);
    s.createPerson("web:1", "A", "member");
    s.rememberPrivateChat("web:1", { platform: "web", chatId: "dm1" });
    expect(s.privateChatOf("web:1")).toEqual({ platform: "web", chatId: "dm1" });
  });

  it("a private chat is the DM itself: a thread the person wrote in is never remembered as it", () => {
    const db = openDatabase(":memory:");
    const s = createBotStore(db);
    s.createPerson("slack:U1", "A", "owner");
    s.rememberPrivateChat("slack:U1", { platform: "slack", chatId: "U1", threadId: "1700000000.000100" });
    expect(s.privateChatOf("slack:U1")).toEqual({ platform: "slack", chatId: "U1" });
    // A row written by an older version, naming a thread, is read as the DM.
    db.prepare("UPDATE bot_identities SET private_chat = ? WHERE identity = ?").run(
      JSON.stringify(["slack", "U1", "1700000000.000200"]),
      "slack:U1",
    );
    expect(s.privateChatOf("slack:U1")).toEqual({ platform: "slack", chatId: "U1" });
  });
});

describe("createRoleResolver()", () => {
  it("resolves role:owner through a linked identity; unknown ids and unknown roles match nobody", () => {
    const { s } = store();
    const p = s.createPerson("web:1", "Olga", "owner");
    s.linkIdentity("telegram:1", p.id);
    const r = createRoleResolver(s);
    expect(r.hasRole("telegram:1", "owner")).toBe(true);
    expect(r.hasRole("telegram:1", "approver")).toBe(true);
    expect(r.hasRole("telegram:2", "member")).toBe(false);
    expect(r.hasRole("telegram:1", "superuser")).toBe(false);
  });
});

describe("redeemToken()", () => {
  it("first valid owner claim wins and the token is burned", () => {
    const { s } = store();
    const claim = s.issueToken("claim", { ttlMs: 10_000 });
    const other = s.issueToken("claim", { ttlMs: 10_000 });
    expect(redeemToken(s, claim, "web:1", "Olga")).toMatchObject({ ok: true, role: "owner" });
    expect(redeemToken(s, claim, "web:2", "Eve")).toEqual({ ok: false, reason: "invalid_token" });
    expect(redeemToken(s, other, "web:2", "Eve")).toEqual({ ok: false, reason: "already_owned" });
    expect(s.personOf("web:2")).toBeUndefined();
  });

  it("an invitation never lowers an existing role", () => {
    const { s } = store();
    s.createPerson("web:1", "A", "admin");
    const inv = s.issueToken("invite", { role: "member", ttlMs: 10_000 });
    expect(redeemToken(s, inv, "web:1", "A")).toMatchObject({ ok: true, role: "admin" });
  });
});
