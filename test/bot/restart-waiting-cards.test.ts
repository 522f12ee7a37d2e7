/**
 * Sends that waited in memory survive a bot restart (issue #10): a card held for a person's quiet
 * hours, and WhatsApp batch items waiting for their window to close (a new frozen message). The
 * bot is stopped (its timers die with it) and a NEW bot is built over the same bot store and the
 * same approvals engine, as `warden start` does; `approver.resume()` must send what is owed, once.
 * Fake channels, real approvals engine, fake clock.
 */
import { afterEach, describe, expect, it } from "vitest";
import { createBot } from "../../bot/bot.js";
import type { SentRef } from "../../bot/channel.js";
import { createFakeChannel } from "../fakes/fake-channel.js";
import { createManualClock } from "../fakes/manual-clock.js";
import { type BotWorld, createBotWorld, settle } from "./bot-world.js";

const H = 3_600_000;
const ANN = "701";
const BEN = "702";
let w: BotWorld;
const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const s of stops.splice(0).reverse()) await s().catch(() => undefined);
});

/** Stops the running bot and starts a new one on the same store and engine, as a restart does. */
async function restart(channels: Parameters<typeof createBot>[0]["channels"], batchWindowMs = 0) {
  await w.bot.stop();
  const clock = createManualClock(w.clock.t, w.clock);
  const bot = createBot({
    channels,
    control: w.control,
    store: w.store,
    log: () => undefined,
    now: () => w.clock.t,
    schedule: clock.schedule,
    batchWindowMs,
  });
  await bot.start();
  stops.push(() => bot.stop());
  await bot.approver.resume();
  await settle();
  return { bot, clock };
}

describe("quiet-hours cards across a restart", () => {
  const setup = async () => {
    w = createBotWorld();
    await w.bot.start();
    const ann = await w.person(ANN, "approver", "Ann");
    await w.person(BEN, "approver", "Ben");
    await w.store.setQuiet(ann.id, { start: 22 * 60, end: 7 * 60, tz: "UTC" }); // it is 00:00 UTC
    const { view } = await w.hold({ timeoutMs: 12 * H });
    expect(w.fake.cardsIn(BEN)).toHaveLength(1);
    expect(w.fake.cardsIn(ANN)).toHaveLength(0); // hers waits in memory
    return view;
  };

  it("a card still in quiet hours is re-held at restart and arrives when the hours end", async () => {
    const view = await setup();
    const { clock } = await restart([w.fake.channel, w.tg.channel]);
    expect(w.fake.cardsIn(ANN)).toHaveLength(0);
    // Ben's card says again whose card waits.
    const ben = w.fake.cardsIn(BEN)[0] as { ref: SentRef };
    const lines = (w.fake.currentCard(ben.ref)?.lines ?? []).map((l) => `${l.label}: ${l.value}`);
    expect(lines).toContain("Quiet hours: Ann is in quiet hours until 07:00 (their card waits)");
    clock.advance(7 * H);
    await settle();
    expect(w.fake.cardsIn(ANN)).toHaveLength(1);
    expect((await w.store.cardRefs(view.id)).map((c) => c.to.chatId).sort()).toEqual([ANN, BEN]);
  });

  it("quiet hours that ended while the bot was down: the card is sent at start, once", async () => {
    const view = await setup();
    w.clock.t += 8 * H; // 08:00: nothing fires, the bot is down
    const { bot } = await restart([w.fake.channel, w.tg.channel]);
    expect(w.fake.cardsIn(ANN)).toHaveLength(1);
    await bot.approver.resume(); // a second resume sends nothing twice
    await settle();
    expect(w.fake.cardsIn(ANN)).toHaveLength(1);
    expect(w.fake.cardsIn(BEN)).toHaveLength(1);
    expect((await w.approvals.get(view.id))?.state).toBe("pending");
  });
});

describe("WhatsApp window-close sends across a restart", () => {
  it("batch items waiting for their new message are sent at start, once, and only the missing ones", async () => {
    const wa = createFakeChannel({ platform: "wa" });
    const frozen = { ...wa.channel, gesturesCarryNoCount: true };
    w = createBotWorld({ channels: [frozen], batchWindowMs: 5000 });
    await w.bot.start();
    await w.store.createPerson(`wa:${ANN}`, "Ann", "approver");
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push((await w.hold()).view.id);
      w.clock.t += 100;
    }
    await settle();
    expect(wa.cardsIn(ANN)).toHaveLength(1); // the 2nd and 3rd wait for the window (in memory)

    const { bot } = await restart([w.fake.channel, w.tg.channel, frozen], 5000);
    const cards = wa.cardsIn(ANN);
    expect(cards).toHaveLength(2);
    const second = (cards[1] as { ref: SentRef }).ref;
    const on = async (ref: SentRef) => {
      const out: string[] = [];
      for (const id of ids)
        if ((await w.store.cardRefs(id)).some((c) => c.ref.messageId === ref.messageId)) out.push(id);
      return out;
    };
    expect(await on(second)).toEqual(ids.slice(1));
    expect(await on((cards[0] as { ref: SentRef }).ref)).toEqual(ids.slice(0, 1)); // still frozen
    await bot.approver.resume();
    await settle();
    expect(wa.cardsIn(ANN)).toHaveLength(2);
  });
});
