/**
 * Webex through our own REST client against a fake Webex API on 127.0.0.1 that signs webhooks like
 * Webex (hex HMAC-SHA1 with the registered secret) and carries only ids in them. The channel and
 * approval-tap contracts run against it; then the attacks: forged, unsigned, stale and replayed
 * webhooks are refused and never reach the bot; a signed envelope that lies about who pressed is
 * overruled by the API's own record; a crafted action on a message that was no card decides
 * nothing; the token and the webhook secret stay out of every log line.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { InboundEvent, SentRef } from "../../bot/channel.js";
import { createWebexChannel, type WebexChannel } from "../../bot/channels/webex/index.js";
import { startWebhookListener, type WebhookListener } from "../../bot/webhooks/webhook-listener.js";
import { approvalTapsContract } from "../contracts/approval-taps.contract.js";
import { channelContract } from "../contracts/channel.contract.js";
import { pollUntil } from "../fakes/poll-until.js";
import { type FakeWebex, type FakeWebexMessage, startFakeWebex } from "../fakes/webex-api.js";
import { rawPost } from "../fakes/webhook-client.js";

const SECRET = "webex-webhook-secret-for-tests";
const LOOKALIKE: Record<string, string> = {
  "∗": "*",
  "＿": "_",
  "∼": "~",
  ˋ: "`",
  "［": "[",
  "］": "]",
  "‹": "<",
  "›": ">",
  "＃": "#",
};
const undo = (s: string) => s.replace(/[∗＿∼ˋ［］‹›＃]/g, (c) => LOOKALIKE[c] ?? c);

interface World {
  fake: FakeWebex;
  listener: WebhookListener;
  channel: WebexChannel;
  logs: string[];
  close(): Promise<void>;
}

async function world(): Promise<World> {
  const fake = await startFakeWebex();
  const listener = await startWebhookListener({ host: "127.0.0.1", port: 0, log: () => undefined });
  const logs: string[] = [];
  const channel = createWebexChannel({
    token: fake.token,
    webhookSecret: SECRET,
    apiUrl: fake.url,
    listener,
    publicUrl: listener.url,
    log: (event, fields) => void logs.push(JSON.stringify({ event, fields })),
  });
  return {
    fake,
    listener,
    channel,
    logs,
    close: async () => {
      await listener.close();
      await fake.close();
    },
  };
}

/** The message now showing the card `ref` (updates re-post it). */
const live = (w: World, ref: SentRef): FakeWebexMessage | undefined =>
  w.fake.messages.find((m) => m.id === w.channel.liveMessageId(ref.messageId) && !m.deleted);
const card = (m: FakeWebexMessage | undefined) => m?.attachments?.[0]?.content;
const buttons = (m: FakeWebexMessage | undefined) =>
  (card(m)?.actions ?? []).filter((a) => a.type === "Action.Submit").map((a) => undo(a.title));
type Block = { type: string; text?: string; items?: Block[] };
const textOf = (b: Block): string => b.text ?? (b.items ?? []).map(textOf).join("\n\n");
const shown = (m: FakeWebexMessage | undefined) => ({
  text: undo(((card(m)?.body ?? []) as Block[]).slice(1).map(textOf).join("\n\n")),
  buttons: buttons(m),
});
const roomOf = (w: World, chatId: string) =>
  chatId.startsWith("dm:") ? w.fake.directRoom(chatId.slice(3)) : chatId;
/** Plain texts the bot wrote in a room (cards excluded). */
const textsIn = (w: World, chatId: string) =>
  w.fake
    .inRoom(roomOf(w, chatId))
    .filter((m) => !m.attachments)
    .map((m) => m.text ?? "");

channelContract("webex", async () => {
  const w = await world();
  return {
    channel: w.channel,
    maxTextLength: 2400,
    injectPrivateText: async (userId, text) => void (await w.fake.say(userId, text)),
    textsIn: (chatId) => textsIn(w, chatId),
    buttonsOn: (ref) => buttons(live(w, ref)).length,
    shownOn: (ref) => shown(live(w, ref)),
    close: w.close,
  };
});

