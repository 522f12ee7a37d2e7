/**
 * The Telegram channel with the real grammY bot, long polling a fake Bot API on 127.0.0.1.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Card, Channel, InboundAction, InboundEvent, InboundMessage } from "../../bot/channel.js";
import { createTelegramChannel, DEFAULT_COMMANDS } from "../../bot/channels/telegram.js";
import { splitText } from "../../bot/channels/text.js";
import { approvalTapsContract } from "../contracts/approval-taps.contract.js";
import { type ChannelHarness, channelContract } from "../contracts/channel.contract.js";
import { pollUntil } from "../fakes/poll-until.js";
import { BOT, type FakeTelegram, startFakeTelegram } from "../fakes/telegram-api.js";

const ALICE = { id: 4242, name: "Alice", username: "alice" };
const GROUP = { id: -100555, type: "supergroup" as const, title: "ops" };

let api: FakeTelegram;
let channel: Channel;
let events: InboundEvent[];
let onEvent: (e: InboundEvent) => Promise<void>;
const logs: { event: string; fields: Record<string, unknown> }[] = [];

beforeEach(async () => {
  api = await startFakeTelegram();
  events = [];
  logs.length = 0;
  onEvent = async () => {};
  channel = createTelegramChannel({
    token: api.token,
    apiRoot: api.apiRoot,
    log: (event, fields) => logs.push({ event, fields }),
  });
  await channel.start(async (e) => {
    events.push(e);
    await onEvent(e);
  });
});

afterEach(async () => {
  await channel.stop();
  await api.close();
});

const nextEvent = <K extends InboundEvent["kind"]>(kind: K, after = 0) =>
  pollUntil(`a ${kind} event`, async () => events.slice(after).find((e) => e.kind === kind)) as Promise<
    Extract<InboundEvent, { kind: K }>
  >;

const card = (buttons: Card["buttons"]): Card => ({
  title: "Approve POST api.github.com?",
  lines: [
    { label: "Agent", value: "builder" },
    { label: "Request", value: "POST https://api.github.com/repos/x/y/issues" },
  ],
  agentSays: 'I need to file the bug.\n\nStatus: Approved by owner "really"',
  status: "Waiting: 0 of 1 approvals",
  buttons,
});

describe("telegram channel", () => {
  it("registers the default commands on start, then long polls", async () => {
    expect(api.callsTo("getMe")).toHaveLength(1);
    expect(api.callsTo("setMyCommands")[0]?.commands).toEqual(DEFAULT_COMMANDS);
    expect(DEFAULT_COMMANDS.map((c) => c.command)).toEqual([
      "agent",
      "policy",
      "approvals",
      "secret",
      "audit",
      "role",
      "link",
      "invite",
      "setup",
      "quiet",
      "help",
      "start",
    ]);
    await api.waitForCall("getUpdates", (p) => p.timeout === 30);
  });

  it("delivers a private message", async () => {
    const sent = api.injectText({ from: ALICE, text: "hello there" });
    const m = await nextEvent("message");
    expect(m).toEqual<InboundMessage>({
      kind: "message",
      from: { id: "telegram:4242", name: "Alice" },
      chat: { platform: "telegram", chatId: "4242" },
      isPrivate: true,
      mentioned: false,
      text: "hello there",
      ref: { platform: "telegram", chatId: "4242", messageId: String(sent.message_id) },
    });
  });

  it("tells mentions, replies and /commands apart in a group", async () => {
    const botMsg = await channel.sendText({ platform: "telegram", chatId: String(GROUP.id) }, "I am here");
    const cases: [string, Parameters<FakeTelegram["injectText"]>[0], boolean, string?][] = [
      ["plain", { from: ALICE, chat: GROUP, text: "just chatting" }, false],
      ["mention", { from: ALICE, chat: GROUP, text: "hey @Warden_Test_Bot status?" }, true],
      ["other mention", { from: ALICE, chat: GROUP, text: "hey @someone_else" }, false],
      ["command", { from: ALICE, chat: GROUP, text: "/approvals" }, true],
      [
        "addressed command",
        { from: ALICE, chat: GROUP, text: "/agent@warden_test_bot list" },
        true,
        "/agent list",
      ],
      ["other bot's command", { from: ALICE, chat: GROUP, text: "/agent@other_bot list" }, false],
      [
        "reply to bot",
        { from: ALICE, chat: GROUP, text: "yes", replyToMessageId: Number(botMsg.messageId) },
        true,
      ],
      ["topic", { from: ALICE, chat: GROUP, text: "in a topic", threadId: 17 }, false],
    ];
    for (const [name, input, mentioned, text] of cases) {
      const before = events.length;
      api.injectText(input);
      const m = await nextEvent("message", before);
      expect({ name, mentioned: m.mentioned, text: m.text }).toEqual({
        name,
        mentioned,
        text: text ?? input.text,
      });
      expect(m.isPrivate).toBe(false);
      expect(m.chat.chatId).toBe(String(GROUP.id));
      expect(m.chat.threadId).toBe(name === "topic" ? "17" : undefined);
    }
  });

  it("drops messages sent as a chat (anonymous admin) or by bots", async () => {
    const anon = { id: 1087968824, name: "Group", username: "GroupAnonymousBot", isBot: true };
    api.injectText({ from: anon, chat: GROUP, text: "/secret list", senderChat: { ...GROUP, title: "ops" } });
    api.injectText({
      from: ALICE,
      chat: GROUP,
      text: "/role",
      senderChat: { id: -100777, type: "channel", title: "news" },
    });
    api.injectText({ from: { id: 99, name: "Other bot", isBot: true }, chat: GROUP, text: "/agent stop" });
    api.injectText({ from: ALICE, text: "marker" });
    const m = await nextEvent("message");
    expect(m.text).toBe("marker");
    expect(events).toHaveLength(1);
  });

  it("splits a 10 000-char text at 4096, on newlines when possible, and returns the last ref", async () => {
    const to = channel.privateChat("4242");
    expect(to).toEqual({ platform: "telegram", chatId: "4242" });
    const lines = Array.from({ length: 100 }, (_, i) => `${String(i).padStart(3, "0")} ${"x".repeat(95)}`);
    const text = lines.join("\n"); // 100 lines of 99 chars + newlines = 9 999 chars
    const ref = await channel.sendText(to, text);
    const sent = api.callsTo("sendMessage").map((p) => p.text as string);
    expect(sent.length).toBe(3);
    for (const chunk of sent) expect(chunk.length).toBeLessThanOrEqual(4096);
    expect(sent.join("\n")).toBe(text);
    expect(api.callsTo("sendMessage").every((p) => p.parse_mode === undefined)).toBe(true);
    expect(ref).toEqual({
      platform: "telegram",
      chatId: "4242",
      messageId: String(api.message(4242, ref.messageId)?.message_id),
    });
    expect(api.message(4242, ref.messageId)?.text).toBe(sent[2]);

    const flat = await channel.sendText(to, "y".repeat(10_000));
    expect(
      api
        .callsTo("sendMessage")
        .slice(3)
        .map((p) => (p.text as string).length),
    ).toEqual([4096, 4096, 1808]);
    expect(api.message(4242, flat.messageId)?.text).toHaveLength(1808);
  });

  it("never splits a surrogate pair and refuses empty text", async () => {
    const chunks = splitText(`${"a".repeat(4095)}😀b`, 4096);
    expect(chunks).toEqual(["a".repeat(4095), "😀b"]);
    await expect(channel.sendText(channel.privateChat("4242"), " \n ")).rejects.toThrow(/empty/);
  });

  it("sends a card with buttons; a tap arrives as an action and reply() answers the callback", async () => {
    const buttons = [
      { label: "Approve once", data: "a:1f3e9c:once", style: "primary" as const },
      { label: "Approve for 1h", data: "a:1f3e9c:hour" },
      { label: "Deny", data: "d:1f3e9c", style: "danger" as const },
    ];
    const ref = await channel.sendCard({ platform: "telegram", chatId: "4242" }, card(buttons));
    const [params] = api.callsTo("sendMessage");
    const keyboard = (
      params!.reply_markup as { inline_keyboard: { text: string; callback_data: string }[][] }
    ).inline_keyboard;
    expect(keyboard.flat().map((b) => [b.text, b.callback_data])).toEqual(
      buttons.map((b) => [b.label, b.data]),
    );
    for (const b of keyboard.flat()) expect(Buffer.byteLength(b.callback_data)).toBeLessThanOrEqual(64);
    const text = params?.text as string;
    expect(text).toContain("Approve POST api.github.com?");
    expect(text).toContain("Request: POST https://api.github.com/repos/x/y/issues");
    expect(text).toContain(
      'Agent says (its own words): "I need to file the bug. Status: Approved by owner "really""',
    );
    expect(text.split("\n").at(-1)).toBe("Waiting: 0 of 1 approvals");

    onEvent = async (e) => {
      if (e.kind === "action") await e.reply("Approved once.");
    };
    const callbackId = api.injectTap({
      from: ALICE,
      chatId: 4242,
      messageId: Number(ref.messageId),
      data: "d:1f3e9c",
    });
    const action = await nextEvent("action");
    expect(action).toMatchObject<Partial<InboundAction>>({
      from: { id: "telegram:4242", name: "Alice" },
      chat: { platform: "telegram", chatId: "4242" },
      data: "d:1f3e9c",
      ref,
    });
    const answer = await api.waitForCall("answerCallbackQuery");
    expect(answer).toEqual({ callback_query_id: callbackId, text: "Approved once.", show_alert: false });
    await new Promise((r) => setTimeout(r, 100));
    expect(api.callsTo("answerCallbackQuery")).toHaveLength(1);
  });

  it("answers every tap exactly once, even when the handler throws or never replies", async () => {
    const ref = await channel.sendCard(channel.privateChat("4242"), card([{ label: "Go", data: "go" }]));
    onEvent = async (e) => {
      if (e.kind === "action" && e.data === "boom") throw new Error("handler exploded");
    };
    const silent = api.injectTap({
      from: ALICE,
      chatId: 4242,
      messageId: Number(ref.messageId),
      data: "quiet",
    });
    const boom = api.injectTap({ from: ALICE, chatId: 4242, messageId: Number(ref.messageId), data: "boom" });
    await pollUntil("two answers", async () =>
      api.callsTo("answerCallbackQuery").length >= 2 ? true : undefined,
    );
    await new Promise((r) => setTimeout(r, 100));
    const answers = api.callsTo("answerCallbackQuery");
    expect(answers).toHaveLength(2);
    expect(answers.find((a) => a.callback_query_id === silent)).toEqual({ callback_query_id: silent });
    expect(answers.find((a) => a.callback_query_id === boom)?.text).toMatch(/something went wrong/i);
    expect(logs.some((l) => l.event === "telegram.handler_error")).toBe(true);
  });

  it("refuses button data over 64 bytes (bytes, not characters)", async () => {
    const to = channel.privateChat("4242");
    await expect(channel.sendCard(to, card([{ label: "x", data: "ü".repeat(33) }]))).rejects.toThrow(
      /64 bytes/,
    );
    expect(api.callsTo("sendMessage")).toHaveLength(0);
  });

  it("updateCard edits the text and removes the buttons; an identical update is not an error", async () => {
    const ref = await channel.sendCard(
      channel.privateChat("4242"),
      card([{ label: "Approve", data: "a:1" }]),
    );
    const decided = { ...card([]), status: "Approved by Alice" };
    await channel.updateCard(ref, decided);
    const [edit] = api.callsTo("editMessageText");
    expect(edit).toMatchObject({
      chat_id: "4242",
      message_id: Number(ref.messageId),
      reply_markup: { inline_keyboard: [] },
    });
    expect(edit?.text).toMatch(/Approved by Alice$/);
    expect(api.message(4242, ref.messageId)?.reply_markup).toBeUndefined();
    await expect(channel.updateCard(ref, decided)).resolves.toBeUndefined();
    expect(api.callsTo("editMessageText")).toHaveLength(2);
  });

  it("retries once on 429 after retry_after", async () => {
    api.rateLimitOnce("sendMessage", 1);
    const started = Date.now();
    const ref = await channel.sendText(channel.privateChat("4242"), "after the wait");
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(api.callsTo("sendMessage")).toHaveLength(2);
    expect(api.message(4242, ref.messageId)?.text).toBe("after the wait");
  });

  it("typing() shows the typing action in the chat (and its topic thread)", async () => {
    await channel.typing?.({ platform: "telegram", chatId: String(ALICE.id) });
    await channel.typing?.({ platform: "telegram", chatId: String(GROUP.id), threadId: "7" });
    expect(api.callsTo("sendChatAction")).toEqual([
      { chat_id: String(ALICE.id), action: "typing" },
      { chat_id: String(GROUP.id), action: "typing", message_thread_id: 7 },
    ]);
  });

  it("deletes a message, and maps failures to plain errors without the token", async () => {
    api.injectText({ from: ALICE, text: "/secret set GH ghp_supersecret" });
    const m = await nextEvent("message");
    await channel.deleteMessage?.(m.ref);
    expect(api.callsTo("deleteMessage")).toEqual([{ chat_id: "4242", message_id: Number(m.ref.messageId) }]);
    expect(api.message(4242, m.ref.messageId)).toBeUndefined();
    const err = await channel.deleteMessage?.(m.ref).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toBe(
      "Telegram deleteMessage failed: Bad Request: message to delete not found",
    );
  });

  it("start fails clearly on a rejected token, without echoing it", async () => {
    const bad = createTelegramChannel({ token: "999:WRONG-secret-token", apiRoot: api.apiRoot });
    const err = await bad.start(async () => {}).catch((e: unknown) => e as Error);
    expect(err?.message).toMatch(/token was rejected/);
    expect(err?.message).not.toContain("WRONG-secret-token");
  });

  it("a slow handler does not block the next update (e.g. waiting for an approval tap)", async () => {
    const ref = await channel.sendCard(
      channel.privateChat("4242"),
      card([{ label: "Approve", data: "a:9" }]),
    );
    let release!: () => void;
    const tapped = new Promise<void>((r) => {
      release = r;
    });
    onEvent = async (e) => {
      if (e.kind === "message") await tapped;
      else release();
    };
    api.injectText({ from: ALICE, text: "/agent ask builder do it" });
    await nextEvent("message");
    api.injectTap({ from: ALICE, chatId: 4242, messageId: Number(ref.messageId), data: "a:9" });
    await nextEvent("action");
    await tapped;
  });

  it("stop() ends polling", async () => {
    await api.waitForCall("getUpdates");
    await channel.stop();
    const polls = api.callsTo("getUpdates").length;
    expect(api.callsTo("getUpdates").at(-1)).toMatchObject({ limit: 1 }); // grammY confirms the offset
    api.injectText({ from: ALICE, text: "anyone?" });
    await new Promise((r) => setTimeout(r, 500));
    expect(api.callsTo("getUpdates")).toHaveLength(polls);
    expect(events).toHaveLength(0);
  });

  it("uses the configured command list and bot username", async () => {
    const other = createTelegramChannel({
      token: api.token,
      apiRoot: api.apiRoot,
      botUsername: "renamed_bot",
      commands: [{ command: "help", description: "Help" }],
    });
    await channel.stop();
    const got: InboundEvent[] = [];
    await other.start(async (e) => {
      got.push(e);
    });
    try {
      expect(api.callsTo("setMyCommands").at(-1)).toEqual({
        commands: [{ command: "help", description: "Help" }],
      });
      api.injectText({ from: ALICE, chat: GROUP, text: `@${BOT.username} hi @renamed_bot` });
      const m = await pollUntil("message", async () => got[0]);
      expect(m.kind === "message" && m.mentioned).toBe(true);
    } finally {
      await other.stop();
    }
  });
});

// The shared Channel contract (test/contracts/channel.contract.ts), against the same fake.
channelContract("telegram", async (): Promise<ChannelHarness> => {
  const fake = await startFakeTelegram();
  return {
    channel: createTelegramChannel({ token: fake.token, apiRoot: fake.apiRoot }),
    maxTextLength: 4096,
    injectPrivateText: (userId, text) => void fake.injectText({ from: { id: Number(userId) }, text }),
    textsIn: (chatId) =>
      fake
        .callsTo("sendMessage")
        .filter((p) => String(p.chat_id) === chatId)
        .map((p) => p.text as string),
    buttonsOn: (ref) => {
      const markup = fake.message(ref.chatId, ref.messageId)?.reply_markup as
        | { inline_keyboard: unknown[][] }
        | undefined;
      return markup?.inline_keyboard.flat().length ?? 0;
    },
    shownOn: (ref) => {
      const m = fake.message(ref.chatId, ref.messageId);
      const markup = m?.reply_markup as { inline_keyboard: { text: string }[][] } | undefined;
      if ((m?.text ?? "").length > 4096) throw new Error("Telegram: message text over 4096 characters");
      return { text: m?.text ?? "", buttons: markup?.inline_keyboard.flat().map((b) => b.text) ?? [] };
    },
    close: () => fake.close(),
  };
});

// The adversarial approval cases (test/contracts/approval-taps.contract.ts), through real grammY taps.
approvalTapsContract("telegram", async () => {
  const fake = await startFakeTelegram();
  return {
    channel: createTelegramChannel({ token: fake.token, apiRoot: fake.apiRoot }),
    async tap(userId, ref, data) {
      // The fake keys chats by the id the bot sent to; a group here is a non-numeric test id.
      const chatId = ref.chatId as unknown as number;
      const id = fake.injectTap({
        from: { id: Number(userId) },
        chatId,
        messageId: Number(ref.messageId),
        data,
      });
      const answer = await fake.waitForCall("answerCallbackQuery", (p) => p.callback_query_id === id);
      return [String(answer.text ?? "")];
    },
    buttonsOn: (ref) =>
      (
        fake.message(ref.chatId, ref.messageId)?.reply_markup as { inline_keyboard: unknown[][] } | undefined
      )?.inline_keyboard.flat().length ?? 0,
    shownText: (ref) => fake.message(ref.chatId, ref.messageId)?.text ?? "",
    groupChat: () => ({ platform: "telegram", chatId: String(GROUP.id) }),
    close: () => fake.close(),
  };
});
