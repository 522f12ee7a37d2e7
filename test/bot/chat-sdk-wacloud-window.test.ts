/**
 * WhatsApp Cloud's 24-hour window, through the real `@chat-adapter/whatsapp` against a fake Graph
 * API that enforces it like Meta (error 131047 for free-form messages to someone silent for 24 h),
 * with the real approvals engine. Outside the window a card is never sent as a card: without
 * `WHATSAPP_CARD_TEMPLATE` nothing is sent and the approval stays held (fail closed); with it the
 * fixed template goes (no agent words in it), and the card follows when the person writes. The
 * windows and waiting cards live in the bot's SQLite store, so a restart keeps them.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type BotStore, openBotStore } from "../../bot/bot-store.js";
import type { Channel } from "../../bot/channel.js";
import { createChatSdkChannels } from "../../bot/channels/chat-sdk/chat-sdk-channel.js";
import { chatSdkPlatforms } from "../../bot/channels/chat-sdk/platforms.js";
import { parseWaTemplate, type WaTemplate } from "../../bot/channels/chat-sdk/wacloud-window.js";
import { waWindowStoreOf } from "../../bot/persisted-state.js";
import { startWebhookListener, type WebhookListener } from "../../bot/webhooks/webhook-listener.js";
import { type FakeWaCloud, startFakeWaCloud } from "../fakes/wacloud-api.js";
import { type BotWorld, createBotWorld } from "./bot-world.js";

const APP_SECRET = "meta-app-secret-window";
const TOKEN = "EAAwindow-access-token-secret";
const PNID = "1000002";
const ANN = "15550000801";
const EVE = "15550000866";

let dir: string;
let fake: FakeWaCloud;
let l: WebhookListener | undefined;
let w: BotWorld | undefined;
let state: BotStore | undefined;
let channel: Channel;
let logs: { event: string; fields: Record<string, unknown> }[];

async function setUp(template?: WaTemplate): Promise<void> {
  fake ??= await startFakeWaCloud({ appSecret: APP_SECRET, phoneNumberId: PNID, enforceWindow: true });
  state = openBotStore(join(dir, "warden.db"));
  l = await startWebhookListener({ host: "127.0.0.1", port: 0, log: () => undefined });
  logs = [];
  [channel] = createChatSdkChannels({
    platforms: await chatSdkPlatforms(
      {
        wacloud: {
          accessToken: TOKEN,
          appSecret: APP_SECRET,
          phoneNumberId: PNID,
          verifyToken: "vt",
          apiUrl: fake.url,
          cardTemplate: template,
        },
      },
      { waWindow: waWindowStoreOf(state) },
    ),
    listener: l,
    log: (event, fields = {}) => void logs.push({ event, fields }),
  }) as [Channel];
  w = createBotWorld({ channels: [channel] });
  await w.bot.start();
  await w.store.createPerson(`wacloud:${ANN}`, "Ann", "approver");
}
async function tearDown(): Promise<void> {
  await w?.bot.stop();
  await l?.close();
  state?.close();
  [w, l, state] = [undefined, undefined, undefined];
}
afterEach(async () => {
  await tearDown();
  await fake?.close();
  fake = undefined as unknown as FakeWaCloud;
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function until<T>(
  what: string,
  f: () => T | undefined | Promise<T | undefined>,
  ms = 15_000,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
const to = (who: string) => fake.sent.filter((m) => m.to === who);
const settle = () => new Promise((r) => setTimeout(r, 300));

describe("WhatsApp Cloud: the 24-hour window", () => {
  it("without a template, a card to someone outside the window is not sent and the request is refused, never approved", async () => {
    dir = mkdtempSync(join(tmpdir(), "wa-window-"));
    await setUp();
    const { view } = await w!.hold();
    await until("the refusal to send", () =>
      w!.logs.find((e) => e.event === "bot_card_send_failed" && e.fields.platform === "wacloud"),
    );
    expect(w!.logs.find((e) => e.event === "bot_card_send_failed")?.fields.error).toBe(
      "WhatsAppWindowClosed",
    );
    expect(logs).toContainEqual({
      event: "wacloud_undeliverable",
      fields: { what: "card", reason: "outside_24h_window", template: false },
    });
    await settle();
    // Nothing reached Ann, not even an attempt Meta would have refused. No approver could see a
    // card, so the engine fails closed: the request is refused (audited approval_undeliverable).
    expect(to(ANN)).toEqual([]);
    expect(fake.refused).toEqual([]);
    expect(await w!.approvals.get(view.id)).toMatchObject({ state: "denied", approvals: [] });
    // Nothing secret in what was logged.
    expect(JSON.stringify([logs, w!.logs])).not.toContain(TOKEN);
  });

  it("with a template: the fixed template goes instead; the card follows when Ann writes, and her tap approves", async () => {
    dir = mkdtempSync(join(tmpdir(), "wa-window-"));
    await setUp(parseWaTemplate("warden_approval:en_US"));
    const { view, outcome } = await w!.hold();
    const nudge = await until("the template", () => to(ANN).find((m) => m.type === "template"));
    // The template's words are Meta-approved and fixed: no parameters, so nothing the agent wrote.
    expect(nudge.template).toEqual({ name: "warden_approval", language: "en_US" });
    expect(to(ANN).filter((m) => m.type !== "template")).toEqual([]);
    expect((await w!.approvals.get(view.id))?.state).toBe("pending");

    // A stranger writing does not release Ann's card to anyone.
    await fake.text(l!.url, { from: EVE, text: "hi" });
    await settle();
    expect(to(EVE).some((m) => m.buttons.length > 0)).toBe(false);

    expect((await fake.text(l!.url, { from: ANN, text: "show me" })).status).toBe(200);
    const card = await until("the card", () => to(ANN).find((m) => m.buttons.length > 0));
    expect(card.body).toContain("to create a thing");
    const approve = card.buttons.find((b) => b.title === "Approve")!;
    // Eve naming the card Ann was shown is no tap on a card of hers.
    await fake.tap(l!.url, { from: EVE, cardId: card.id, buttonId: approve.id, title: approve.title });
    await until("Eve refused", () =>
      to(EVE).some((m) => m.text === "This button is not valid.") ? true : undefined,
    );
    expect((await w!.approvals.get(view.id))?.approvals).toEqual([]);
    await fake.tap(l!.url, { from: ANN, cardId: card.id, buttonId: approve.id, title: approve.title });
    await expect(outcome).resolves.toMatchObject({ outcome: "approved" });
    expect((await w!.approvals.get(view.id))?.approvals).toEqual([`wacloud:${ANN}`]);
  });

  it("Meta's own 131047 refusal (the window closed though Ann once wrote) is read the same way", async () => {
    dir = mkdtempSync(join(tmpdir(), "wa-window-"));
    await setUp(parseWaTemplate("warden_approval"));
    await fake.text(l!.url, { from: ANN, text: "hello" });
    await until("Ann's message seen", async () =>
      (await state!.stateGet("wacloud-window", ANN)) ? true : undefined,
    );
    fake.closeWindow(ANN);
    const { view } = await w!.hold();
    const nudge = await until("the template", () => to(ANN).find((m) => m.type === "template"));
    expect(nudge.template).toEqual({ name: "warden_approval", language: "en" });
    expect(fake.refused.filter((r) => r.to === ANN).map((r) => r.type)).toContain("interactive");
    expect((await w!.approvals.get(view.id))?.state).toBe("pending");
    // Texts are not templated: they fail, and say why, without retrying forever.
    await expect(channel.sendText(channel.privateChat(ANN), "later")).rejects.toThrow(/24-hour window/);
  });

  it("a card waiting on the template survives a restart: Ann writes after it and gets the card", async () => {
    dir = mkdtempSync(join(tmpdir(), "wa-window-"));
    await setUp(parseWaTemplate("warden_approval"));
    await w!.hold();
    await until("the template", () => to(ANN).find((m) => m.type === "template"));
    await tearDown();
    // The channel restarts on the same state file (the approval engine's own restart is tested elsewhere).
    await setUp(parseWaTemplate("warden_approval"));
    await fake.text(l!.url, { from: ANN, text: "ok" });
    const card = await until("the card after restart", () => to(ANN).find((m) => m.buttons.length > 0));
    expect(card.body).toContain("to create a thing");
  });

  it("WHATSAPP_CARD_TEMPLATE is name[:language]; anything else is refused", () => {
    expect(parseWaTemplate("warden_approval")).toEqual({ name: "warden_approval", language: "en" });
    expect(parseWaTemplate("warden_approval:pt_BR")).toEqual({ name: "warden_approval", language: "pt_BR" });
    for (const bad of ["", "Warden Approval", "a:b:c", "x:{{1}}", "name:en_US extra"])
      expect(() => parseWaTemplate(bad)).toThrow(/name\[:language\]/);
  });
});
