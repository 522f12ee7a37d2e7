/**
 * Teams: an approver's tap on the card in her 1:1 chat, which Warden opened itself (the connector's
 * serviceUrl without its trailing slash, while taps report the activity's, with it), approves and
 * updates that card. A tap naming the same card from another conversation is no tap on it.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { Channel } from "../../bot/channel.js";
import { createChatSdkChannels } from "../../bot/channels/chat-sdk/chat-sdk-channel.js";
import { chatSdkPlatforms } from "../../bot/channels/chat-sdk/platforms.js";
import { startWebhookListener, type WebhookListener } from "../../bot/webhooks/webhook-listener.js";
import { type PlatformKeys, startPlatformKeys } from "../fakes/platform-jwt.js";
import { type FakeTeams, startFakeTeams } from "../fakes/teams-api.js";
import { type BotWorld, createBotWorld } from "./bot-world.js";

const APP_ID = "00000000-aaaa-4bbb-8ccc-0000000000d1";
const ANN = { id: "29:ann", name: "Ann", aadObjectId: "11111111-1111-4111-8111-1111111111d1" };
const EVE = { id: "29:eve", name: "Eve", aadObjectId: "66666666-6666-4666-8666-6666666666d1" };

let keys: PlatformKeys;
let fake: FakeTeams;
let l: WebhookListener;
let w: BotWorld;
afterEach(async () => {
  await w?.bot.stop();
  await l?.close();
  await fake?.close();
  await keys?.close();
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

type Adaptive = { actions?: { type: string; title: string; data?: unknown }[] };
const adaptive = (a: Record<string, unknown>): Adaptive | undefined =>
  (a.attachments as { contentType: string; content: Adaptive }[] | undefined)?.find(
    (x) => x.contentType === "application/vnd.microsoft.card.adaptive",
  )?.content;

describe("Chat SDK channel: Teams 1:1 cards", () => {
  it("an approver's tap on her DM card approves and updates it; the same tap from another chat does not", async () => {
    keys = await startPlatformKeys();
    fake = await startFakeTeams({ appId: APP_ID, keys });
    l = await startWebhookListener({ host: "127.0.0.1", port: 0, log: () => undefined });
    const [channel] = createChatSdkChannels({
      platforms: await chatSdkPlatforms({
        teams: {
          appId: APP_ID,
          appPassword: "pw-dm-test",
          tenantId: "tenant-1",
          apiUrl: fake.url,
          tokenUrl: fake.tokenUrl,
          openIdMetadataUrl: keys.openIdMetadataUrl,
        },
      }),
      listener: l,
      log: () => undefined,
    }) as [Channel];
    w = createBotWorld({ channels: [channel] });
    await w.bot.start();
    await w.store.createPerson(`teams:${ANN.aadObjectId}`, "Ann", "approver");
    const { view, outcome } = await w.hold();
    const card = await until("Ann's DM card", () =>
      fake.sent.find((s) => adaptive(s.activity)?.actions?.length),
    );
    expect(fake.created.map((c) => c.member)).toEqual([ANN.aadObjectId]);
    const data = adaptive(card.activity)?.actions?.find((a) => a.title === "Approve")?.data;
    const tap = (from: typeof ANN, conversation: string) =>
      fake.deliver(l.url, {
        from,
        conversation: { id: conversation, conversationType: "personal", tenantId: "tenant-1" },
        replyToId: card.id,
        value: data,
      });

    // Attack first: Eve names Ann's card from her own 1:1 chat.
    expect((await tap(EVE, "a:eve-own-chat")).status).toBe(200);
    await new Promise((r) => setTimeout(r, 300));
    expect(await w.approvals.get(view.id)).toMatchObject({ state: "pending", approvals: [] });

    expect((await tap(ANN, card.conversationId)).status).toBe(200);
    await expect(outcome).resolves.toMatchObject({ outcome: "approved" });
    await until("the DM card updated", () =>
      card.edits.length > 0 &&
      !adaptive(card.edits.at(-1) ?? {})?.actions?.some((a) => a.type === "Action.Submit")
        ? true
        : undefined,
    );
    expect((await w.approvals.get(view.id))?.approvals).toEqual([`teams:${ANN.aadObjectId}`]);
  });
});