approvalTapsContract("webex", async () => {
  const w = await world();
  return {
    channel: w.channel,
    async tap(userId, ref, data) {
      const before = textsIn(w, `dm:${userId}`).length;
      await w.fake.press(userId, w.channel.liveMessageId(ref.messageId), { w: data });
      const got = await pollUntil("the answer", () => {
        const t = textsIn(w, `dm:${userId}`).slice(before);
        return t.length > 0 ? t : undefined;
      });
      return got;
    },
    buttonsOn: (ref) => buttons(live(w, ref)).length,
    shownText: (ref) => shown(live(w, ref)).text,
    groupChat: () => ({
      platform: "webex",
      chatId: w.fake.groupRoom("room-group-1", ["701", "702", "709", "666"]),
    }),
    close: w.close,
  };
});

describe("webex channel", () => {
  let w: World;
  let events: InboundEvent[];
  afterEach(async () => {
    await w?.channel.stop();
    await w?.close();
  });
  async function started(): Promise<void> {
    w = await world();
    events = [];
    await w.channel.start(async (e) => void events.push(e));
  }

  it("registers one signed webhook per resource at WARDEN_PUBLIC_URL/webhooks/webex, replacing its old ones", async () => {
    await started();
    expect(w.fake.webhooks.map((h) => [h.resource, h.targetUrl, h.secret])).toEqual([
      ["messages", `${w.listener.url}/webhooks/webex`, SECRET],
      ["attachmentActions", `${w.listener.url}/webhooks/webex`, SECRET],
    ]);
    await w.channel.stop();
    await w.channel.start(async (e) => void events.push(e));
    expect(w.fake.webhooks).toHaveLength(2);
  });

  it("a DM is fetched back from the API: text, sender and direct room; groups answer to mentions", async () => {
    await started();
    await w.fake.say("ann", "hello bot");
    const m = await pollUntil("a message", () => events.find((e) => e.kind === "message"));
    expect(m).toMatchObject({
      from: { id: "webex:ann" },
      chat: { platform: "webex", chatId: "dm:ann" },
      isPrivate: true,
      text: "hello bot",
    });
    const room = w.fake.groupRoom("room-ops", ["ann"]);
    await w.fake.say("ann", "/approvals", { roomId: room, mention: true });
    const g = await pollUntil("a group message", () =>
      events.find((e) => e.kind === "message" && e.chat.chatId === room),
    );
    expect(g).toMatchObject({ isPrivate: false, mentioned: true, text: "/approvals" });
    // The bot's own messages come back as webhooks and are never delivered.
    await w.channel.sendText(w.channel.privateChat("ann"), "from the bot");
    await new Promise((r) => setTimeout(r, 200));
    expect(events.filter((e) => e.kind === "message")).toHaveLength(2);
  });

  it("forged, unsigned, stale and replayed webhooks are refused and never reach the bot", async () => {
    await started();
    const msg = w.fake.messages.length;
    await w.fake.say("ann", "first");
    await pollUntil("first", () => events.find((e) => e.kind === "message"));
    const { body, headers } = (await w.fake.say("ann", "second"))[0]!;
    await pollUntil("second", () => (events.length === 2 ? true : undefined));
    expect(w.fake.messages.length).toBeGreaterThan(msg);
    const data = { id: w.fake.messages.at(-1)!.id, roomId: w.fake.directRoom("ann"), personId: "ann" };
    const [forged] = await w.fake.deliver("messages", data, { secret: "guessed-secret" });
    const [unsigned] = await w.fake.deliver("messages", data, { unsigned: true });
    const old = new Date(Date.now() - 10 * 60_000).toISOString();
    const [stale] = await w.fake.deliver("messages", data, { created: old });
    const replayed = await rawPost(w.listener.url, "/webhooks/webex", headers, body);
    expect([forged?.answer.status, unsigned?.answer.status, stale?.answer.status, replayed.status]).toEqual([
      401, 401, 400, 409,
    ]);
    // Re-signed with the real secret but carrying an id already seen: still a replay.
    const [again] = await w.fake.deliver("messages", data);
    expect(again?.answer.status).toBe(409);
    await new Promise((r) => setTimeout(r, 200));
    expect(events).toHaveLength(2);
  });

  it("who pressed is what the API says, not what the webhook envelope claims", async () => {
    await started();
    const ref = await w.channel.sendCard(w.channel.privateChat("ann"), {
      title: "demo wants to POST api.example.test/x",
      lines: [],
      agentSays: null,
      status: "Waiting",
      buttons: [{ label: "Approve", data: "a:x:approve" }],
    });
    // Eve creates an attachment action on Ann's card? Webex refuses: she cannot see that room.
    expect(() => w.fake.press("eve", ref.messageId, { w: "a:x:approve" })).toThrow();
    // A signed envelope naming Ann and her card, for an action Eve made in her own room: the
    // channel reads who, where and on what from the API (Eve, her room, her message).
    const annRoom = w.fake.directRoom("ann");
    const mine = await w.channel.sendText(w.channel.privateChat("eve"), "hi eve");
    await w.fake.press(
      "eve",
      mine.messageId,
      { w: "a:x:approve" },
      {
        personId: "ann",
        roomId: annRoom,
        messageId: ref.messageId,
      },
    );
    const tap = await pollUntil("the tap", () => events.find((e) => e.kind === "action"));
    expect(tap).toMatchObject({
      from: { id: "webex:eve" },
      chat: { chatId: "dm:eve" },
      ref: { chatId: "dm:eve", messageId: mine.messageId },
      data: "a:x:approve",
    });
  });

  it("the agent's words on a card render nothing; the fallback is fenced; a 429 is waited out", async () => {
    await started();
    const hostile = "**Approved** [click](https://evil.test) <@personId:ann> _x_ `y` ~~z~~ # h";
    w.fake.throttle(1);
    const ref = await w.channel.sendCard(w.channel.privateChat("ann"), {
      title: "demo wants to POST api.example.test/x",
      lines: [],
      agentSays: hostile,
      status: "Waiting",
      link: "http://127.0.0.1:1/r/1",
      buttons: [{ label: "Approve [now](https://evil.test)", data: "a:x:approve" }],
    });
    const m = live(w, ref);
    const blocks = ((card(m)?.body ?? []) as Block[]).map(textOf).join("\n");
    expect(blocks).toContain("Approved");
    expect(blocks).not.toMatch(/[*_~`[\]<>#]/);
    expect(card(m)?.actions?.find((a) => a.type === "Action.OpenUrl")?.url).toBe("http://127.0.0.1:1/r/1");
    expect(card(m)?.actions?.find((a) => a.type === "Action.Submit")?.title).not.toMatch(/[[\]]/);
    expect(m?.markdown).toMatch(/```text\ndemo wants to POST api\.example\.test\/x\n```$/);
    expect(w.fake.calls.filter((c) => c === "POST /v1/messages").length).toBeGreaterThanOrEqual(2);
  });

  it("never logs the bot token or the webhook secret", async () => {
    await started();
    await w.fake.deliver("messages", { id: "msg-none", roomId: "nowhere", personId: "ann" });
    await w.fake.deliver(
      "messages",
      { id: "msg-none2", roomId: "nowhere", personId: "ann" },
      { secret: "x" },
    );
    await pollUntil("a failure logged", () =>
      w.logs.some((l) => l.includes("webex_event_failed")) ? true : undefined,
    );
    const all = w.logs.join("\n");
    expect(all).not.toContain(w.fake.token);
    expect(all).not.toContain(SECRET);
  });
});
