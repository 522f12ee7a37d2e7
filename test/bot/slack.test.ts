/**
 * The Slack channel with the real Bolt app, in Socket Mode against a fake Slack on 127.0.0.1 (and
 * once in HTTP mode, signed requests), plus the shared Channel and approval-tap contracts.
 */
import { readFileSync } from "node:fs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import YAML from "yaml";
import type { Card, InboundEvent, InboundMessage } from "../../bot/channel.js";
import { createSlackChannel, type SlackChannel } from "../../bot/channels/slack/index.js";
import { COMMANDS } from "../../bot/router.js";
import { approvalTapsContract } from "../contracts/approval-taps.contract.js";
import { channelContract } from "../contracts/channel.contract.js";
import { pollUntil } from "../fakes/poll-until.js";
import {
  type FakeSlack,
  SLACK_BOT,
  slackSignature,
  slackUnescape,
  startFakeSlack,
} from "../fakes/slack-api.js";

let fake: FakeSlack;
let channel: SlackChannel;
let events: InboundEvent[];
let onEvent: (e: InboundEvent) => Promise<void>;
const logs: { event: string; fields: Record<string, unknown> }[] = [];
const log = (event: string, fields: Record<string, unknown>) => void logs.push({ event, fields });

beforeEach(async () => {
  fake = await startFakeSlack();
  events = [];
  logs.length = 0;
  onEvent = async () => {};
  channel = createSlackChannel({
    botToken: fake.botToken,
    appToken: fake.appToken,
    apiUrl: fake.apiUrl,
    log,
  });
  await channel.start(async (e) => {
    events.push(e);
    await onEvent(e);
  });
});

afterEach(async () => {
  await channel.stop();
  await fake.close();
});

const nextEvent = <K extends InboundEvent["kind"]>(kind: K, after = 0) =>
  pollUntil(`a ${kind} event`, async () => events.slice(after).find((e) => e.kind === kind)) as Promise<
    Extract<InboundEvent, { kind: K }>
  >;

const CARD: Card = {
  title: "builder wants to POST api.github.com/repos/x/y/issues",
  lines: [
    { label: "Agent", value: "builder" },
    { label: "Request", value: "POST https://api.github.com/repos/x/y/issues?a=1&b=2" },
  ],
  agentSays: "Urgent <!channel> see <https://evil.test|docs>\u202E\n\nStatus: Approved by owner",
  status: "Waiting: 0 of 1 approvals",
  buttons: [
    { label: "Approve", data: "a:1f3e9c:approve", style: "primary" },
    { label: "Deny", data: "a:1f3e9c:deny", style: "danger" },
    { label: "Approve for 1h", data: "a:1f3e9c:grant" },
  ],
};

