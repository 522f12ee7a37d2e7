/**
 * `/setup family` through the real router, bot store and approvals engine, on fake channels: the
 * guided conversation, who may run it, what it writes, and the approvals it leads to (only the named
 * parents get a say; the first parent's answer decides; the second's later tap is refused).
 */
import { beforeEach, describe, expect, it } from "vitest";
import { parentIds } from "../../bot/commands/setup.js";
import { compilePolicies } from "../../policies/index.js";
import { familyPolicyYaml } from "../../bot/commands/family-policy.js";
import { createFakeChannel, type FakeChannel } from "../fakes/fake-channel.js";
import { type BotWorld, createBotWorld, settle } from "./bot-world.js";

let w: BotWorld;
// The setup runs on WhatsApp only (numbers are ids there); this fake plays that platform.
let wa: FakeChannel;
const GROUP = "family-group";
const inGroup = (from: string, text: string, mentioned = false) =>
  wa.message({ from, text, chatId: GROUP, isPrivate: false, mentioned });
const lastIn = (chatId: string) => wa.textsIn(chatId).at(-1) ?? "";

beforeEach(async () => {
  wa = createFakeChannel({ platform: "whatsapp", unreachable: ["447700900999"] });
  w = createBotWorld({ channels: [wa.channel] });
  await w.bot.start();
  await w.store.createPerson("whatsapp:1", "Olivia", "owner");
  await w.store.createPerson("whatsapp:4", "Mel", "member");
});

