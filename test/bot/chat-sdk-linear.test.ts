/**
 * Linear through the real `@chat-adapter/linear` against a fake Linear GraphQL API on 127.0.0.1,
 * with the real approvals engine: the card in the agent's issue carries a code; a signed
 * `/approve <code>` comment by an approver approves; a stranger's is refused; a stale delivery (signed
 * over 5 minutes ago) is 400 and decides nothing.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { Channel } from "../../bot/channel.js";
import { createChatSdkChannels } from "../../bot/channels/chat-sdk/chat-sdk-channel.js";
import { chatSdkPlatforms } from "../../bot/channels/chat-sdk/platforms.js";
import { startWebhookListener, type WebhookListener } from "../../bot/webhooks/webhook-listener.js";
import { type FakeLinear, LINEAR_BOT, startFakeLinear } from "../fakes/linear-api.js";
import { type BotWorld, createBotWorld } from "./bot-world.js";

const SECRET = "linear-secret-for-tests";
const ISSUE = "iss-1";
const ANN = { id: "u-701", name: "ann" };
const EVE = { id: "u-666", name: "eve" };

let fake: FakeLinear;
let l: WebhookListener;
let w: BotWorld;

async function setUp(): Promise<void> {
  fake = await startFakeLinear(SECRET);
  l = await startWebhookListener({ host: "127.0.0.1", port: 0, log: () => undefined });
  const [channel] = createChatSdkChannels({
    platforms: await chatSdkPlatforms({
      linear: { apiKey: "lin_api_test", webhookSecret: SECRET, apiUrl: fake.url },
    }),
    listener: l,
    log: () => undefined,
  }) as [Channel];
  w = createBotWorld({ channels: [channel] });
  await w.bot.start();
  await w.person("1", "owner");
  await w.store.createPerson(`linear:${ANN.id}`, "Ann", "approver");
  await w.store.bind("demo", { platform: "linear", chatId: `linear:${ISSUE}` });
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
const card = () =>
  until("the card", () => fake.comments.find((c) => c.issueId === ISSUE && c.body.includes("/approve ")));
const codeOf = (body: string) => /`\/approve ([a-z0-9]{6})`/.exec(body)?.[1] ?? "";
const botReplyTo = (parentId: string) =>
  until("the reply", () => fake.comments.find((c) => c.userId === LINEAR_BOT.id && c.parentId === parentId));

describe("Chat SDK channel: Linear", () => {
  it("an approver's `/approve <code>` comment approves; a stranger's is refused", async () => {
    await setUp();
    const { view, outcome } = await w.hold();
    const c = await card();
    const code = codeOf(c.body);
    expect((await fake.comment(l.url, { issueId: ISSUE, user: EVE, text: `/approve ${code}` })).status).toBe(
      200,
    );
    const eve = fake.comments.find((x) => x.userId === EVE.id)?.id ?? "";
    expect((await botReplyTo(eve)).body).toContain("You are not an approver for this request");
    expect(await w.approvals.get(view.id)).toMatchObject({ state: "pending", approvals: [] });
    expect((await fake.comment(l.url, { issueId: ISSUE, user: ANN, text: `/approve ${code}` })).status).toBe(
      200,
    );
    await expect(outcome).resolves.toMatchObject({ outcome: "approved" });
    // No private chats on Linear: nothing was posted to an issue made up from a user id.
    expect(fake.comments.filter((x) => x.issueId !== ISSUE)).toEqual([]);
    await until("card updated", () => (c.body.includes("/approve ") ? undefined : true));
  });

  it("a delivery signed over 5 minutes ago is refused (400) and decides nothing", async () => {
    await setUp();
    const { view } = await w.hold();
    const code = codeOf((await card()).body);
    const r = await fake.comment(l.url, {
      issueId: ISSUE,
      user: ANN,
      text: `/approve ${code}`,
      at: Date.now() - 6 * 60_000,
    });
    expect(r.status).toBe(400);
    await new Promise((res) => setTimeout(res, 200));
    expect(await w.approvals.get(view.id)).toMatchObject({ state: "pending", approvals: [] });
  });
});
