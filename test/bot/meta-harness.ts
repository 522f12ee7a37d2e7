/**
 * The Messenger and Instagram suites (one Channel shape over one Send API client): the channel and
 * approval-tap contracts against a fake Graph API that signs webhooks like Meta and enforces the
 * 24-hour window; then the attacks and the window: forged, unsigned, stale and replayed webhooks never
 * reach the bot; our echoes are ignored; a postback carrying someone else's card code decides nothing;
 * outside the window nothing is sent (the card is undeliverable, the approval stays held for the other
 * approvers) and Meta's own window refusal is read the same way; secrets stay out of the logs.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { Channel, InboundEvent, SentRef } from "../../bot/channel.js";
import { verbOfData } from "../../bot/channels/approval-codes.js";
import {
  createMetaChannel,
  MessagingWindowClosed,
  type MetaPlatform,
  memoryWindowStore,
  type WindowStore,
} from "../../bot/channels/meta/index.js";
import { startWebhookListener, type WebhookListener } from "../../bot/webhooks/webhook-listener.js";
import { approvalTapsContract } from "../contracts/approval-taps.contract.js";
import { channelContract } from "../contracts/channel.contract.js";
import { type FakeMetaGraph, type MetaSent, startFakeMetaGraph } from "../fakes/meta-graph-api.js";
import { pollUntil } from "../fakes/poll-until.js";
import { rawPost } from "../fakes/webhook-client.js";
import { createBotWorld } from "./bot-world.js";

const APP_SECRET = "meta-app-secret-for-tests";
const VERIFY = "meta-verify-token-for-tests";
/** Everyone the contract suites name: they wrote to the page recently (seeded, as a restart would keep). */
const PEOPLE = [
  "4242",
  "4243",
  "4244",
  "4245",
  "4246",
  "4247",
  "4248",
  "4249",
  "4250",
  "701",
  "702",
  "703",
  "709",
  "666",
];

interface World {
  fake: FakeMetaGraph;
  listener: WebhookListener;
  channel: Channel;
  window: WindowStore;
  logs: string[];
  close(): Promise<void>;
}

async function world(platform: MetaPlatform, seed = PEOPLE): Promise<World> {
  const fake = await startFakeMetaGraph({ platform, appSecret: APP_SECRET });
  const listener = await startWebhookListener({ host: "127.0.0.1", port: 0, log: () => undefined });
  const window = memoryWindowStore();
  for (const u of seed) {
    await window.sawInbound(u, Date.now());
    fake.openWindow(u);
  }
  const logs: string[] = [];
  const channel = createMetaChannel({
    platform,
    token: fake.token,
    appSecret: APP_SECRET,
    verifyToken: VERIFY,
    apiUrl: fake.url,
    listener,
    window,
    log: (event, fields) => void logs.push(JSON.stringify({ event, fields })),
  });
  const close = async () => {
    await listener.close();
    await fake.close();
  };
  return { fake, listener, channel, window, logs, close };
}

const isCardText = (t: string) => t.startsWith("Warden approval request");
const isUpdate = (t: string) => t.startsWith("Update on an approval request:");
const shownText = (m: MetaSent) => m.text ?? m.templateText ?? "";
/** The card `ref` as read: the text message before its buttons (when there is one), then the buttons' message. */
function cardView(fake: FakeMetaGraph, ref: SentRef): { text: string; buttons: string[] } {
  const i = fake.sent.findIndex((m) => m.mid === ref.messageId);
  const m = fake.sent[i];
  if (!m) return { text: "", buttons: [] };
  // The card's text messages right before its buttons, back to the one that heads the card.
  const mine = fake.sent.slice(0, i).filter((x) => x.to === m.to);
  let lead = "";
  for (let k = mine.length - 1; k >= 0 && k >= mine.length - 3; k--) {
    const t = mine[k]?.text;
    if (t === undefined || mine[k]?.buttons.length) break;
    lead = t + lead;
    if (isCardText(t)) break;
  }
  if (!isCardText(lead)) lead = "";
  // As a person reads it: the "│ " before each body line is a margin.
  const text = `${lead}${lead ? "\n" : ""}${shownText(m)}`.replace(/^│ /gm, "");
  return { text, buttons: m.buttons.map((b) => b.title) };
}
const textsTo = (fake: FakeMetaGraph, user: string) => fake.sent.filter((m) => m.to === user).map(shownText);
const followUps = (fake: FakeMetaGraph, ref: SentRef) => {
  const i = fake.sent.findIndex((m) => m.mid === ref.messageId);
  return fake.sent
    .slice(i + 1)
    .filter((m) => m.to === ref.chatId)
    .map(shownText);
};