describe("/setup family", () => {
  it("asks for the parents, then names them in the policy (as members: no role beyond it), writes the policy, starts the agent in the group and greets everyone", async () => {
    await inGroup("1", "/setup family");
    expect(lastIn(GROUP)).toMatch(/Who are the parents\?/);
    // The answer is plain group chatter (no mention): the setup still takes it, from its starter only.
    await inGroup("1", "Mum is +44 7700 900123 and Dad is +44 (7700) 900-456");
    expect(lastIn(GROUP)).toMatch(/Who else in the family may ask me for things\?/);
    expect(await w.control.listAgents()).toEqual([]);
    await inGroup("1", "Sam: +44 7700 900789");
    expect(await w.store.personOf("whatsapp:447700900789")).toMatchObject({
      name: "Family member 1",
      role: "member",
    });
    for (const [id, name] of [
      ["447700900123", "Parent 1"],
      ["447700900456", "Parent 2"],
    ] as const) {
      expect(await w.store.personOf(`whatsapp:${id}`)).toMatchObject({ name, role: "member" });
      expect(lastIn(id)).toMatch(
        /^Hi! Olivia made you an approver for the family assistant in your family group\./,
      );
    }
    const policy = w.policyFiles.get("family") ?? "";
    expect(policy).toContain('approvers: ["whatsapp:447700900123", "whatsapp:447700900456"]');
    expect(w.control.listPolicies().find((p) => p.name === "family")?.hosts).toEqual(["family.warden.local"]);
    expect(await w.control.listAgents()).toEqual([{ name: "family", state: "running", provider: "demo" }]);
    expect(await w.store.bindingsOf("family")).toEqual([{ platform: "whatsapp", chatId: GROUP }]);
    expect(lastIn(GROUP)).toMatch(/I must ask a parent \(Parent 1, Parent 2\) before I book anything/);
    // The setup is over: the next plain message is group chatter again.
    const before = wa.textsIn(GROUP).length;
    await inGroup("1", "thanks!");
    expect(wa.textsIn(GROUP).length).toBe(before);
  });

  it("elsewhere takes full identities on running platforms, never typed numbers (they could be a stranger's user id)", async () => {
    await w.fake.message({ from: "9", text: "/setup family", chatId: "g", isPrivate: false });
    await w.store.createPerson("fake:9", "Fay", "owner");
    await w.fake.message({ from: "9", text: "/setup family", chatId: "g", isPrivate: false });
    expect(w.fake.textsIn("g").at(-1)).toMatch(/name them with the app first/);
    await w.fake.message({
      from: "9",
      text: "Mum +44 7700 900123, role:owner, slack:U1",
      chatId: "g",
      isPrivate: false,
    });
    expect(w.fake.textsIn("g").at(-1)).toMatch(/^I could not find anyone in that/);
    expect(await w.store.personOf("fake:447700900123")).toBeUndefined();
    // One parent here, the other on WhatsApp: each greeted in their own private chat.
    await w.fake.message({
      from: "9",
      text: "Mum fake:12, Dad whatsapp:447700900456.",
      chatId: "g",
      isPrivate: false,
    });
    expect(w.fake.textsIn("12").at(-1)).toMatch(
      /made you an approver .* it says how to approve or deny it\.$/,
    );
    expect(lastIn("447700900456")).toMatch(/react 👍 \/ 👎/);
    expect(w.policyFiles.get("family")).toContain('approvers: ["fake:12", "whatsapp:447700900456"]');
    expect(w.fake.textsIn("g").at(-1)).toMatch(/Send their names as before/);
  });

  it("takes @-mentions as WhatsApp resolved them (a hidden number stays a lid: id), not the mention's digits", async () => {
    await inGroup("1", "/setup family");
    await wa.message({
      from: "1",
      text: "@123456789012345 and +44 7700 900456",
      chatId: GROUP,
      isPrivate: false,
      mentions: ["lid:123456789012345"],
    });
    expect(await w.store.personOf("whatsapp:lid:123456789012345")).toMatchObject({ name: "Parent 1" });
    expect(await w.store.personOf("whatsapp:123456789012345")).toBeUndefined();
    expect(w.policyFiles.get("family")).toContain(
      'approvers: ["whatsapp:lid:123456789012345", "whatsapp:447700900456"]',
    );
  });

  it("a parent's number that cannot be reached is refused before anything is saved", async () => {
    await inGroup("1", "/setup family");
    await inGroup("1", "+44 7700 900123 and +44 7700 900999");
    expect(lastIn(GROUP)).toBe(
      'I could not reach +447700900999 on WhatsApp. Check the numbers and send the parents again, or "cancel".',
    );
    expect(await w.store.personOf("whatsapp:447700900999")).toBeUndefined();
    expect(w.policyFiles.has("family")).toBe(false);
    await inGroup("1", "+44 7700 900123 and +44 7700 900456");
    expect(lastIn(GROUP)).toMatch(/Who else in the family/);
  });

  it("/agent start family runs the setup the first time", async () => {
    await inGroup("1", "/agent start family");
    expect(lastIn(GROUP)).toMatch(/Who are the parents\?/);
    expect(await w.control.listAgents()).toEqual([]);
  });

  it("is for admins: a member is refused and nothing waits for their answer", async () => {
    await inGroup("4", "/setup family");
    expect(lastIn(GROUP)).toBe("You need the admin role for that.");
    await inGroup("4", "+44 7700 900123");
    expect(await w.store.personOf("whatsapp:447700900123")).toBeUndefined();
  });

  it("ignores someone else's numbers while it waits, re-asks on text without numbers, and can be cancelled", async () => {
    await inGroup("1", "/setup family");
    await inGroup("4", "+44 7700 900999", true);
    expect(await w.store.personOf("whatsapp:447700900999")).toBeUndefined();
    await inGroup("1", "hmm, let me think");
    expect(lastIn(GROUP)).toMatch(/could not find a phone number/);
    await inGroup("1", "cancel");
    expect(lastIn(GROUP)).toBe("Family setup cancelled; nothing was changed.");
    await inGroup("1", "+44 7700 900123");
    expect(await w.store.personOf("whatsapp:447700900123")).toBeUndefined();
    expect(w.policyFiles.has("family")).toBe(false);
  });

  it("cancelling at the second question keeps the parents and the policy, and starts nothing", async () => {
    await inGroup("1", "/setup family");
    await inGroup("1", "+44 7700 900123");
    await inGroup("1", "what?");
    expect(lastIn(GROUP)).toMatch(/Send their numbers, or "none"/);
    await inGroup("1", "cancel");
    expect(lastIn(GROUP)).toMatch(/The parents and the policy are saved/);
    expect(w.policyFiles.has("family")).toBe(true);
    expect(await w.control.listAgents()).toEqual([]);
  });

  it("the wait ends after ten minutes", async () => {
    await inGroup("1", "/setup family");
    w.clock.t += 11 * 60_000;
    await inGroup("1", "+44 7700 900123");
    expect(await w.store.personOf("whatsapp:447700900123")).toBeUndefined();
  });

  it("keeps an existing person's name and higher role", async () => {
    await w.store.createPerson("whatsapp:447700900123", "Ann", "admin");
    await inGroup("1", "/setup family");
    await inGroup("1", "+447700900123");
    await inGroup("1", "none");
    expect(await w.store.personOf("whatsapp:447700900123")).toMatchObject({ name: "Ann", role: "admin" });
    expect(lastIn(GROUP)).toMatch(/\(Ann\)/);
  });

  it("a booking goes to the parents only; one parent's reply decides and the other's later tap is refused", async () => {
    await inGroup("1", "/setup family");
    await inGroup("1", "+44 7700 900123, +44 7700 900456");
    await inGroup("1", "none");
    const { view, outcome } = await w.hold({
      approvers: ["whatsapp:447700900123", "whatsapp:447700900456"],
      agent: "family",
    });
    expect(wa.cardsIn("1")).toHaveLength(0); // the owner is not a parent: no card, no say
    expect(wa.cardsIn(GROUP)).toHaveLength(1); // the family sees what is pending
    const mum = wa.cardsIn("447700900123")[0];
    const dad = wa.cardsIn("447700900456")[0];
    if (!mum || !dad) throw new Error("cards missing");
    expect(await wa.tap({ from: "1", ref: wa.cardsIn(GROUP)[0]?.ref ?? mum.ref, data: "approve" })).toEqual([
      "You are not an approver for this request",
    ]);
    expect(await wa.tap({ from: "447700900123", ref: mum.ref, data: "approve" })).toEqual(["Approved."]);
    await expect(outcome).resolves.toMatchObject({ outcome: "approved" });
    expect(await wa.tap({ from: "447700900456", ref: dad.ref, data: "approve" })).toEqual([
      "Already decided",
    ]);
    await settle();
    expect(wa.cardsIn("447700900456")[0]?.card).toMatchObject({
      status: "Approved by Parent 1",
      buttons: [],
    });
    expect((await w.approvals.get(view.id))?.approvals).toEqual(["whatsapp:447700900123"]);
  });
});

