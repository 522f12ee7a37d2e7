/**
 * The freeze rule for batch cards on channels whose gestures carry no count (WhatsApp: a 👍 or an
 * "approve" reply names no n): a card message never gains items once sent, a gesture on it covers
 * exactly its items, later requests wait for the window and go to one new message per chat, and the
 * waiting counts as reachable (the request is held, not denied). Fake channel flagged like WhatsApp,
 * real approvals engine, fake clock.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { batchActionData } from "../../bot/batch-cards.js";
import { MAX_BATCH_ITEMS } from "../../bot/batches.js";
import type { SentRef } from "../../bot/channel.js";
import { createFakeChannel } from "../fakes/fake-channel.js";
import { type BotWorld, createBotWorld, settle } from "./bot-world.js";

let w: BotWorld;
let fc: ReturnType<typeof createFakeChannel>;
const ANN = "701";

beforeEach(async () => {
  fc = createFakeChannel({ platform: "wa" });
  w = createBotWorld({ channels: [{ ...fc.channel, gesturesCarryNoCount: true }], batchWindowMs: 5000 });
  await w.bot.start();
  await w.store.createPerson(`wa:${ANN}`, "Ann", "approver");
});
afterEach(async () => {
  await w.bot.stop();
});

/** The approvals recorded on the card message `ref` (what a gesture on it covers). */
async function onMessage(ids: readonly string[], ref: SentRef): Promise<string[]> {
  const out: string[] = [];
  for (const id of ids)
    if ((await w.store.cardRefs(id)).some((c) => c.ref.messageId === ref.messageId)) out.push(id);
  return out;
}

async function burst(n: number) {
  const held = [];
  for (let i = 0; i < n; i++) {
    held.push(await w.hold());
    w.clock.t += 100;
  }
  await settle();
  return held;
}

describe("frozen batch cards (gestures without a count)", () => {
  it("a message never gains items; a bare 'approve' on it covers only its items; the rest come on ONE new message when the window closes", async () => {
    const held = await burst(4);
    const ids = held.map((h) => h.view.id);
    const [first, ...more] = fc.cardsIn(fc.channel.privateChat(ANN).chatId);
    expect(more).toHaveLength(0);
    const firstRef = (first as { ref: SentRef }).ref;
    const shown = await onMessage(ids, firstRef);
    expect(shown).toEqual([ids[0]]); // sent at the first arrival, never edited to add the others
    expect(fc.currentCard(firstRef)?.items ?? []).toHaveLength(0); // a single card
    // The 2nd..4th are held (reachable via the waiting send), not denied.
    for (const id of ids) expect((await w.approvals.get(id))?.state).toBe("pending");

    // A gesture racing the arrivals: covers the one request on that message, nothing else.
    expect(await fc.tap({ from: ANN, ref: firstRef, data: "approve" })).toEqual(["Approved."]);
    for (const id of ids.slice(1))
      expect(await w.approvals.get(id)).toMatchObject({ state: "pending", approvals: [] });

    w.advance(5000);
    await settle();
    const cards = fc.cardsIn(fc.channel.privateChat(ANN).chatId);
    expect(cards).toHaveLength(2);
    const second = (cards[1] as { ref: SentRef }).ref;
    expect(await onMessage(ids, second)).toEqual(ids.slice(1));
    expect(await onMessage(ids, firstRef)).toEqual(shown); // still frozen after the redraws
    // Numbered by batch position, so "2." on the new message is the batch's second request.
    expect(fc.currentCard(second)?.items?.map((i) => i.title.split(".")[0])).toEqual(["2", "3", "4"]);
    expect(await fc.tap({ from: ANN, ref: second, data: "approve" })).toEqual(["Approved: 3 of 3 requests"]);
    for (const h of held) await expect(h.outcome).resolves.toMatchObject({ outcome: "approved" });
  });

  it("button data naming a bigger count on a frozen message still covers only that message's items", async () => {
    const held = await burst(3);
    const ids = held.map((h) => h.view.id);
    w.advance(5000);
    await settle();
    const [, second] = fc.cardsIn(fc.channel.privateChat(ANN).chatId);
    const ref = (second as { ref: SentRef }).ref;
    const batch = (await w.store.batchOf(ids[0] as string)) as string;
    expect(await fc.tap({ from: ANN, ref, data: batchActionData(batch, 3, "approve") })).toEqual([
      "Approved: 2 of 2 requests",
    ]);
    expect(await w.approvals.get(ids[0] as string)).toMatchObject({ state: "pending", approvals: [] });
  });

  it("a full batch sends its waiting items at once, without waiting for the window", async () => {
    const held = await burst(MAX_BATCH_ITEMS);
    const ids = held.map((h) => h.view.id);
    const chat = fc.channel.privateChat(ANN).chatId;
    const refs = new Set<string>();
    let everyShown = true;
    for (const id of ids) {
      const here = (await w.store.cardRefs(id)).filter((c) => c.to.chatId === chat);
      for (const c of here) refs.add(c.ref.messageId);
      if (here.length === 0) everyShown = false;
    }
    expect(everyShown).toBe(true);
    expect(refs.size).toBe(2);
  });

  it("an item decided before the window closes is not sent again; nothing waiting sends nothing", async () => {
    const held = await burst(2);
    const ids = held.map((h) => h.view.id);
    // Decide the waiting second item elsewhere (the web page's path) before the window closes.
    expect(await w.bot.approver.decideFromPage(`wa:${ANN}`, ids[1] as string, "deny")).toBe("Denied.");
    w.advance(5000);
    await settle();
    expect(fc.cardsIn(fc.channel.privateChat(ANN).chatId)).toHaveLength(1);
  });
});
