/**
 * X (Twitter) DMs through the real `twitter-api-v2` against a fake X API on 127.0.0.1 (OAuth 1.0a
 * signatures checked as X does), with the shared channel and approval-tap contracts (a tap is a
 * `approve <code>` DM), then X specifics: the persisted cursor (no replay of old DMs after a
 * restart, none lost while down), the bot's own DMs ignored, the Account Activity webhook (CRC, the
 * CRC oracle closed, signed / forged / unsigned / stale / replayed / other-account deliveries), and no
 * secret in a log or an error.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { InboundEvent, SentRef } from "../../bot/channel.js";
import {
  createXApi,
  createXChannel,
  type CursorStore,
  memoryCursorStore,
  xSignature,
} from "../../bot/channels/x/index.js";
import { startWebhookListener, type WebhookListener } from "../../bot/webhooks/webhook-listener.js";
import { approvalTapsContract } from "../contracts/approval-taps.contract.js";
import { channelContract } from "../contracts/channel.contract.js";
import { rawPost } from "../fakes/webhook-client.js";
import { type FakeX, startFakeX, X_BOT, type XKeys } from "../fakes/x-api.js";

const KEYS: XKeys = {
  appKey: "xkey-consumer-123",
  appSecret: "xsecret-consumer-SECRET-456",
  accessToken: `${X_BOT.id}-access-token-789`,
  accessSecret: "xsecret-access-SECRET-abc",
};
const SECRETS = [KEYS.appSecret, KEYS.accessSecret, KEYS.accessToken];

function make(fake: FakeX, o: { cursor?: CursorStore; listener?: WebhookListener; logs?: unknown[] } = {}) {
  return createXChannel({
    api: createXApi({ ...KEYS, apiUrl: fake.url }),
    cursor: o.cursor ?? memoryCursorStore(),
    log: (event, fields) => void o.logs?.push({ event, fields }),
    pollMs: 40,
    ...(o.listener ? { webhook: { listener: o.listener, consumerSecret: KEYS.appSecret } } : {}),
  });
}

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
    await new Promise((r) => setTimeout(r, 15));
  }
}

const codeOf = (text: string) => /^Warden: approval request \[([a-z0-9]{6})\]/.exec(text)?.[1];
/** The card message and the follow-ups that name its code, as a person reads them in order. */
function cardView(fake: FakeX, ref: SentRef): { card: string; followUps: string[] } {
  const card = fake.sentDm(ref.messageId)?.text ?? "";
  const code = codeOf(card);
  const followUps = code ? fake.textsIn(ref.chatId).filter((t) => t.startsWith(`Update on [${code}]`)) : [];
  return { card, followUps };
}
function openPrompts(fake: FakeX, ref: SentRef): number {
  const { card, followUps } = cardView(fake, ref);
  if (followUps.some((t) => t.includes("no longer open"))) return 0;
  return (card.match(/"(approve|deny|grant) [a-z0-9]{6}"/g) ?? []).length;
}
/**
 * As a person reads it: the card's codes are per card (`"approve k3f9x2"` reads as the verb to
 * send) and the `│ ` before each body line is a margin.
 */
const asRead = (t: string) => t.replace(/"(approve|deny|grant) [a-z0-9]{6}"/g, '"$1"').replace(/^│ /gm, "");
/** What the bot told `userId` privately since `before`: answers, not card follow-ups. */
const answersTo = (fake: FakeX, userId: string, before: number) =>
  fake
    .textsIn(userId)
    .slice(before)
    .filter((t) => !t.startsWith("Update on [") && !t.startsWith("Warden: approval request"));

channelContract("x", async () => {
  const fake = await startFakeX(KEYS);
  return {
    channel: make(fake),
    maxTextLength: 10_000,
    injectPrivateText: (userId, text) => void fake.dm(userId, text),
    textsIn: (chatId) => fake.textsIn(chatId),
    buttonsOn: (ref) => openPrompts(fake, ref),
    noButtons: true,
    noEdits: true,
    shownOn: (ref) => ({ text: asRead(cardView(fake, ref).card), buttons: [] }),
    close: () => fake.close(),
  };
});

approvalTapsContract("x", async () => {
  const fake = await startFakeX(KEYS);
  const channel = make(fake);
  return {
    channel,
    gesturesCarryNoCount: true,
    noEdits: true,
    followUps: (ref) => fake.textsAfter(ref.chatId, ref.messageId),
    groupChat: () => ({ platform: "x", chatId: "conv:group-1" }),
    async tap(userId, ref, data) {
      // The gesture is a DM with the code of the card message (a message that was no card: a code
      // no card carries), sent where the card is.
      const code = codeOf(fake.sentDm(ref.messageId)?.text ?? "") ?? "zzzzzz";
      const verb = /(approve|deny|grant)$/.exec(data)?.[1] ?? "approve";
      const before = fake.textsIn(userId).length;
      const conversation = ref.chatId.startsWith("conv:") ? ref.chatId.slice(5) : undefined;
      fake.dm(userId, `${verb} ${code}`, { conversation });
      return until("the answer", () => {
        const texts = answersTo(fake, userId, before);
        return texts.length > 0 ? texts : undefined;
      });
    },
    buttonsOn: (ref) => openPrompts(fake, ref),
    shownText: (ref) => {
      const v = cardView(fake, ref);
      return [v.card, ...v.followUps].join("\n");
    },
    close: () => fake.close(),
  };
});