describe("familyPolicyYaml()", () => {
  it("compiles, names only the parents, holds bookings/orders/messages and refuses the rest", () => {
    const r = compilePolicies([{ file: "family.yaml", text: familyPolicyYaml(["whatsapp:447700900123"]) }]);
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    const p = r.set.policies[0];
    expect(p?.agents).toEqual(["family"]);
    expect(p?.rules.filter((x) => x.action === "approve").map((x) => x.name)).toEqual([
      "book",
      "buy-or-pay",
      "message-outsiders",
    ]);
  });

  it("refuses approver ids that could change the YAML", () => {
    for (const bad of ['x:1"]\nrules: []', "role admin", ""]) expect(() => familyPolicyYaml([bad])).toThrow();
    expect(() => familyPolicyYaml([])).toThrow();
  });
});

describe("parentIds()", () => {
  // biome-ignore format: a table reads best one row per line
  it.each([
    ["+44 7700 900123",                     ["447700900123"]],
    ["447700900123 and 447700900456",       ["447700900123", "447700900456"]],
    ["+1 (555) 010-0199, +1 555 010 0199",  ["15550100199"]],
    ["call me at 12 or 1234567",            []],
    ["1234567890123456789",                 []],
  ])("%s", (text, ids) => {
    expect(parentIds(text)).toEqual(ids);
  });
});
