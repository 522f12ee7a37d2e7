/**
 * The Webex, Messenger and Instagram approval round trips for `npm run bench` (#12): each factory is
 * an `ApprovalDriver` (bench/approval-drivers.ts) for `measureDriver` (bench/approval.ts), the real
 * channel (our own REST / Send API clients) against our fake of that platform on 127.0.0.1, with the
 * gesture arriving the way the platform sends it: a signed webhook into our real webhook listener.
 * Webex: the card is an Adaptive Card in the owner's direct room; the gesture is the owner pressing
 * its Approve button (the fake creates the attachment action and fires the HMAC-SHA1 webhook, which
 * carries ids only, so the channel reads the action back from the API). Messenger / Instagram: the
 * card's buttons message reaches the owner (whose 24-hour window is open, as after any message of
 * theirs); the gesture is the Approve postback, signed with the app secret. No assertions: it reports.
 */
import type { Channel } from "../bot/channel.js";
import { createMetaChannel, type MetaPlatform, memoryWindowStore } from "../bot/channels/meta/index.js";
import { createWebexChannel } from "../bot/channels/webex/index.js";
import { startWebhookListener } from "../bot/webhooks/index.js";
import { startFakeMetaGraph } from "../test/fakes/meta-graph-api.js";
import { startFakeWebex } from "../test/fakes/webex-api.js";
import type { ApprovalDriver } from "./approval-drivers.js";

async function poll<T>(f: () => T | undefined, what: string): Promise<T> {
  const end = Date.now() + 15_000;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`bench: timed out waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

/** Webex: press Approve on the Adaptive Card in the owner's direct room. */
export async function webexDriver(): Promise<ApprovalDriver> {
  const OWNER = "person-olive";
  const fake = await startFakeWebex();
  const l = await startWebhookListener({ host: "127.0.0.1", port: 0, log: () => undefined });
  const channel = createWebexChannel({
    token: fake.token,
    webhookSecret: "bench-webex-webhook-secret",
    apiUrl: fake.url,
    listener: l,
    publicUrl: l.url,
    log: () => undefined,
  });
  // Keyed by the button's data (one per approval): an update re-posts a card under a new id.
  const seen = new Set<string>();
  return {
    name: "Webex (REST client, Adaptive Card Approve via signed webhook)",
    channel,
    owner: { identity: `webex:${OWNER}`, chat: channel.privateChat(OWNER) },
    async nextCard() {
      const found = await poll(() => {
        for (const m of fake.inRoom(fake.directRoom(OWNER))) {
          const approve = m.attachments?.[0]?.content.actions?.find(
            (a) => a.type === "Action.Submit" && a.title === "Approve",
          );
          const data = approve?.data as { w?: unknown } | undefined;
          if (typeof data?.w === "string" && !seen.has(data.w)) return { id: m.id, data: data.w };
        }
        return undefined;
      }, "a Webex card");
      seen.add(found.data);
      return () => void fake.press(OWNER, found.id, { w: found.data }).catch(() => undefined);
    },
    close: async () => {
      await l.close();
      await fake.close();
    },
  };
}

async function metaDriver(platform: MetaPlatform, label: string): Promise<ApprovalDriver> {
  const OWNER = "4242";
  const APP_SECRET = `bench-${platform}-app-secret`;
  const fake = await startFakeMetaGraph({ platform, appSecret: APP_SECRET });
  const l = await startWebhookListener({ host: "127.0.0.1", port: 0, log: () => undefined });
  // The owner wrote to the page a moment ago: the window in which Meta lets the page answer is open.
  const window = memoryWindowStore();
  await window.sawInbound(OWNER, Date.now());
  fake.openWindow(OWNER);
  const channel: Channel = createMetaChannel({
    platform,
    token: fake.token,
    appSecret: APP_SECRET,
    verifyToken: `bench-${platform}-verify-token`,
    apiUrl: fake.url,
    listener: l,
    window,
    log: () => undefined,
  });
  const seen = new Set<string>();
  return {
    name: label,
    channel,
    owner: { identity: `${platform}:${OWNER}`, chat: channel.privateChat(OWNER) },
    async nextCard() {
      const payload = await poll(
        () =>
          fake.sent
            .filter((m) => m.to === OWNER)
            .flatMap((m) => m.buttons)
            .find((b) => b.payload.endsWith(":approve") && !seen.has(b.payload))?.payload,
        `a ${platform} card`,
      );
      seen.add(payload);
      return () => void fake.postback(l.url, OWNER, payload).catch(() => undefined);
    },
    close: async () => {
      await l.close();
      await fake.close();
    },
  };
}

/** Messenger: the Approve postback on the card's button template. */
export const messengerDriver = (): Promise<ApprovalDriver> =>
  metaDriver("messenger", "Messenger (Send API client, Approve postback via signed webhook)");

/** Instagram: the Approve postback on the card's buttons. */
export const instagramDriver = (): Promise<ApprovalDriver> =>
  metaDriver("instagram", "Instagram (Send API client, Approve postback via signed webhook)");