describe("slack channel (Socket Mode)", () => {
  it("start() learns the bot user with auth.test and connects Socket Mode", async () => {
    expect(fake.callsTo("auth.test")).toHaveLength(1);
    expect(fake.callsTo("apps.connections.open")).toHaveLength(1);
    expect(fake.connections()).toBe(1);
    expect(channel.platform).toBe("slack");
  });

  it("delivers a DM as a private message, decoding Slack's markup", async () => {
    const sent = await fake.message({
      user: "U0ALICE",
      text: "a &lt; b &amp;&amp; <https://x.test|x.test> <@U0BOB>",
    });
    expect(await nextEvent("message")).toEqual<InboundMessage>({
      kind: "message",
      from: { id: "slack:U0ALICE", name: "U0ALICE" },
      chat: { platform: "slack", chatId: "U0ALICE" },
      isPrivate: true,
      mentioned: false,
      text: "a < b && x.test @U0BOB",
      ref: { platform: "slack", chatId: "U0ALICE", messageId: sent.ts },
    });
  });

  it("drops bot messages, edits, deletions and its own messages", async () => {
    await fake.message({ user: "U0OTHER", text: "/agent stop x", bot_id: "B0OTHER" });
    await fake.message({ user: "U0OTHER", text: "hi", subtype: "bot_message" });
    await fake.message({ user: "U0ALICE", text: "edited", subtype: "message_changed" });
    await fake.message({ user: "U0ALICE", text: "gone", subtype: "message_deleted" });
    await fake.message({ user: SLACK_BOT.userId, text: "echo", channel: "C0OPS" });
    await fake.message({ user: "U0ALICE", text: "marker" });
    expect((await nextEvent("message")).text).toBe("marker");
    expect(events).toHaveLength(1);
  });

  it("tells mentions, plain channel messages and threads apart", async () => {
    const root = await channel.sendText({ platform: "slack", chatId: "C0OPS" }, "bot root");
    const cases: [string, () => Promise<unknown>, Partial<InboundMessage>][] = [
      [
        "mention",
        () => fake.mention({ user: "U0ALICE", channel: "C0OPS", text: "status?" }),
        { mentioned: true, text: "status?" },
      ],
      [
        "plain",
        () => fake.message({ user: "U0ALICE", channel: "C0OPS", text: "just chatting" }),
        { mentioned: false },
      ],
      [
        "thread",
        () => fake.message({ user: "U0ALICE", channel: "C0OPS", text: "in thread", thread_ts: "1.000001" }),
        { mentioned: false, chat: { platform: "slack", chatId: "C0OPS", threadId: "1.000001" } },
      ],
      [
        "reply in the bot's thread",
        () => fake.message({ user: "U0ALICE", channel: "C0OPS", text: "go on", thread_ts: root.messageId }),
        { mentioned: true, text: "go on" },
      ],
    ];
    for (const [name, inject, expected] of cases) {
      const before = events.length;
      await inject();
      const m = await nextEvent("message", before);
      expect({ name, ...m }).toMatchObject({
        name,
        isPrivate: false,
        chat: { chatId: "C0OPS" },
        ...expected,
      });
    }
    // With message.channels subscribed, a mention also arrives as a plain message: handled once.
    await fake.message({ user: "U0ALICE", channel: "C0OPS", text: `<@${SLACK_BOT.userId}> twice?` });
    await fake.message({ user: "U0ALICE", channel: "C0OPS", text: "marker" });
    await pollUntil("marker", async () => events.find((e) => e.kind === "message" && e.text === "marker"));
    expect(events.filter((e) => e.kind === "message" && e.text.includes("twice"))).toHaveLength(0);
  });

  it("acks a slash command at once and delivers it as /command text", async () => {
    expect(await fake.slashCommand({ user: "U0ALICE", command: "/agent", text: "start demo" })).toEqual({});
    const m = await nextEvent("message");
    expect(m).toMatchObject({
      text: "/agent start demo",
      isPrivate: true,
      mentioned: true,
      chat: { chatId: "U0ALICE" },
    });
    await channel.deleteMessage?.(m.ref); // nothing was posted: a no-op, not an error
    expect(fake.callsTo("chat.delete")).toHaveLength(0);

    await fake.slashCommand({ user: "U0ALICE", command: "/approvals", channel: "C0OPS" });
    expect(await nextEvent("message", 1)).toMatchObject({
      text: "/approvals",
      isPrivate: false,
      chat: { chatId: "C0OPS" },
    });
    // Typed in a DM between two people (the bot is not in it): not a private chat with the bot.
    await fake.slashCommand({ user: "U0ALICE", command: "/secret", text: "list", channel: "D0HUMANS1" });
    expect(await nextEvent("message", 2)).toMatchObject({ isPrivate: false, chat: { chatId: "D0HUMANS1" } });
  });

  it("sends text escaped with mrkdwn, link names and unfurls off", async () => {
    const to = channel.privateChat("U0ALICE");
    const text = "<!channel> & <https://evil.test|click me> *bold* @here";
    const ref = await channel.sendText(to, text);
    expect(ref).toEqual({ platform: "slack", chatId: "U0ALICE", messageId: expect.any(String) });
    const [p] = fake.callsTo("chat.postMessage");
    expect(p).toMatchObject({
      channel: fake.dmWith("U0ALICE"),
      mrkdwn: "false",
      parse: "none",
      link_names: "false",
      unfurl_links: "false",
      unfurl_media: "false",
    });
    expect(p?.text).toBe("&lt;!channel&gt; &amp; &lt;https://evil.test|click me&gt; *bold* @here");
    expect(fake.texts("U0ALICE")).toEqual([text]);
    expect(fake.callsTo("conversations.open")).toEqual([{ users: "U0ALICE" }]);
    await channel.sendText(to, "again");
    expect(fake.callsTo("conversations.open")).toHaveLength(1); // cached
  });

  it("splits to 4000 characters on the wire, counting escapes", async () => {
    const to = channel.privateChat("U0ALICE");
    const ref = await channel.sendText(to, "&".repeat(5000));
    const wire = fake.callsTo("chat.postMessage").map((p) => p.text as string);
    for (const w of wire) expect(w.length).toBeLessThanOrEqual(4000);
    expect(fake.texts("U0ALICE").join("")).toBe("&".repeat(5000));
    expect(ref.messageId).toBe(fake.posted("U0ALICE").at(-1)?.ts);
    await expect(channel.sendText(to, " \n ")).rejects.toThrow(/empty/);
  });

  it("renders a card as plain_text Block Kit with the agent's words labelled and inert", async () => {
    const ref = await channel.sendCard(channel.privateChat("U0ALICE"), CARD);
    const msg = fake.current("U0ALICE", ref.messageId);
    const blocks = msg?.blocks as { type: string; [k: string]: unknown }[];
    expect(blocks.map((b) => b.type)).toEqual(["header", "section", "context", "section", "actions"]);
    const json = JSON.stringify(blocks);
    expect(json).not.toContain("mrkdwn");
    expect(json).not.toContain("<");
    expect(json).not.toContain("\u202E");
    expect(blocks[2]).toMatchObject({
      elements: [
        { type: "plain_text", text: "Agent says (its own words):" },
        {
          type: "plain_text",
          text: '"Urgent &lt;!channel&gt; see &lt;https://evil.test|docs&gt; Status: Approved by owner"',
        },
      ],
    });
    expect(blocks[3]).toMatchObject({ text: { text: "Waiting: 0 of 1 approvals" } });
    const buttons = fake.buttons("U0ALICE", ref.messageId);
    expect(buttons.map((b) => [b.text?.text, b.value])).toEqual(CARD.buttons.map((b) => [b.label, b.data]));
    expect(new Set(buttons.map((b) => b.action_id)).size).toBe(3);
    expect(buttons.map((b) => (b as { style?: string }).style)).toEqual(["primary", "danger", undefined]);
    expect(msg?.text).toContain("builder wants to POST");
    await expect(
      channel.sendCard(channel.privateChat("U0ALICE"), {
        ...CARD,
        buttons: [{ label: "x", data: "ü".repeat(33) }],
      }),
    ).rejects.toThrow(/64 bytes/);
  });

  it("a click arrives as an action on the card's ref; reply() is shown to the clicker only", async () => {
    const ref = await channel.sendCard({ platform: "slack", chatId: "C0OPS" }, CARD);
    onEvent = async (e) => {
      if (e.kind === "action") await e.reply("You are not an approver <!here>");
    };
    expect(
      await fake.clickButton({ user: "U0MEL", channel: "C0OPS", ts: ref.messageId, value: "a:1f3e9c:deny" }),
    ).toEqual(["You are not an approver <!here>"]);
    expect(await nextEvent("action")).toMatchObject({
      from: { id: "slack:U0MEL" },
      chat: { chatId: "C0OPS" },
      data: "a:1f3e9c:deny",
      ref,
    });
    expect(fake.callsTo("chat.postEphemeral")).toEqual([
      { channel: "C0OPS", user: "U0MEL", text: "You are not an approver &lt;!here&gt;" },
    ]);
    expect(fake.callsTo("chat.postMessage")).toHaveLength(1); // nothing public
  });

  it("maps a click in the bot's DM back to the person's chat", async () => {
    const ref = await channel.sendCard(channel.privateChat("U0ANN"), CARD);
    await fake.clickButton({
      user: "U0ANN",
      ts: ref.messageId,
      value: "a:1f3e9c:approve",
      expectReply: false,
    });
    expect((await nextEvent("action")).ref).toEqual(ref);
  });

  it("timeZoneOf() reads the user's zone from users.info; none set, none told", async () => {
    fake.setTimeZone("U0ANN", "Europe/Berlin");
    expect(await channel.timeZoneOf?.("U0ANN")).toBe("Europe/Berlin");
    expect(await channel.timeZoneOf?.("U0BOB")).toBeUndefined();
    expect(fake.callsTo("users.info").map((p) => p.user)).toEqual(["U0ANN", "U0BOB"]);
  });

  it("updateCard() replaces the blocks and drops the actions block once decided", async () => {
    const ref = await channel.sendCard(channel.privateChat("U0ALICE"), CARD);
    await channel.updateCard(ref, { ...CARD, status: "Approved by Alice", buttons: [] });
    expect(fake.callsTo("chat.update")[0]).toMatchObject({
      channel: fake.dmWith("U0ALICE"),
      ts: ref.messageId,
    });
    expect(fake.buttons("U0ALICE", ref.messageId)).toHaveLength(0);
    expect(JSON.stringify(fake.current("U0ALICE", ref.messageId)?.blocks)).toContain("Approved by Alice");
  });

  it("agentThread() opens a thread under a root message; sends and replies there stay in it", async () => {
    const from = { platform: "slack", chatId: "C0OPS" };
    const thread = await channel.agentThread!("demo", from);
    const root = fake.posted("C0OPS")[0];
    expect(root?.text).toBe("Agent demo: talk to it in this thread.");
    expect(thread).toEqual({ ...from, threadId: root?.ts });
    await channel.sendText(thread, "hello from demo");
    expect(fake.callsTo("chat.postMessage")[1]).toMatchObject({ thread_ts: root?.ts });
    await fake.message({ user: "U0ALICE", channel: "C0OPS", text: "more", thread_ts: root!.ts });
    expect((await nextEvent("message")).chat).toEqual(thread);
    expect(await channel.agentThread!("demo", thread)).toEqual(thread); // threads do not nest
  });

  it("retries a 429 after Retry-After and the message arrives", async () => {
    fake.failNext("chat.postMessage", 429, 1);
    const ref = await channel.sendText(channel.privateChat("U0ALICE"), "after the wait");
    expect(fake.callsTo("chat.postMessage")).toHaveLength(2);
    expect(fake.current("U0ALICE", ref.messageId)?.text).toBe("after the wait");
    expect(logs.some((l) => l.event === "slack.rate_limited")).toBe(true);
  });

  it("does not wait out a Retry-After over 30 s; maps platform errors to plain messages", async () => {
    fake.failNext("chat.postMessage", 429, 120);
    await expect(channel.sendText({ platform: "slack", chatId: "C0OPS" }, "x")).rejects.toThrow(
      "Slack chat.postMessage failed: ratelimited (rate limited by Slack)",
    );
    fake.failNext("chat.postMessage", "not_in_channel");
    const err = (await channel
      .sendText({ platform: "slack", chatId: "C0OPS" }, "x")
      .catch((e: unknown) => e)) as Error;
    expect(err.message).toBe(
      "Slack chat.postMessage failed: not_in_channel (the bot is not in that channel; invite it with /invite)",
    );
    const typed = await fake.message({ user: "U0ALICE", text: "/secret set GH ghp_x" });
    const m = await nextEvent("message");
    expect(m.ref.messageId).toBe(typed.ts);
    await expect(channel.deleteMessage!(m.ref)).rejects.toThrow(
      /cant_delete_message \(Slack lets a bot delete only its own messages\)/,
    );
    const mine = await channel.sendText(m.chat, "ok");
    await channel.deleteMessage!(mine);
    expect(fake.current("U0ALICE", mine.messageId)).toBeUndefined();
  });

  it("start() fails clearly on a rejected bot or app token, without echoing either", async () => {
    for (const [opts, method] of [
      [{ botToken: "xoxb-WRONG-secret-token", appToken: fake.appToken }, "auth.test"],
      [{ botToken: fake.botToken, appToken: "xapp-WRONG-secret-token" }, "apps.connections.open"],
    ] as const) {
      const bad = createSlackChannel({ ...opts, apiUrl: fake.apiUrl });
      const err = (await bad.start(async () => {}).catch((e: unknown) => e)) as Error;
      expect(err.message).toBe(`Slack ${method} failed: invalid_auth (the token was rejected)`);
      expect(err.message).not.toContain("WRONG");
      await bad.stop();
    }
  });

  it("a throwing handler is logged; a slow one does not block the next envelope", async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => {
      release = r;
    });
    onEvent = async (e) => {
      if (e.kind === "message" && e.text === "boom") throw new Error("handler exploded");
      if (e.kind === "message" && e.text === "slow") await held;
      if (e.kind === "action") release();
    };
    await fake.message({ user: "U0ALICE", text: "boom" });
    await pollUntil("the error log", async () => logs.find((l) => l.event === "slack.handler_error"));
    const ref = await channel.sendCard(channel.privateChat("U0ALICE"), CARD);
    await fake.message({ user: "U0ALICE", text: "slow" });
    await fake.clickButton({
      user: "U0ALICE",
      ts: ref.messageId,
      value: "a:1f3e9c:approve",
      expectReply: false,
    });
    await held;
  });

  it("stop() disconnects; nothing is delivered afterwards", async () => {
    await channel.stop();
    expect(fake.connections()).toBe(0);
    expect(await fake.message({ user: "U0ALICE", text: "anyone?" })).toBeDefined();
    expect(events).toHaveLength(0);
  });
});

