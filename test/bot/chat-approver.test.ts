/**
 * Approval cards end to end on fakes, with the real approvals engine behind the ControlPort:
 * who gets cards, what taps count, and every way a tap can be wrong.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { actionData } from "../../bot/cards.js";
import { type BotWorld, createBotWorld, settle } from "./bot-world.js";

let w: BotWorld;

beforeEach(async () => {
  w = createBotWorld();
  await w.bot.start();
  await w.person("1", "owner", "Olivia");
  await w.person("2", "approver", "Ann");
  await w.person("3", "approver", "Bob");
  await w.person("4", "member", "Mel");
});

const cardIn = (chatId: string) => {
  const c = w.fake.cardsIn(chatId)[0];
  if (!c) throw new Error(`no card in ${chatId}`);
  return c;
};

describe("ChatApprover.requested()", () => {
  it("sends a card with buttons to every approver's private chat and the agent's bound chat, not to members", async () => {
    await w.store.bind("demo", { platform: "fake", chatId: "g1" });
    const { view } = await w.hold();
    for (const chat of ["1", "2", "3", "g1"]) {
      const { card } = cardIn(chat);
      expect(card.title).toBe("demo wants to POST api.example.test/v1/things");
      expect(card.agentSays).toBe("to create a thing");
      expect(card.status).toBe("Waiting for approval: 0 of 1");
      expect(card.buttons.map((b) => b.label)).toEqual(["Approve", "Deny", "Approve for 15 min"]);
    }
    expect(w.fake.cardsIn("4")).toHaveLength(0);
    expect(await w.store.cardRefs(view.id)).toHaveLength(4);
  });

  it("throws when no approver can be reached, so the gateway denies (fail closed)", async () => {
    await w.store.bind("demo", { platform: "fake", chatId: "g1" }); // a bound group does not count as an approver
    const { outcome } = await w.hold({ approvers: ["slack:U1", "role:nosuchrole"] });
    await expect(outcome).resolves.toMatchObject({ outcome: "unavailable" });
    expect(cardIn("g1").card.status).toBe("Withdrawn");
    expect(cardIn("g1").card.buttons).toEqual([]);
  });

  it("reaches an explicitly named approver on their own platform", async () => {
    const { view } = await w.hold({ approvers: ["tg:99"] });
    expect(w.tg.cardsIn("99")).toHaveLength(1);
    expect(view.state).toBe("pending");
  });
});

describe("ChatApprover.handleAction()", () => {
  it("an approver's tap approves the request and every card is updated without buttons", async () => {
    const { outcome, view } = await w.hold();
    const replies = await w.fake.tap({
      from: "2",
      ref: cardIn("2").ref,
      data: actionData(view.id, "approve"),
    });
    expect(replies).toEqual(["Approved."]);
    await expect(outcome).resolves.toMatchObject({ outcome: "approved" });
    await settle();
    for (const chat of ["1", "2", "3"]) {
      expect(cardIn(chat).card.status).toBe("Approved by Ann");
      expect(cardIn(chat).card.buttons).toEqual([]);
    }
  });

  it("refuses a non-approver's tap and changes nothing", async () => {
    await w.store.bind("demo", { platform: "fake", chatId: "g1" });
    const { view } = await w.hold();
    const updatesBefore = w.fake.updates.length;
    const replies = await w.fake.tap({
      from: "4",
      ref: cardIn("g1").ref,
      data: actionData(view.id, "approve"),
    });
    expect(replies).toEqual(["You are not an approver for this request"]);
    expect(await w.approvals.get(view.id)).toMatchObject({ state: "pending", approvals: [] });
    expect(w.fake.updates.length).toBe(updatesBefore);
    expect(w.auditLog).toContainEqual(
      expect.objectContaining({ type: "approval_vote_refused", by: "fake:4" }),
    );
  });

  it("refuses a stranger's tap (unknown identity) the same way", async () => {
    await w.store.bind("demo", { platform: "fake", chatId: "g1" });
    const { view } = await w.hold();
    const replies = await w.fake.tap({
      from: "666",
      ref: cardIn("g1").ref,
      data: actionData(view.id, "deny"),
    });
    expect(replies).toEqual(["You are not an approver for this request"]);
    expect((await w.approvals.get(view.id))?.state).toBe("pending");
  });

  // biome-ignore format: a table reads best one row per line
  it.each([
    ["garbage data",                          () => "hello"],
    ["right shape, unknown approval id",      () => "a:00000000-0000-4000-8000-999999999999:approve"],
    ["unknown action",                        (id: string) => `a:${id}:approve_all`],
    ["extra field smuggled on the end",       (id: string) => `a:${id}:approve:grant`],
    ["oversized data",                        (id: string) => `a:${id}:approve${" ".repeat(100)}`],
    ["newline injection",                     (id: string) => `a:${id}:approve\n`],
  ])("refuses forged button data: %s", async (_why, data) => {
    const { view } = await w.hold();
    const replies = await w.fake.tap({ from: "2", ref: cardIn("2").ref, data: data(view.id) });
    expect(replies).toEqual(["This button is not valid."]);
    expect(await w.approvals.get(view.id)).toMatchObject({ state: "pending", approvals: [] });
  });

  it("refuses valid data replayed on a message that never carried that approval's card", async () => {
    const a = await w.hold();
    const b = await w.hold();
    const refsOfB = await w.store.cardRefs(b.view.id);
    const refOfB = w.fake.cardsIn("2").find((c) => refsOfB.some((r) => r.ref.messageId === c.ref.messageId));
    const replies = await w.fake.tap({
      from: "2",
      ref: refOfB?.ref ?? cardIn("2").ref,
      data: actionData(a.view.id, "approve"),
    });
    expect(replies).toEqual(["This button is not valid."]);
    const forgedRef = { platform: "fake", chatId: "2", messageId: "123456" };
    expect(await w.fake.tap({ from: "2", ref: forgedRef, data: actionData(a.view.id, "approve") })).toEqual([
      "This button is not valid.",
    ]);
    expect((await w.approvals.get(a.view.id))?.state).toBe("pending");
  });

  it("a bare verb on a card message (a reply or reaction, no buttons) decides that card's approval", async () => {
    const a = await w.hold();
    const b = await w.hold();
    const refsOfB = await w.store.cardRefs(b.view.id);
    const cardOfB = w.fake.cardsIn("2").find((c) => refsOfB.some((r) => r.ref.messageId === c.ref.messageId));
    if (!cardOfB) throw new Error("no card for b");
    expect(await w.fake.tap({ from: "2", ref: cardOfB.ref, data: "deny" })).toEqual(["Denied."]);
    await expect(b.outcome).resolves.toMatchObject({ outcome: "denied" });
    expect((await w.approvals.get(a.view.id))?.state).toBe("pending");
  });

  // biome-ignore format: a table reads best one row per line
  it.each([
    ["a verb on a message that is no card",    "approve", { platform: "fake", chatId: "2", messageId: "123456" }],
    ["an unknown verb on a real card",         "yes please", undefined],
    ["a verb with trailing junk",              "approve ", undefined],
  ])("refuses %s", async (_why, data, ref) => {
    const { view } = await w.hold();
    expect(await w.fake.tap({ from: "2", ref: ref ?? cardIn("2").ref, data })).toEqual([
      "This button is not valid.",
    ]);
    expect(await w.approvals.get(view.id)).toMatchObject({ state: "pending", approvals: [] });
  });

  it("refuses a member's bare verb on the card in a bound group (gateway decides who may vote)", async () => {
    await w.store.bind("demo", { platform: "fake", chatId: "g1" });
    const { view } = await w.hold();
    expect(await w.fake.tap({ from: "4", ref: cardIn("g1").ref, data: "approve" })).toEqual([
      "You are not an approver for this request",
    ]);
    expect((await w.approvals.get(view.id))?.state).toBe("pending");
  });

  it("answers a double tap with the 409 message and counts the vote once", async () => {
    const { view } = await w.hold({ needed: 2 });
    const data = actionData(view.id, "approve");
    expect(await w.fake.tap({ from: "2", ref: cardIn("2").ref, data })).toEqual([
      "Counted: 1 of 2 approvals.",
    ]);
    expect(await w.fake.tap({ from: "2", ref: cardIn("2").ref, data })).toEqual([
      "You already voted on this request",
    ]);
    expect((await w.approvals.get(view.id))?.approvals).toEqual(["fake:2"]);
    await w.fake.tap({ from: "3", ref: cardIn("3").ref, data });
    expect(await w.fake.tap({ from: "1", ref: cardIn("1").ref, data })).toEqual(["Already decided"]);
  });

  it("answers a tap after expiry with Expired and updates the cards", async () => {
    const { view, outcome } = await w.hold({ timeoutMs: 60_000 });
    w.clock.t += 61_000;
    expect(
      await w.fake.tap({ from: "2", ref: cardIn("2").ref, data: actionData(view.id, "approve") }),
    ).toEqual(["Expired"]);
    await expect(outcome).resolves.toMatchObject({ outcome: "expired" });
    await settle();
    expect(cardIn("3").card).toMatchObject({ status: "Expired", buttons: [] });
  });

  it("counts two approvers tapping at once with quorum 2 once each: 1 of 2, then approved", async () => {
    const { view, outcome } = await w.hold({ needed: 2 });
    const data = actionData(view.id, "approve");
    const [r2, r3] = await Promise.all([
      w.fake.tap({ from: "2", ref: cardIn("2").ref, data }),
      w.fake.tap({ from: "3", ref: cardIn("3").ref, data }),
    ]);
    expect([...(r2 ?? []), ...(r3 ?? [])].sort()).toEqual(["Approved.", "Counted: 1 of 2 approvals."]);
    await expect(outcome).resolves.toMatchObject({ outcome: "approved" });
    await settle();
    const statuses = w.fake.updates.filter((u) => u.ref.chatId === "1").map((u) => u.card.status);
    expect(statuses).toContain("Waiting for approval: 1 of 2");
    expect(statuses.at(-1)).toMatch(/^Approved by (Ann, Bob|Bob, Ann)$/);
    expect((await w.approvals.get(view.id))?.approvals).toHaveLength(2);
  });

  it("counts one person once even when they tap from two linked platforms", async () => {
    const ann = await w.store.personOf("fake:2");
    await w.store.linkIdentity("tg:20", ann?.id ?? "");
    await w.store.bind("demo", { platform: "fake", chatId: "g1" });
    const { view } = await w.hold({ needed: 2 });
    const data = actionData(view.id, "approve");
    // Ann linked tg last, so her private card went there; she also sees the card in a bound group.
    const tgCard = w.tg.cardsIn("20")[0];
    expect(tgCard).toBeDefined();
    expect(w.fake.cardsIn("2")).toHaveLength(0);
    expect(await w.tg.tap({ from: "20", ref: tgCard?.ref ?? cardIn("g1").ref, data })).toEqual([
      "Counted: 1 of 2 approvals.",
    ]);
    expect(await w.fake.tap({ from: "2", ref: cardIn("g1").ref, data })).toEqual([
      "You already voted on this request",
    ]);
    expect(await w.approvals.get(view.id)).toMatchObject({ state: "pending" });
    expect((await w.approvals.get(view.id))?.approvals).toHaveLength(1);
  });

  it("a linked identity votes as the person's allowed identity for explicit approver entries", async () => {
    const ann = await w.store.personOf("fake:2");
    await w.store.linkIdentity("tg:20", ann?.id ?? "");
    const { view, outcome } = await w.hold({ approvers: ["fake:2"] });
    // The policy names fake:2, and the fake channel runs, so the card goes there; tapping from tg works too.
    await w.store.bind("demo", { platform: "tg", chatId: "tg-group" });
    await w.bot.approver.requested(view);
    const card = w.tg.cardsIn("tg-group")[0];
    const replies = await w.tg.tap({
      from: "20",
      ref: card?.ref ?? cardIn("2").ref,
      data: actionData(view.id, "approve"),
    });
    expect(replies).toEqual(["Approved."]);
    await expect(outcome).resolves.toMatchObject({ outcome: "approved" });
    expect(w.auditLog).toContainEqual(expect.objectContaining({ type: "approval_vote", by: "fake:2" }));
  });

  it("Approve for 15 min creates a grant: the next identical rule passes without a card", async () => {
    const { view, outcome } = await w.hold();
    expect(await w.fake.tap({ from: "2", ref: cardIn("2").ref, data: actionData(view.id, "grant") })).toEqual(
      ["Approved."],
    );
    await expect(outcome).resolves.toMatchObject({ outcome: "approved" });
    const next = await w.hold();
    await expect(next.outcome).resolves.toMatchObject({ outcome: "approved", via: "grant" });
  });

  it("a deny tap denies and shows who denied", async () => {
    const { view, outcome } = await w.hold({ needed: 2 });
    expect(await w.fake.tap({ from: "3", ref: cardIn("3").ref, data: actionData(view.id, "deny") })).toEqual([
      "Denied.",
    ]);
    await expect(outcome).resolves.toMatchObject({ outcome: "denied" });
    await settle();
    expect(cardIn("2").card).toMatchObject({ status: "Denied by Bob", buttons: [] });
  });
});

describe("ChatApprover.alert()", () => {
  it("tells the owner in a private message", async () => {
    await w.bot.approver.alert({
      kind: "secret_host_mismatch",
      agent: "demo",
      host: "evil.test",
      message: "placeholder for GH_TOKEN sent to evil.test",
    });
    expect(w.fake.textsIn("1").join("\n")).toMatch(
      /Security alert \(secret_host_mismatch\): agent demo, host evil\.test/,
    );
    expect(w.fake.textsIn("2")).toEqual([]);
  });
});
