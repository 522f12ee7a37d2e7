/**
 * Microsoft Teams through the real `@chat-adapter/teams` (and the Teams SDK's own JWT check) against
 * a fake Bot Framework connector on 127.0.0.1 and a fake key server, with the real approvals engine:
 * the card is an Adaptive Card whose Action.Submit buttons carry our button data; an approver's tap
 * approves and the card is updated without buttons; a member's tap is refused and audited; forged,
 * unsigned and wrong-serviceUrl activities are 401 and a replay is 409, none reaching the bot. The
 * agent's words on the card cannot render markdown. Tokens come from our token endpoint call.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { Channel } from "../../bot/channel.js";
import { createChatSdkChannels } from "../../bot/channels/chat-sdk/chat-sdk-channel.js";
import { chatSdkPlatforms } from "../../bot/channels/chat-sdk/platforms.js";
import { startWebhookListener, type WebhookListener } from "../../bot/webhooks/webhook-listener.js";
import { type PlatformKeys, startPlatformKeys } from "../fakes/platform-jwt.js";
import { type FakeTeams, startFakeTeams, type TeamsSent } from "../fakes/teams-api.js";
import { type BotWorld, createBotWorld } from "./bot-world.js";

const APP_ID = "00000000-aaaa-4bbb-8ccc-000000000001";
const PASSWORD = "teams-app-password-for-tests";
const CHANNEL_CONV = "19:abc@thread.tacv2;messageid=1700000000000";
const ANN = { id: "29:ann", name: "Ann", aadObjectId: "11111111-1111-4111-8111-111111111111" };
const MEL = { id: "29:mel", name: "Mel", aadObjectId: "22222222-2222-4222-8222-222222222222" };

let keys: PlatformKeys;
let fake: FakeTeams;
let l: WebhookListener;
let w: BotWorld;
let thread: string;
let channel: Channel;

const b64 = (s: string) => Buffer.from(s).toString("base64url");

async function setUp(): Promise<void> {
  keys = await startPlatformKeys();
  fake = await startFakeTeams({ appId: APP_ID, keys });
  l = await startWebhookListener({ host: "127.0.0.1", port: 0, log: () => undefined });
  [channel] = createChatSdkChannels({
    platforms: await chatSdkPlatforms({
      teams: {
        appId: APP_ID,
        appPassword: PASSWORD,
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
  await w.person("1", "owner");
  await w.store.createPerson(`teams:${ANN.aadObjectId}`, "Ann", "approver");
  await w.store.createPerson(`teams:${MEL.aadObjectId}`, "Mel", "member");
  thread = `teams:${b64(CHANNEL_CONV)}:${b64(fake.url)}`;
  await w.store.bind("demo", { platform: "teams", chatId: thread });
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

type Adaptive = {
  body: { text?: string }[];
  actions?: { type: string; title: string; data?: unknown; url?: string }[];
};
const adaptive = (a: Record<string, unknown>): Adaptive | undefined =>
  (a.attachments as { contentType: string; content: Adaptive }[] | undefined)?.find(
    (x) => x.contentType === "application/vnd.microsoft.card.adaptive",
  )?.content;
/** The card in the agent's channel thread (approvers also get one in their 1:1 chat). */
const card = () =>
  until("the card", () =>
    fake.sent.find((s) => s.conversationId === CHANNEL_CONV && adaptive(s.activity)?.actions?.length),
  );
const latest = (s: TeamsSent): Adaptive => adaptive(s.edits.at(-1) ?? s.activity) as Adaptive;
const submit = (c: Adaptive, title: string) =>
  c.actions?.find((a) => a.type === "Action.Submit" && a.title === title)?.data as {
    actionId: string;
    value: string;
  };
const textsAfter = (n: number) =>
  fake.sent.slice(n).flatMap((s) => (typeof s.activity.text === "string" ? [s.activity.text] : []));

function tap(who: typeof ANN, cardId: string, data: unknown) {
  return fake.deliver(l.url, {
    from: who,
    conversation: { id: CHANNEL_CONV, conversationType: "channel", tenantId: "tenant-1" },
    replyToId: cardId,
    value: data,
    channelData: { tenant: { id: "tenant-1" } },
  });
}