export function metaSuites(platform: MetaPlatform): void {
  channelContract(platform, async () => {
    const w = await world(platform);
    return {
      channel: w.channel,
      maxTextLength: platform === "messenger" ? 2000 : 1000,
      injectPrivateText: async (userId, text) => void (await w.fake.text(w.listener.url, userId, text)),
      textsIn: (chatId) => textsTo(w.fake, chatId),
      buttonsOn: (ref) => w.fake.sent.find((m) => m.mid === ref.messageId)?.buttons.length ?? 0,
      shownOn: (ref) => cardView(w.fake, ref),
      noEdits: true,
      buttonTitleMax: 20,
      close: w.close,
    };
  });

  approvalTapsContract(platform, async () => {
    const w = await world(platform);
    return {
      channel: w.channel,
      noEdits: true,
      noGroupChats: true,
      gesturesCarryNoCount: true,
      followUps: (ref) => followUps(w.fake, ref),
      async tap(userId, ref, data) {
        // The platform's gesture is the postback of a button on that message; a message that
        // carried no buttons can only be "tapped" by a payload we never made.
        const verb = verbOfData(data) ?? data;
        const button = w.fake.sent
          .find((m) => m.mid === ref.messageId)
          ?.buttons.find((b) => b.payload.endsWith(`:${verb}`));
        const before = textsTo(w.fake, userId).length;
        await w.fake.postback(w.listener.url, userId, button?.payload ?? data);
        return pollUntil("the answer", () => {
          const t = textsTo(w.fake, userId)
            .slice(before)
            .filter((x) => !isCardText(x) && !isUpdate(x) && !x.startsWith("Warden approval"));
          return t.length > 0 ? t : undefined;
        });
      },
      buttonsOn: (ref) => w.fake.sent.find((m) => m.mid === ref.messageId)?.buttons.length ?? 0,
      shownText: (ref) => [cardView(w.fake, ref).text, ...followUps(w.fake, ref)].join("\n"),
      close: w.close,
    };
  });

  describe(`${platform}: webhooks and the 24-hour window`, () => {
    let w: World;
    let events: InboundEvent[];
    afterEach(async () => {
      await w?.channel.stop();
      await w?.close();
    });
    async function started(seed?: string[]): Promise<void> {
      w = await world(platform, seed);
      events = [];
      await w.channel.start(async (e) => void events.push(e));
    }
    const path = `/webhooks/${platform}`;

    it("answers Meta's subscription challenge only for the verify token", async () => {
      await started();
      const get = (token: string) =>
        rawPost(
          w.listener.url,
          `${path}?hub.mode=subscribe&hub.verify_token=${token}&hub.challenge=1158201444`,
          {},
          "",
          {
            method: "GET",
          },
        );
      expect(await get(VERIFY)).toMatchObject({ status: 200, body: "1158201444" });
      expect((await get("guess")).status).toBe(401);
      expect((await get(`${VERIFY}x`)).status).toBe(401);
    });

    it("forged, unsigned, stale and replayed deliveries are refused and never reach the bot; echoes are ignored", async () => {
      await started();
      const first = await w.fake.text(w.listener.url, "701", "hello");
      expect(first.answer.status).toBe(200);
      await pollUntil("hello", () => events.find((e) => e.kind === "message"));
      const forged = await w.fake.text(w.listener.url, "701", "/approvals", { secret: "guessed" });
      const unsigned = await w.fake.text(w.listener.url, "701", "/approvals", { unsigned: true });
      const stale = await w.fake.text(w.listener.url, "701", "/approvals", { at: Date.now() - 6 * 60_000 });
      const replayed = await rawPost(w.listener.url, path, first.headers, first.body);
      expect([forged, unsigned, stale].map((d) => d.answer.status)).toEqual([401, 401, 400]);
      expect(replayed.status).toBe(409);
      expect((await w.fake.echo(w.listener.url, "701", "from us")).answer.status).toBe(200);
      await new Promise((r) => setTimeout(r, 200));
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({
        kind: "message",
        from: { id: `${platform}:701` },
        chat: { platform, chatId: "701" },
        isPrivate: true,
        text: "hello",
      });
    });

    it("a postback with another person's card code, or a payload we never made, decides nothing", async () => {
      await started();
      const ref = await w.channel.sendCard(w.channel.privateChat("701"), {
        title: "demo wants to POST api.example.test/x",
        lines: [],
        agentSays: null,
        status: "Waiting",
        buttons: [{ label: "Approve", data: "a:x:approve" }],
      });
      const payload = w.fake.sent.find((m) => m.mid === ref.messageId)?.buttons[0]?.payload ?? "";
      expect(payload).toMatch(/^w1:[a-z0-9]{6}:approve$/);
      await w.fake.postback(w.listener.url, "666", payload);
      await w.fake.postback(w.listener.url, "701", "a:x:approve");
      await w.fake.postback(w.listener.url, "701", payload);
      const taps = await pollUntil("three taps", () => {
        const a = events.filter((e) => e.kind === "action");
        return a.length === 3 ? a : undefined;
      });
      expect(
        taps.map((t) =>
          t.kind === "action" ? [t.data, t.ref.chatId, t.ref.messageId === ref.messageId] : [],
        ),
      ).toEqual([
        ["", "666", false],
        ["", "701", false],
        ["a:x:approve", "701", true],
      ]);
    });

    it("outside the window nothing is sent: the card is undeliverable, the approval waits for the others", async () => {
      await started([]);
      await expect(w.channel.sendText(w.channel.privateChat("701"), "hi")).rejects.toBeInstanceOf(
        MessagingWindowClosed,
      );
      expect(w.fake.sent).toHaveLength(0);
      // The bot: Ann (here, window closed) and Bob (another platform) approve; Bob's card goes out.
      const bw = createBotWorld({ channels: [w.channel] });
      await bw.bot.start();
      await bw.store.createPerson(`${platform}:701`, "Ann", "approver");
      await bw.store.createPerson("fake:702", "Bob", "approver");
      const { view } = await bw.hold();
      await pollUntil("Bob's card", async () =>
        (await bw.store.cardRefs(view.id)).some((c) => c.to.platform === "fake") ? true : undefined,
      );
      expect((await bw.store.cardRefs(view.id)).some((c) => c.to.platform === platform)).toBe(false);
      expect(
        bw.logs.some((l) => l.event === "bot_card_send_failed" && l.fields.error === "MessagingWindowClosed"),
      ).toBe(true);
      expect(await bw.approvals.get(view.id)).toMatchObject({ state: "pending" });
      expect(w.fake.sent).toHaveLength(0);
      // Ann writes: her window opens, and what the bot sends now arrives.
      await w.fake.text(w.listener.url, "701", "hello");
      await pollUntil("window open", async () => ((await w.window.lastInbound("701")) ? true : undefined));
      await w.channel.sendText(w.channel.privateChat("701"), "hi");
      expect(w.fake.sent.map((m) => m.text)).toContain("hi");
      await bw.bot.stop();
    });

    it("Meta's own window refusal is read the same way (and the kept time forgotten)", async () => {
      await started([]);
      await w.window.sawInbound("701", Date.now()); // we think it is open; Meta knows better
      await expect(
        w.channel.sendCard(w.channel.privateChat("701"), {
          title: "t",
          lines: [],
          agentSays: null,
          status: "Waiting",
          buttons: [{ label: "Approve", data: "a:x:approve" }],
        }),
      ).rejects.toBeInstanceOf(MessagingWindowClosed);
      expect(w.fake.refused[0]).toMatchObject({ to: "701", code: 10 });
      expect(await w.window.lastInbound("701")).toBeUndefined();
    });

    it("never logs the token, the app secret or the verify token", async () => {
      await started([]);
      await w.channel.sendText(w.channel.privateChat("701"), "x").catch(() => undefined);
      await w.window.sawInbound("701", Date.now());
      await w.channel.sendText(w.channel.privateChat("701"), "x").catch(() => undefined);
      await w.fake.text(w.listener.url, "701", "x", { secret: "nope" });
      const all = w.logs.join("\n");
      expect(w.logs.length).toBeGreaterThan(0);
      for (const s of [w.fake.token, APP_SECRET, VERIFY]) expect(all).not.toContain(s);
    });
  });
}