describe("X DMs", () => {
  let fake: FakeX;
  let l: WebhookListener | undefined;
  afterEach(async () => {
    await l?.close();
    l = undefined;
    await fake?.close();
  });

  it("DMs from before the first start never act; a restart replays nothing and loses nothing", async () => {
    fake = await startFakeX(KEYS);
    fake.dm("701", "approve abcdef");
    const cursor = memoryCursorStore();
    const events: InboundEvent[] = [];
    const a = make(fake, { cursor });
    await a.start(async (e) => void events.push(e));
    fake.dm("701", "first");
    await until("first", () => (events.length === 1 ? true : undefined));
    await a.stop();
    fake.dm("701", "while down 1");
    fake.dm("702", "while down 2");
    const b = make(fake, { cursor });
    await b.start(async (e) => void events.push(e));
    await until("the two", () => (events.length === 3 ? true : undefined));
    await new Promise((r) => setTimeout(r, 200));
    await b.stop();
    expect(events.map((e) => (e.kind === "message" ? [e.from.id, e.text] : e.kind))).toEqual([
      ["x:701", "first"],
      ["x:701", "while down 1"],
      ["x:702", "while down 2"],
    ]);
  });

  it("ignores the bot's own DMs and labels an agent's words", async () => {
    fake = await startFakeX(KEYS);
    const events: InboundEvent[] = [];
    const ch = make(fake);
    await ch.start(async (e) => void events.push(e));
    await ch.sendText(ch.privateChat("701"), "approve abcdef\n**Approved by the owner**", { agent: "demo" });
    fake.dm("701", "ping");
    await until("ping", () => (events.length > 0 ? true : undefined));
    await new Promise((r) => setTimeout(r, 200));
    await ch.stop();
    expect(events).toHaveLength(1);
    const [sent] = fake.textsIn("701");
    expect(sent).toBe("🤖 demo (agent):\n› approve abcdef\n› **Approved by the owner**");
  });

  it("webhook: CRC answered with the consumer-secret HMAC; a token that could be a body is refused", async () => {
    fake = await startFakeX(KEYS);
    l = await startWebhookListener({ host: "127.0.0.1", port: 0, log: () => undefined });
    const ch = make(fake, { listener: l });
    await ch.start(async () => undefined);
    const r = await fake.crc(l.url, "abc123XYZ");
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ response_token: xSignature(KEYS.appSecret, "abc123XYZ") });
    // The CRC would sign anything: a JSON body as the token would yield a valid POST signature.
    const body = fake.activityBody(fake.dm("701", "approve abcdef"));
    expect((await fake.crc(l.url, body)).status).toBe(400);
    await ch.stop();
  });

  it("webhook: a signed DM is handled once (the poll finds it too); forged, unsigned, stale, replayed and other-account deliveries decide nothing", async () => {
    fake = await startFakeX(KEYS);
    const logs: unknown[] = [];
    l = await startWebhookListener({ host: "127.0.0.1", port: 0, log: () => undefined });
    const events: InboundEvent[] = [];
    const ch = make(fake, { listener: l, logs });
    await ch.start(async (e) => void events.push(e));
    expect((await fake.deliver(l.url, "701", "hello")).status).toBe(200);
    await until("hello", () => (events.length === 1 ? true : undefined));
    const polled = fake.polls;
    await until("a poll or two", () => (fake.polls > polled + 1 ? true : undefined));
    expect(events).toHaveLength(1);

    const d = fake.dm("702", "sneaky");
    const body = fake.activityBody(d);
    const post = (headers: Record<string, string>, b = body) => rawPost(l!.url, "/webhooks/x", headers, b);
    expect((await post({})).status).toBe(401);
    expect((await post({ "x-twitter-webhooks-signature": xSignature("guess", body) })).status).toBe(401);
    const altered = body.replace('"sneaky"', '"approve abcdef"');
    expect(
      (await post({ "x-twitter-webhooks-signature": xSignature(KEYS.appSecret, body) }, altered)).status,
    ).toBe(401);
    const stale = fake.activityBody({ ...d, id: `${d.id}1`, createdAt: Date.now() - 6 * 60_000 });
    expect(
      (await post({ "x-twitter-webhooks-signature": xSignature(KEYS.appSecret, stale) }, stale)).status,
    ).toBe(400);
    const other = fake
      .activityBody({ ...d, id: `${d.id}2` })
      .replace(`"for_user_id":"${X_BOT.id}"`, '"for_user_id":"42"');
    expect(
      (await post({ "x-twitter-webhooks-signature": xSignature(KEYS.appSecret, other) }, other)).status,
    ).toBe(200);
    const good = { "x-twitter-webhooks-signature": xSignature(KEYS.appSecret, body) };
    expect((await post(good)).status).toBe(200);
    expect((await post(good)).status).toBe(409);
    await until("sneaky once", () => (events.length === 2 ? true : undefined));
    await new Promise((r) => setTimeout(r, 200));
    await ch.stop();
    expect(events.map((e) => (e.kind === "message" ? e.text : e.kind))).toEqual(["hello", "sneaky"]);
  });

  it("bad credentials: start fails with a stable code; no secret in the error or the log", async () => {
    fake = await startFakeX(KEYS);
    const logs: unknown[] = [];
    const ch = createXChannel({
      api: createXApi({ ...KEYS, accessSecret: "xsecret-wrong-SECRET", apiUrl: fake.url }),
      cursor: memoryCursorStore(),
      log: (event, fields) => void logs.push({ event, fields }),
    });
    const err = await ch
      .start(async () => undefined)
      .then(
        () => undefined,
        (e: unknown) => e as Error,
      );
    expect(err?.message).toBe("x_unauthorized (HTTP 401)");
    const seen = `${err?.message} ${err?.stack} ${JSON.stringify(err)} ${JSON.stringify(logs)}`;
    for (const s of [...SECRETS, "xsecret-wrong-SECRET"]) expect(seen).not.toContain(s);
    expect(fake.unauthorized).toBe(1);
  });
});
