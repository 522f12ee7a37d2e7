/**
 * Google Chat through the real `@chat-adapter/gchat` (and its own JWT check) against a fake Chat API
 * and a fake key server on 127.0.0.1, with the real approvals engine: the card is cardsV2 whose
 * buttons carry our button data and call our public webhook URL, plus a full-request link; an
 * approver's click approves and the card is updated without buttons; a member's click is refused and
 * audited; forged and unsigned events are 401, a replay 409 and an expired token 400, none reaching
 * the bot. Agent words render as themselves. Tokens come from our JWT-bearer grant at token_uri.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { Channel, InboundEvent } from "../../bot/channel.js";
import { createChatSdkChannels } from "../../bot/channels/chat-sdk/chat-sdk-channel.js";
import { gchatPlainParts, parseGoogleCredentials } from "../../bot/channels/chat-sdk/gchat.js";
import { chatSdkPlatforms } from "../../bot/channels/chat-sdk/platforms.js";
import { startWebhookListener, type WebhookListener } from "../../bot/webhooks/webhook-listener.js";
import { type FakeGchat, type GchatSent, startFakeGchat } from "../fakes/gchat-api.js";
import { type PlatformKeys, startPlatformKeys } from "../fakes/platform-jwt.js";
import { rawPost } from "../fakes/webhook-client.js";
import { type BotWorld, createBotWorld } from "./bot-world.js";

const PROJECT = "123456789012";
const ENDPOINT = "https://warden.example.test/webhooks/gchat";
const ROOM = "spaces/ROOM1";
const ANN = { name: "users/111", displayName: "Ann" };
const MEL = { name: "users/222", displayName: "Mel" };
const BOB = { name: "users/333", displayName: "Bob" };

let keys: PlatformKeys;
let fake: FakeGchat;
let l: WebhookListener;
let w: BotWorld;
let thread: string;
let channel: Channel;

async function setUp(): Promise<void> {
  keys = await startPlatformKeys();
  fake = await startFakeGchat({ projectNumber: PROJECT, keys });
  l = await startWebhookListener({ host: "127.0.0.1", port: 0, log: () => undefined });
  [channel] = createChatSdkChannels({
    platforms: await chatSdkPlatforms({
      gchat: {
        credentials: fake.credentials,
        projectNumber: PROJECT,
        endpointUrl: ENDPOINT,
        apiUrl: fake.url,
        certsUrl: keys.certsUrl,
      },
    }),
    listener: l,
    log: () => undefined,
  }) as [Channel];
  w = createBotWorld({ channels: [channel] });
  await w.bot.start();
  await w.person("1", "owner");
  await w.store.createPerson(`gchat:${ANN.name}`, "Ann", "approver");
  await w.store.createPerson(`gchat:${MEL.name}`, "Mel", "member");
  thread = `gchat:${ROOM}:${Buffer.from(`${ROOM}/threads/agent`).toString("base64url")}`;
  await w.store.bind("demo", { platform: "gchat", chatId: thread });
}
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

type GButton = {
  text: string;
  onClick: {
    action?: { function: string; parameters: { key: string; value: string }[] };
    openLink?: { url: string };
  };
};
type GCard = { card: { sections: { widgets: Record<string, unknown>[] }[] } };
const cardOf = (body: Record<string, unknown>): GCard | undefined =>
  (body.cardsV2 as GCard[] | undefined)?.[0];
const buttons = (c: GCard): GButton[] =>
  c.card.sections.flatMap((s) =>
    s.widgets.flatMap((x) => (x.buttonList as { buttons: GButton[] } | undefined)?.buttons ?? []),
  );
const texts = (c: GCard): string =>
  c.card.sections
    .flatMap((s) => s.widgets.map((x) => (x.textParagraph as { text?: string } | undefined)?.text ?? ""))
    .join("\n");
const latest = (s: GchatSent): GCard => cardOf(s.edits.at(-1) ?? s.body) as GCard;
/** The card in the agent's room thread (approvers also get one in their DM). */
const card = () =>
  until("the card", () =>
    fake.sent.find((s) => s.space === ROOM && cardOf(s.body) && buttons(latest(s)).length),
  );