describe("slack channel (HTTP mode)", () => {
  it("accepts a signed slash command and an interaction; rejects a bad signature with 401", async () => {
    const secret = "8f742231b10e8888abcd99yyyzzz85a5";
    const http = createSlackChannel({
      botToken: fake.botToken,
      socketMode: false,
      signingSecret: secret,
      http: { port: 0 },
      apiUrl: fake.apiUrl,
    });
    const got: InboundEvent[] = [];
    await http.start(async (e) => void got.push(e));
    try {
      const { host, port } = http.httpAddress()!;
      const url = `http://${host}:${port}/slack/events`;
      const post = (body: string, headers: Record<string, string>) =>
        fetch(url, {
          method: "POST",
          body,
          headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
        });
      const command = new URLSearchParams({
        team_id: SLACK_BOT.teamId,
        channel_id: "C0OPS",
        channel_name: "ops",
        user_id: "U0ALICE",
        user_name: "alice",
        command: "/agent",
        text: "list",
        response_url: "http://127.0.0.1:9/r",
        trigger_id: "1.2.3",
        api_app_id: SLACK_BOT.appId,
      }).toString();
      expect((await post(command, slackSignature(secret, command))).status).toBe(200);
      expect(await pollUntil("the command", async () => got[0])).toMatchObject({
        text: "/agent list",
        chat: { chatId: "C0OPS" },
      });
      expect((await post(command, slackSignature("wrong-secret-0123456789", command))).status).toBe(401);
      expect((await post(command, {})).status).toBe(401);
      const ref = await http.sendCard({ platform: "slack", chatId: "C0OPS" }, CARD);
      const payload = {
        type: "block_actions",
        team: { id: SLACK_BOT.teamId },
        user: { id: "U0ANN", name: "ann" },
        channel: { id: "C0OPS" },
        container: { type: "message", message_ts: ref.messageId, channel_id: "C0OPS" },
        message: { ts: ref.messageId },
        actions: [
          { action_id: "warden_card_0", block_id: "warden_card", value: "a:1f3e9c:approve", type: "button" },
        ],
        response_url: "http://127.0.0.1:9/r",
        trigger_id: "1.2.4",
        api_app_id: SLACK_BOT.appId,
      };
      const tap = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
      expect((await post(tap, slackSignature(secret, tap))).status).toBe(200);
      expect(await pollUntil("the tap", async () => got.find((e) => e.kind === "action"))).toMatchObject({
        data: "a:1f3e9c:approve",
        ref,
      });
      expect(got).toHaveLength(2);
    } finally {
      await http.stop();
    }
  });
});

