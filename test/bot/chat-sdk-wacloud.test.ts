/**
 * WhatsApp Business (Cloud API) through the real `@chat-adapter/whatsapp` against a fake Graph API
 * on 127.0.0.1, with the real approvals engine: the card reaches the approver's private chat as an
 * interactive message (≤ 3 buttons, body ≤ 1024, honest cuts); a tap (signed delivery, card found by
 * `context.id`) approves; the outcome follows as a message (no edits on this platform) and a late tap
 * decides nothing; a stranger's tap naming someone else's card, and a tap on a message that was no card, are refused.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { Channel } from "../../bot/channel.js";
import { createChatSdkChannels } from "../../bot/channels/chat-sdk/chat-sdk-channel.js";
import { chatSdkPlatforms } from "../../bot/channels/chat-sdk/platforms.js";
import { startWebhookListener, type WebhookListener } from "../../bot/webhooks/webhook-listener.js";
import { type FakeWaCloud, startFakeWaCloud } from "../fakes/wacloud-api.js";
import { type BotWorld, createBotWorld } from "./bot-world.js";

const APP_SECRET = "meta-app-secret-tests";
const PNID = "1000001";
const ANN = "15550000701";
const EVE = "15550000666";

let fake: FakeWaCloud;
let l: WebhookListener;
let w: BotWorld;
let channel: Channel;

async function setUp(): Promise<void> {
  fake = await startFakeWaCloud({ appSecret: APP_SECRET, phoneNumberId: PNID });
  l = await startWebhookListener({ host: "127.0.0.1", port: 0, log: () => undefined });
  [channel] = createChatSdkChannels({
    platforms: await chatSdkPlatforms({
      wacloud: {
        accessToken: "EAAtest",
        appSecret: APP_SECRET,
        phoneNumberId: PNID,
        verifyToken: "vt",
        apiUrl: fake.url,
      },
    }),
    listener: l,
    log: () => undefined,
  }) as [Channel];
  w = createBotWorld({ channels: [channel] });
  await w.bot.start();
  await w.store.createPerson(`wacloud:${ANN}`, "Ann", "approver");
}
afterEach(async () => {
  await w?.bot.stop();
  await l?.close();
  await fake?.close();
});

async function until<T>(
  what: string,
  f: () => T | undefined | Promise<T | undefined>,
  ms = 10_000,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
const cardTo = (to: string) =>
  until("the card", () => fake.sent.find((m) => m.to === to && m.buttons.length > 0));
const textsTo = (to: string) =>
  fake.sent.filter((m) => m.to === to && m.type === "text").map((m) => m.text ?? "");

describe("Chat SDK channel: WhatsApp Cloud", () => {
  it("card in the approver's chat; a tap approves; the outcome follows; a late tap decides nothing", async () => {
    await setUp();
    const { view, outcome } = await w.hold();
    const card = await cardTo(ANN);
    expect(card.type).toBe("interactive");
    expect(card.buttons.length).toBeLessThanOrEqual(3);
    for (const b of card.buttons) expect(b.title.length).toBeLessThanOrEqual(20);
    expect((card.body ?? "").length).toBeLessThanOrEqual(1024);
    expect(card.body).toContain("to create a thing");
    const approve = card.buttons.find((b) => b.title === "Approve")!;
    expect(
      (await fake.tap(l.url, { from: ANN, cardId: card.id, buttonId: approve.id, title: approve.title }))
        .status,
    ).toBe(200);
    await expect(outcome).resolves.toMatchObject({ outcome: "approved" });
    await until("the answer", () => (textsTo(ANN).includes("Approved.") ? true : undefined));
    await until("the outcome message", () =>
      textsTo(ANN).some((t) => /Approved by/i.test(t)) ? true : undefined,
    );
    await fake.tap(l.url, { from: ANN, cardId: card.id, buttonId: approve.id, title: approve.title });
    await until("the late answer", () =>
      textsTo(ANN).some((t) => t === "Already decided" || t === "You already voted on this request")
        ? true
        : undefined,
    );
    expect((await w.approvals.get(view.id))?.approvals).toEqual([`wacloud:${ANN}`]);
  });

  it("a stranger's tap naming someone else's card, and a tap on a message that was no card, are refused", async () => {
    await setUp();
    const { view } = await w.hold();
    const card = await cardTo(ANN);
    const approve = card.buttons.find((b) => b.title === "Approve")!;
    await fake.tap(l.url, { from: EVE, cardId: card.id, buttonId: approve.id, title: approve.title });
    await until("the refusal", () =>
      // Eve cannot hold Ann's card: a tap naming it from another chat is no tap on a card we sent her.
      textsTo(EVE).includes("This button is not valid.") ? true : undefined,
    );
    const other = await channel.sendText(channel.privateChat(ANN), "just text");
    await fake.tap(l.url, { from: ANN, cardId: other.messageId, buttonId: approve.id, title: approve.title });
    await until("not valid", () => (textsTo(ANN).includes("This button is not valid.") ? true : undefined));
    expect(await w.approvals.get(view.id)).toMatchObject({ state: "pending", approvals: [] });
  });
});