const params = (c: GCard, label: string): Record<string, string> =>
  Object.fromEntries(
    (buttons(c).find((b) => b.text === label)?.onClick.action?.parameters ?? []).map((p) => [p.key, p.value]),
  );
const textsAfter = (n: number) =>
  fake.sent.slice(n).flatMap((s) => (typeof s.body.text === "string" ? [s.body.text] : []));

describe("Chat SDK channel: Google Chat", () => {
  it("an approver's click approves; the card is updated without buttons; tokens came from token_uri", async () => {
    await setUp();
    const { view, outcome } = await w.hold();
    const sent = await card();
    const c = latest(sent);
    const approve = buttons(c).find((b) => b.text === "Approve");
    expect(approve?.onClick.action?.function).toBe(ENDPOINT);
    expect(params(c, "Approve")).toEqual({ actionId: "w", value: `a:${view.id}:approve` });
    expect(texts(c)).toContain("to create a thing");
    expect((await fake.deliver(l.url, fake.click(ANN, sent, params(c, "Approve")))).status).toBe(200);
    await expect(outcome).resolves.toMatchObject({ outcome: "approved" });
    await until("card updated", () =>
      sent.edits.length > 0 && buttons(latest(sent)).every((b) => !b.onClick.action) ? true : undefined,
    );
    expect((await w.approvals.get(view.id))?.approvals).toEqual([`gchat:${ANN.name}`]);
    // Ann's own card went to her DM, found through the API (not created by impersonation).
    expect(fake.sent.some((s) => s.space === "spaces/dm-111" && cardOf(s.body))).toBe(true);
    expect(fake.tokenRequests[0]).toMatchObject({
      iss: "warden-bot@warden-test.iam.gserviceaccount.com",
      aud: `${fake.url}token`,
      scope: "https://www.googleapis.com/auth/chat.bot",
    });
    expect(fake.unauthorized).toBe(0);
  });

  it("an approver's click on the card in her DM approves, and that card is updated too", async () => {
    await setUp();
    const { view, outcome } = await w.hold();
    const mine = await until("Ann's DM card", () =>
      fake.sent.find((s) => s.space === "spaces/dm-111" && cardOf(s.body)),
    );
    const res = await fake.deliver(l.url, fake.click(ANN, mine, params(latest(mine), "Approve")));
    expect(res.status).toBe(200);
    await expect(outcome).resolves.toMatchObject({ outcome: "approved" });
    await until("DM card updated", () =>
      mine.edits.length > 0 && buttons(latest(mine)).every((b) => !b.onClick.action) ? true : undefined,
    );
    expect((await w.approvals.get(view.id))?.approvals).toEqual([`gchat:${ANN.name}`]);
  });

  it("the agent's words render nothing, on cards and in messages; the full request is a link button", async () => {
    await setUp();
    const hostile = "*Approved* _x_ ~z~ `y` <users/all> <https://evil.test|click> <b>bold</b> &lt;i&gt;";
    await channel.sendCard(
      { platform: "gchat", chatId: thread },
      {
        title: "demo wants to POST api.example.test/x",
        lines: [],
        agentSays: hostile,
        status: "Waiting",
        link: "http://127.0.0.1:1/r/a_b",
        buttons: [{ label: "Approve <b>now</b>", data: "a:x:approve" }],
      },
    );
    const c = latest(await card());
    const text = texts(c);
    expect(text).toContain("Approved");
    expect(text).not.toMatch(/[*_~`<>&[\]]/);
    expect(buttons(c).find((b) => b.onClick.openLink)?.onClick.openLink?.url).toBe(
      "http://127.0.0.1:1/r/a_b",
    );
    expect(buttons(c).find((b) => b.onClick.action)?.text).not.toMatch(/[<>]/);
    const n = fake.sent.length;
    await channel.sendText(
      { platform: "gchat", chatId: thread },
      `Ann said: ${hostile} see https://x.test/a_b?c=1&d=2`,
    );
    const said = (await until("the text", () => textsAfter(n)[0])) ?? "";
    expect(said).not.toMatch(/[*`<>[\]]/);
    expect(said).toContain("https://x.test/a_b?c=1&d=2");
    expect(said.replace("https://x.test/a_b?c=1&d=2", "")).not.toMatch(/[_~&]/);
    expect(gchatPlainParts("x".repeat(9000)).every((p) => p.length <= 4096)).toBe(true);
  });

  it("a member's click is refused and audited; a person's message arrives as gchat:users/…", async () => {
    await setUp();
    const got: InboundEvent[] = [];
    const { view } = await w.hold();
    const sent = await card();
    const n = fake.sent.length;
    expect((await fake.deliver(l.url, fake.click(MEL, sent, params(latest(sent), "Approve")))).status).toBe(
      200,
    );
    const said = await until("the refusal", () => textsAfter(n)[0]);
    expect(said).toContain("You are not an approver for this request");
    expect(await w.approvals.get(view.id)).toMatchObject({ state: "pending", approvals: [] });
    expect(w.auditLog).toContainEqual(
      expect.objectContaining({ type: "approval_vote_refused", by: `gchat:${MEL.name}` }),
    );
    await w.bot.stop();
    await channel.start(async (e) => void got.push(e));
    // Google's RS256 tokens are deterministic: the same claims in the same second are the same token,
    // which the listener takes for a replay (reported to the integrator). A new second, a new token.
    await new Promise((r) => setTimeout(r, 1100));
    const msg = fake.message(ANN, { name: "spaces/dm-111", type: "DM" }, "hello");
    expect((await fake.deliver(l.url, msg)).status).toBe(200);
    const m = await until("the message", () => got.find((e) => e.kind === "message"));
    expect(m).toMatchObject({
      kind: "message",
      from: { id: `gchat:${ANN.name}` },
      text: "hello",
      isPrivate: true,
    });
  });

  it("forged and unsigned events are 401, a replay 409, an expired token 400; none reaches the bot", async () => {
    await setUp();
    const { view } = await w.hold({ needed: 2 });
    await w.store.createPerson(`gchat:${BOB.name}`, "Bob", "approver");
    const sent = await card();
    const tap = (who: typeof ANN) => fake.click(who, sent, params(latest(sent), "Approve"));
    expect((await fake.deliver(l.url, tap(BOB), { foreign: true })).status).toBe(401);
    expect((await fake.deliver(l.url, tap(BOB), { unsigned: true })).status).toBe(401);
    expect((await fake.deliver(l.url, tap(BOB), { claims: { aud: "999" } })).status).toBe(401);
    expect((await fake.deliver(l.url, tap(BOB), { claims: { iss: "someone@example.test" } })).status).toBe(
      401,
    );
    const old = Math.floor(Date.now() / 1000) - 3 * 3600;
    expect((await fake.deliver(l.url, tap(BOB), { claims: { iat: old - 60, exp: old } })).status).toBe(400);
    // A Pub/Sub envelope is not an add-on event: refused even with a genuine Chat token.
    const pubsub = { ...tap(BOB), message: { data: "e30=" }, subscription: "projects/p/subscriptions/s" };
    expect((await fake.deliver(l.url, pubsub)).status).toBe(401);
    // A new second: the Pub/Sub attempt's genuine token (same claims) is spent.
    await new Promise((r) => setTimeout(r, 1100));
    expect(await w.approvals.get(view.id)).toMatchObject({ state: "pending", approvals: [] });
    const first = await fake.deliver(l.url, tap(ANN));
    expect(first.status).toBe(200);
    await until("counted", async () =>
      (await w.approvals.get(view.id))?.approvals.length === 1 ? true : undefined,
    );
    const again = await rawPost(l.url, "/webhooks/gchat", first.headers, first.sentBody);
    expect(again.status).toBe(409);
    await new Promise((r) => setTimeout(r, 200));
    expect(await w.approvals.get(view.id)).toMatchObject({
      state: "pending",
      approvals: [`gchat:${ANN.name}`],
    });
  });

  it("credentials errors never quote the key", () => {
    const key = "-----BEGIN PRIVATE KEY-----SECRETSECRET-----END PRIVATE KEY-----";
    for (const bad of [
      `{"client_email":"a@b","private_key":"${key}"`,
      JSON.stringify({ private_key: key }),
      JSON.stringify({ client_email: "a@b", private_key: key, token_uri: "http://evil.test/token" }),
    ])
      expect(() => parseGoogleCredentials(bad)).toThrow(/^(?!.*SECRET)/s);
  });
});