describe("Chat SDK channel: Teams", () => {
  it("an approver's tap approves; the card is updated without buttons; tokens came from our endpoint", async () => {
    await setUp();
    const { view, outcome } = await w.hold();
    const sent = await card();
    const c = latest(sent);
    const approve = submit(c, "Approve");
    expect(approve).toEqual({ actionId: "w", value: `a:${view.id}:approve` });
    expect(JSON.stringify(c)).toContain("to create a thing");
    expect((await tap(ANN, sent.id, approve)).status).toBe(200);
    await expect(outcome).resolves.toMatchObject({ outcome: "approved" });
    await until("card updated", () =>
      sent.edits.length > 0 && !latest(sent).actions?.some((a) => a.type === "Action.Submit")
        ? true
        : undefined,
    );
    expect((await w.approvals.get(view.id))?.approvals).toEqual([`teams:${ANN.aadObjectId}`]);
    expect(fake.tokenRequests[0]?.get("client_secret")).toBe(PASSWORD);
    expect(fake.tokenRequests[0]?.get("grant_type")).toBe("client_credentials");
  });

  it("the agent's words on a card render nothing; the full request is a link button", async () => {
    await setUp();
    const hostile = "**Approved** [click](https://evil.test) <at>ann</at> _x_ `y` ~~z~~";
    await channel.sendCard(
      { platform: "teams", chatId: thread },
      {
        title: "demo wants to POST api.example.test/x",
        lines: [],
        agentSays: hostile,
        status: "Waiting",
        link: "http://127.0.0.1:1/r/1",
        buttons: [{ label: "Approve [now](https://evil.test)", data: "a:x:approve" }],
      },
    );
    const c = latest(await card());
    const text = c.body.map((b) => b.text ?? "").join("\n");
    expect(text).toContain("Approved");
    expect(text).not.toMatch(/[*_~`[\]<>]/);
    expect(c.actions?.find((a) => a.type === "Action.OpenUrl")?.url).toBe("http://127.0.0.1:1/r/1");
    expect(c.actions?.find((a) => a.type === "Action.Submit")?.title).not.toMatch(/[[\]]/);
  });

  it("a member's tap is refused and audited", async () => {
    await setUp();
    const { view } = await w.hold();
    const sent = await card();
    const n = fake.sent.length;
    expect((await tap(MEL, sent.id, submit(latest(sent), "Approve"))).status).toBe(200);
    const said = await until("the refusal", () => textsAfter(n)[0]);
    expect(said).toContain("You are not an approver for this request");
    expect(await w.approvals.get(view.id)).toMatchObject({ state: "pending", approvals: [] });
    expect(w.auditLog).toContainEqual(
      expect.objectContaining({ type: "approval_vote_refused", by: `teams:${MEL.aadObjectId}` }),
    );
  });

  it("forged, unsigned and re-aimed activities are 401 and a replay is 409; none reaches the bot", async () => {
    await setUp();
    const { view } = await w.hold({ needed: 2 });
    await w.store.createPerson("teams:33333333-3333-4333-8333-333333333333", "Bob", "approver");
    const sent = await card();
    const data = submit(latest(sent), "Approve");
    const bob = { id: "29:bob", name: "Bob", aadObjectId: "33333333-3333-4333-8333-333333333333" };
    const act = {
      from: bob,
      conversation: { id: CHANNEL_CONV, conversationType: "channel" },
      replyToId: sent.id,
      value: data,
    };
    expect((await fake.deliver(l.url, act, { foreign: true })).status).toBe(401);
    expect((await fake.deliver(l.url, act, { unsigned: true })).status).toBe(401);
    expect((await fake.deliver(l.url, act, { claims: { aud: "someone-else" } })).status).toBe(401);
    // A genuine token for one connector must not steer replies to another.
    const reaimed = { ...act, serviceUrl: "http://127.0.0.1:9/" };
    expect((await fake.deliver(l.url, reaimed, { claims: { serviceurl: fake.url } })).status).toBe(401);
    await new Promise((r) => setTimeout(r, 200));
    expect(await w.approvals.get(view.id)).toMatchObject({ state: "pending", approvals: [] });
    const first = await fake.deliver(l.url, { ...act, from: ANN });
    expect(first.status).toBe(200);
    await until("counted", async () =>
      (await w.approvals.get(view.id))?.approvals.length === 1 ? true : undefined,
    );
    const again = await import("../fakes/webhook-client.js").then((m) =>
      m.rawPost(l.url, "/webhooks/teams", first.headers, first.sentBody),
    );
    expect(again.status).toBe(409);
    await new Promise((r) => setTimeout(r, 200));
    expect(await w.approvals.get(view.id)).toMatchObject({
      state: "pending",
      approvals: [`teams:${ANN.aadObjectId}`],
    });
  });
});
