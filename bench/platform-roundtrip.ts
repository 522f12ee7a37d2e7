/**
 * The approval round trip on the #12 platforms (X, iMessage; Matrix, Email, Webex, Messenger and
 * Instagram add themselves to `PLATFORM_DRIVERS`), for `npm run bench`: the real gateway and bot
 * in-process (approval.ts `measureDriver`), each platform's real channel against our fake of that
 * platform on 127.0.0.1. For each held request: ms from the agent's request to the card at the fake
 * platform, and from the platform's gesture (X: a signed Account Activity DM `approve <code>`;
 * iMessage: a 👍 tapback webhook, confirmed by reading it back from the fake BlueBubbles) to the
 * request's release upstream. Telegram runs first as the reference: each p50 is also given as a ratio
 * of Telegram's in the same run. No assertions: it reports.
 *
 * To add a platform: write an `ApprovalDriver` factory (bench/approval-drivers.ts) and add one
 * `{ name, make }` entry below.
 */
import { createBlueBubbles, createIMessageChannel } from "../bot/channels/imessage/index.js";
import { createXApi, createXChannel, memoryCursorStore } from "../bot/channels/x/index.js";
import { startWebhookListener } from "../bot/webhooks/index.js";
import { startFakeBlueBubbles } from "../test/fakes/bluebubbles.js";
import { startFakeX, X_BOT } from "../test/fakes/x-api.js";
import { fmt, measureDriver } from "./approval.js";
import { type ApprovalDriver, DriverSkipped, telegramDriver } from "./approval-drivers.js";
import { emailDriver } from "./platform-roundtrip-email.js";
import { matrixDriver } from "./platform-roundtrip-matrix.js";
import { instagramDriver, messengerDriver, webexDriver } from "./platform-roundtrip-webex-meta.js";
import { percentile } from "./load.js";

export type DriverFactory = () => Promise<ApprovalDriver>;

async function poll<T>(f: () => T | undefined, what: string): Promise<T> {
  const end = Date.now() + 15_000;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`bench: timed out waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

const CARD = /^Warden: approval request \[([a-z0-9]{6})\]/;

/** X: the card is a DM; the gesture is the owner's `approve <code>` DM on the Account Activity webhook. */
export async function xDriver(): Promise<ApprovalDriver> {
  const OWNER = "4242";
  const keys = {
    appKey: "bk",
    appSecret: "bench-consumer-secret",
    accessToken: `${X_BOT.id}-bt`,
    accessSecret: "bs",
  };
  const fake = await startFakeX(keys);
  const l = await startWebhookListener({ host: "127.0.0.1", port: 0, log: () => undefined });
  const channel = createXChannel({
    api: createXApi({ ...keys, apiUrl: fake.url }),
    cursor: memoryCursorStore(),
    log: () => undefined,
    // The webhook carries the gesture; the poll is only the catch-up and stays out of the way.
    pollMs: 60_000,
    webhook: { listener: l, consumerSecret: keys.appSecret },
  });
  let seen = 0;
  return {
    name: "X DMs (twitter-api-v2, approve <code> via Account Activity webhook)",
    channel,
    owner: { identity: `x:${OWNER}`, chat: channel.privateChat(OWNER) },
    async nextCard() {
      const code = await poll(() => {
        const texts = fake.textsIn(OWNER);
        const i = texts.findIndex((t, k) => k >= seen && CARD.test(t));
        if (i < 0) return undefined;
        seen = i + 1;
        return CARD.exec(texts[i] ?? "")?.[1];
      }, "an X card");
      return () => void fake.deliver(l.url, OWNER, `approve ${code}`);
    },
    close: async () => {
      await l.close();
      await fake.close();
    },
  };
}

/** iMessage: the card is a BlueBubbles message; the gesture is the owner's 👍 tapback webhook. */
export async function imessageDriver(): Promise<ApprovalDriver> {
  const OWNER = "+15550004242";
  const TOKEN = "bench_token_0123456789abcdefghijklmnop";
  const fake = await startFakeBlueBubbles("bench-bb-password");
  const l = await startWebhookListener({ host: "127.0.0.1", port: 0, log: () => undefined });
  const channel = createIMessageChannel({
    bb: createBlueBubbles({ url: fake.url, password: "bench-bb-password" }),
    listener: l,
    webhookToken: TOKEN,
    log: () => undefined,
  });
  const hook = `${l.url}/webhooks/imessage/${TOKEN}`;
  const seen = new Set<string>();
  return {
    name: "iMessage (BlueBubbles client, 👍 tapback webhook + read-back)",
    channel,
    owner: { identity: `imessage:${OWNER}`, chat: channel.privateChat(OWNER) },
    async nextCard() {
      const card = await poll(
        () =>
          fake.messages.find(
            (m) =>
              m.isFromMe && m.chatGuid === `iMessage;-;${OWNER}` && !seen.has(m.guid) && CARD.test(m.text),
          ),
        "an iMessage card",
      );
      seen.add(card.guid);
      return () => void fake.tapback(hook, OWNER, card.guid, "like");
    },
    close: async () => {
      await l.close();
      await fake.close();
    },
  };
}

/** The #12 platforms measured by `npm run bench`, in report order. */
export const PLATFORM_DRIVERS: readonly { readonly name: string; readonly make: DriverFactory }[] = [
  { name: "matrix", make: matrixDriver },
  { name: "email", make: emailDriver },
  { name: "webex", make: webexDriver },
  { name: "messenger", make: messengerDriver },
  { name: "instagram", make: instagramDriver },
  { name: "x", make: xDriver },
  { name: "imessage", make: imessageDriver },
];

export async function benchPlatformRoundTrips(runs = 30): Promise<string[]> {
  const lines = [
    `#12 platforms, approval round trip (${runs} runs each; held → card at the fake platform → the platform's gesture → released upstream; ×: p50 over Telegram's in this run):`,
  ];
  const p50 = (xs: number[]) =>
    percentile(
      [...xs].sort((a, b) => a - b),
      50,
    );
  let ref: { card: number; tap: number } | undefined;
  for (const entry of [{ name: "telegram", make: telegramDriver }, ...PLATFORM_DRIVERS]) {
    let driver: ApprovalDriver | undefined;
    try {
      driver = await entry.make();
      process.stderr.write(`bench: ${driver.name} round trips… `);
      const { toCard, toUpstream: all } = await measureDriver(driver, runs);
      process.stderr.write("done\n");
      const toUpstream = all.filter((x) => Number.isFinite(x));
      const lost = all.length - toUpstream.length;
      const card = p50(toCard);
      const tap = p50(toUpstream);
      ref ??= { card, tap };
      const ratio = (v: number, r: number) => (r > 0 ? ` ×${(v / r).toFixed(2)}` : "");
      lines.push(
        `  ${driver.name}: request → card ${fmt(toCard)}${ratio(card, ref.card)}; gesture → upstream ${fmt(toUpstream)}${ratio(tap, ref.tap)}${lost ? ` (${lost} of ${runs} NOT released)` : ""}`,
      );
    } catch (err) {
      if (err instanceof DriverSkipped) {
        lines.push(`  ${entry.name}: skipped: ${err.message}`);
        continue;
      }
      process.stderr.write("failed\n");
      lines.push(`  ${driver?.name ?? entry.name}: failed: ${(err as Error).message.split("\n")[0]}`);
    } finally {
      await driver?.close().catch(() => undefined);
    }
  }
  return lines;
}
