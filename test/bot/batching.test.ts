/**
 * Batch cards on the fake channel with the real approvals engine: what a tap on a batch card may do,
 * and every way it can be wrong (wrong message, a count beyond the batch, a bare verb, grant).
 */
import { beforeEach, describe, expect, it } from "vitest";
import { batchActionData, parseBatchAction } from "../../bot/batch-cards.js";
import { actionData } from "../../bot/cards.js";
import { type BotWorld, createBotWorld, settle } from "./bot-world.js";

let w: BotWorld;

beforeEach(async () => {
  w = createBotWorld({ batchWindowMs: 5000 });
  await w.bot.start();
  await w.person("2", "approver", "Ann");
  await w.person("4", "member", "Mel");
});

/** Holds `n` requests 100 ms apart; resolves once their batch card in Ann's chat shows all. */
async function burst(n: number) {
  const held = [];
  for (let i = 0; i < n; i++) {
    held.push(await w.hold());
    w.clock.t += 100;
  }
  await settle();
  const cards = w.fake.cardsIn("2");
  expect(cards).toHaveLength(1);
  const ref = (cards[0] as (typeof cards)[number]).ref;
  const batch = (await w.store.batchOf(held[0]?.view.id as string)) as string;
  return { held, ref, batch, current: () => w.fake.currentCard(ref) };
}

describe("batch cards", () => {
  it("draws every item with its own buttons and Approve all (N) bound to the N drawn", async () => {
    const { current, batch } = await burst(3);
    const card = current();
    expect(card?.items).toHaveLength(3);
    expect(card?.buttons.map((b) => [b.label, parseBatchAction(b.data)])).toEqual([
      ["Approve all (3)", { batch, count: 3, action: "approve" }],
      ["Deny all (3)", { batch, count: 3, action: "deny" }],
    ]);
  });

  it("an item's own button decides only that item; the card is redrawn with one fewer waiting", async () => {
    const { held, ref, current } = await burst(3);
    const second = held[1]?.view.id as string;
    expect(await w.fake.tap({ from: "2", ref, data: actionData(second, "deny") })).toEqual(["Denied."]);
    await settle();
    expect((await w.approvals.get(second))?.state).toBe("denied");
    expect((await w.approvals.get(held[0]?.view.id as string))?.state).toBe("pending");
    expect(current()?.buttons[0]?.label).toBe("Approve all (2)");
    expect(current()?.items?.[1]?.buttons).toEqual([]);
  });

  it("Deny all denies exactly the drawn items still waiting", async () => {
    const { held, ref, batch } = await burst(2);
    expect(await w.fake.tap({ from: "2", ref, data: batchActionData(batch, 2, "deny") })).toEqual([
      "Denied: 2 of 2 requests",
    ]);
    for (const x of held) await expect(x.outcome).resolves.toMatchObject({ outcome: "denied" });
    await settle();
    expect(w.fake.currentCard(ref)?.buttons).toEqual([]);
  });

  it("refuses Approve all on a message of another batch, and a count beyond the batch", async () => {
    const { held, ref, batch } = await burst(2);
    w.clock.t += 60_000; // a new batch after the window
    await w.store.createPerson("fake:9", "Other", "member");
    const other = await w.hold();
    await settle();
    const otherRef = (await w.store.cardRefs(other.view.id)).find((c) => c.to.chatId === "2")?.ref;
    expect(otherRef?.messageId).not.toBe(ref.messageId);
    const data = batchActionData(batch, 2, "approve");
    expect(await w.fake.tap({ from: "2", ref: otherRef as typeof ref, data })).toEqual([
      "This button is not valid.",
    ]);
    expect(await w.fake.tap({ from: "2", ref, data: batchActionData(batch, 3, "approve") })).toEqual([
      "This button is not valid.",
    ]);
    for (const x of [...held, other]) expect((await w.approvals.get(x.view.id))?.state).toBe("pending");
    expect(w.logs.filter((l) => l.event === "bot_action_refused")).toHaveLength(2);
  });

  it("a bare verb on a batch card (WhatsApp) covers what the message shows; grant is per request", async () => {
    const { held, ref } = await burst(3);
    expect(await w.fake.tap({ from: "2", ref, data: "grant" })).toEqual([
      "A time-limited approval is given per request, on its own buttons.",
    ]);
    expect(await w.fake.tap({ from: "2", ref, data: "approve" })).toEqual(["Approved: 3 of 3 requests"]);
    for (const x of held) await expect(x.outcome).resolves.toMatchObject({ outcome: "approved" });
  });

  it("a member's Approve all is refused privately, audited per item, and changes nothing", async () => {
    await w.store.bind("demo", { platform: "fake", chatId: "g1" });
    const { held, batch } = await burst(2);
    const group = w.fake.cardsIn("g1")[0]?.ref;
    expect(
      await w.fake.tap({
        from: "4",
        ref: group as NonNullable<typeof group>,
        data: batchActionData(batch, 2, "approve"),
      }),
    ).toEqual(["You are not an approver for these requests"]);
    for (const x of held)
      expect(await w.approvals.get(x.view.id)).toMatchObject({ state: "pending", approvals: [] });
    expect(w.auditLog.filter((e) => e.type === "approval_vote_refused" && e.by === "fake:4")).toHaveLength(2);
  });

  it("window 0: one card per request", async () => {
    const w0 = createBotWorld({ batchWindowMs: 0 });
    await w0.bot.start();
    await w0.person("2", "approver", "Ann");
    await w0.hold();
    await w0.hold();
    expect(w0.fake.cardsIn("2")).toHaveLength(2);
    expect(w0.fake.cardsIn("2").every((c) => c.card.items === undefined)).toBe(true);
  });
});