describe("slack manifest.yaml", () => {
  it("creates a Socket Mode app with interactivity, the events and the commands the channel handles", () => {
    const path = new URL("../../bot/channels/slack/manifest.yaml", import.meta.url);
    const m = YAML.parse(readFileSync(path, "utf8"));
    expect(m.settings).toMatchObject({ socket_mode_enabled: true, interactivity: { is_enabled: true } });
    expect(m.settings.event_subscriptions.bot_events).toEqual(["app_mention", "message.im"]);
    const commands = m.features.slash_commands.map((c: { command: string }) => c.command);
    // Every command the router knows, so nothing typed in Slack is refused by Slack itself.
    expect([...commands].sort()).toEqual([...COMMANDS.map((c) => `/${c.name}`), "/help"].sort());
    expect(m.oauth_config.scopes.bot).toEqual(
      expect.arrayContaining([
        "chat:write",
        "commands",
        "im:history",
        "im:read",
        "im:write",
        "app_mentions:read",
      ]),
    );
  });
});

// The shared contracts, against a fresh fake per test.
channelContract("slack", async () => {
  const f = await startFakeSlack();
  return {
    channel: createSlackChannel({ botToken: f.botToken, appToken: f.appToken, apiUrl: f.apiUrl }),
    maxTextLength: 4000,
    injectPrivateText: async (userId, text) => void (await f.message({ user: userId, text })),
    textsIn: (chatId) => f.texts(chatId),
    buttonsOn: (ref) => f.buttons(ref.chatId, ref.messageId).length,
    shownOn: (ref) => {
      // What Slack shows: every block's text, Slack's escapes undone, our link's target included.
      type Block = { type: string; text?: { text: string }; fields?: { text: string }[]; elements?: Json[] };
      type Json = { type?: string; text?: string | { text: string }; elements?: Json[] };
      const blocks = (f.current(ref.chatId, ref.messageId)?.blocks ?? []) as Block[];
      const out: string[] = [];
      const element = (e: Json): void => {
        if (e.type === "mrkdwn" && typeof e.text === "string")
          out.push(slackUnescape(e.text.replace(/<([^|>]+)\|([^>]+)>/g, "$2 $1")));
        else if (e.type === "text" && typeof e.text === "string") out.push(e.text);
        else if (typeof e.text === "string") out.push(slackUnescape(e.text));
        for (const c of e.elements ?? []) element(c);
      };
      for (const b of blocks) {
        if (b.type === "actions") continue;
        if (b.text) out.push(slackUnescape(b.text.text));
        for (const x of b.fields ?? []) out.push(slackUnescape(x.text));
        for (const e of b.elements ?? []) element(e);
      }
      return {
        text: out.join("\n"),
        buttons: f.buttons(ref.chatId, ref.messageId).map((b) => slackUnescape(b.text?.text ?? "")),
      };
    },
    close: () => f.close(),
  };
});

approvalTapsContract("slack", async () => {
  const f = await startFakeSlack();
  return {
    channel: createSlackChannel({ botToken: f.botToken, appToken: f.appToken, apiUrl: f.apiUrl }),
    tap: (userId, ref, data) =>
      f.clickButton({ user: userId, channel: ref.chatId, ts: ref.messageId, value: data }),
    buttonsOn: (ref) => f.buttons(ref.chatId, ref.messageId).length,
    shownText: (ref) => JSON.stringify(f.current(ref.chatId, ref.messageId)?.blocks ?? []),
    close: () => f.close(),
  };
});
