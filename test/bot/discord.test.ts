/**
 * The Discord channel with the real discord.js client, against a fake Discord (REST + Gateway) on
 * 127.0.0.1, plus the shared Channel and approval-tap contracts.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Card, Channel, InboundEvent, InboundMessage } from "../../bot/channel.js";
import {
  AGENT_SAYS_LABEL,
  createDiscordChannel,
  DEFAULT_COMMANDS,
} from "../../bot/channels/discord/index.js";
import { approvalTapsContract } from "../contracts/approval-taps.contract.js";
import { channelContract } from "../contracts/channel.contract.js";
import {
  BOT_USER,
  displayed,
  type FakeDiscord,
  GUILD_CHANNEL_ID,
  GUILD_ID,
  startFakeDiscord,
} from "../fakes/discord-api.js";
import { pollUntil } from "../fakes/poll-until.js";
import { createBotWorld } from "./bot-world.js";

let api: FakeDiscord;
let channel: Channel;
let events: InboundEvent[];
let onEvent: (e: InboundEvent) => Promise<void>;
const logs: { event: string; fields: Record<string, unknown> }[] = [];

/** The fake's channel id for one of our chat ids (`dm:<user>` or a channel snowflake). */
const channelIdOf = (f: FakeDiscord, chatId: string): string =>
  chatId.startsWith("dm:") ? f.dmChannelId(chatId.slice(3)) : chatId;

beforeEach(async () => {
  api = await startFakeDiscord();
  events = [];
  logs.length = 0;
  onEvent = async () => {};
  channel = createDiscordChannel({
    token: api.token,
    apiUrl: api.apiUrl,
    deferAfterMs: 100,
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

const CARD: Card = {
  title: "builder wants to POST api.github.com/repos",
  lines: [
    { label: "Agent", value: "builder" },
    { label: "Request", value: "POST https://api.github.com/repos/x/y/issues" },
  ],
  agentSays: "Ignore that.\u202E [Approve here](https://evil.test) <@1> @everyone\nStatus: Approved",
  status: "Waiting for approval: 0 of 1",
  buttons: [
    { label: "Approve", data: "a:00000000-0000-4000-8000-000000000001:approve", style: "primary" },
    { label: "Deny", data: "a:00000000-0000-4000-8000-000000000001:deny", style: "danger" },
    { label: "Approve for 15 min", data: "a:00000000-0000-4000-8000-000000000001:grant" },
  ],
};

describe("discord channel", () => {
  it("refuses crafted chat and message ids before any request (they go into REST paths)", async () => {
    const before = api.calls.length;
    await expect(channel.sendText({ platform: "discord", chatId: "../users/@me" }, "x")).rejects.toThrow(
      "Discord: not a channel id",
    );
    await expect(channel.sendText({ platform: "discord", chatId: "dm:../../x" }, "x")).rejects.toThrow(
      "Discord: not a user id",
    );
    const card = { title: "t", lines: [], agentSays: null, status: "s", buttons: [] };
    await expect(
      channel.updateCard({ platform: "discord", chatId: "dm:4242", messageId: "1/../../x" }, card),
    ).rejects.toThrow("Discord: not a message id");
    expect(api.calls.slice(before).filter((c) => c.path.includes(".."))).toEqual([]);
  });

  it("typing() triggers the typing indicator in the DM channel", async () => {
    await channel.typing?.(channel.privateChat("4242"));
    expect(api.callsTo("POST", `/channels/${api.dmChannelId("4242")}/typing`)).toHaveLength(1);
  });

  it("start() logs in through the Gateway and bulk-registers the commands, each with one args option", async () => {
    expect(api.callsTo("GET", "/gateway/bot")).toHaveLength(1);
    expect(api.callsTo("PUT", `/applications/${api.applicationId}/commands`)).toHaveLength(1);
    const names = api.registeredCommands().map((c) => c.name);
    expect(names).toEqual([
      "agent",
      "policy",
      "approvals",
      "secret",
      "audit",
      "role",
      "link",
      "quiet",
      "help",
      "start",
    ]);
    expect(names).toEqual(DEFAULT_COMMANDS.map((c) => c.name));
    for (const c of api.registeredCommands())
      expect(c.options).toEqual([expect.objectContaining({ type: 3, name: "args", required: false })]);
  });

  it("delivers a DM as a private message from discord:<user> in chat dm:<user>", async () => {
    const sent = api.dm("4242", "hello there", { name: "Alice" });
    expect(await nextEvent("message")).toEqual<InboundMessage>({
      kind: "message",
      from: { id: "discord:4242", name: "Alice" },
      chat: { platform: "discord", chatId: "dm:4242" },
      isPrivate: true,
      mentioned: false,
      text: "hello there",
      ref: { platform: "discord", chatId: "dm:4242", messageId: sent.id },
    });
  });

  it("tells mentions apart in a guild, strips the mention, and drops bots, webhooks and system messages", async () => {
    const cases: [string, string, boolean][] = [
      ["plain", "just chatting", false],
      ["mention", `<@${BOT_USER.id}> /agent list`, true],
      ["nick mention", `hey <@!${BOT_USER.id}> status?`, true],
    ];
    for (const [name, text, mentioned] of cases) {
      const before = events.length;
      api.guildMessage({ user: "4242", text });
      const m = await nextEvent("message", before);
      expect({ name, mentioned: m.mentioned, isPrivate: m.isPrivate, chat: m.chat.chatId }).toEqual({
        name,
        mentioned,
        isPrivate: false,
        chat: GUILD_CHANNEL_ID,
      });
      if (mentioned) expect(m.text).not.toContain(BOT_USER.id);
    }
    expect((events[1] as InboundMessage).text).toBe("/agent list");
    const before = events.length;
    api.guildMessage({ user: "99", text: `<@${BOT_USER.id}> /agent stop`, bot: true });
    api.guildMessage({ user: "98", text: `<@${BOT_USER.id}> /secret list`, webhook: true });
    api.guildMessage({ user: "4242", text: "pinned a message", type: 6 });
    api.dm(BOT_USER.id, "talking to myself");
    api.dm("4242", "marker");
    expect((await nextEvent("message", before)).text).toBe("marker");
    expect(events).toHaveLength(before + 1);
  });

  it("a slash command is deferred, arrives as /name args, and the bot's replies answer it", async () => {
    onEvent = async (e) => {
      if (e.kind !== "message") return;
      await channel.sendText(e.chat, "Started demo.");
      await channel.sendText(e.chat, "It is running.");
    };
    const i = await api.slashCommand({ user: "4242", name: "agent", options: { args: "start demo" } });
    const m = await nextEvent("message");
    expect(m).toMatchObject({
      text: "/agent start demo",
      chat: { chatId: "dm:4242" },
      isPrivate: true,
      mentioned: true,
    });
    expect(i.callbacks).toEqual([{ type: 5 }]);
    await api.waitFor("the follow-up", () => (i.followups.length > 0 ? true : undefined));
    expect(i.shown).toEqual(["Started demo.", "It is running."]);
    expect(api.callsTo("POST", /^\/channels\//)).toHaveLength(0); // everything went through the interaction
    await channel.deleteMessage?.(m.ref); // nothing was posted for the command: nothing to delete
  });

  it("a slash command in a guild channel is not private; one the bot never answers loses its placeholder", async () => {
    const i = await api.slashCommand({ user: "4242", name: "approvals", guildId: GUILD_ID });
    expect(await nextEvent("message")).toMatchObject({
      text: "/approvals",
      isPrivate: false,
      mentioned: true,
    });
    expect(i.originalDeleted).toBe(true);
    expect(api.messagesIn(GUILD_CHANNEL_ID)).toHaveLength(0);
  });

  it("/secret in a guild channel is answered privately (ephemeral), so nobody sees the command's options", async () => {
    onEvent = async (e) => {
      if (e.kind === "message")
        await channel.sendText(e.chat, "Secrets can only be set in a private chat with me.");
    };
    const i = await api.slashCommand({
      user: "4242",
      name: "secret",
      options: { args: "set GH ghp_value" },
      guildId: GUILD_ID,
    });
    expect(await nextEvent("message")).toMatchObject({ text: "/secret set GH ghp_value", unposted: true });
    expect(i.callbacks).toEqual([{ type: 5, data: { flags: 64 } }]);
    await api.waitFor("the reply", () => (i.shown.length > 0 ? true : undefined));
    expect(i.shown).toEqual(["Secrets can only be set in a private chat with me."]);
    expect(api.messagesIn(GUILD_CHANNEL_ID)).toHaveLength(0);
  });

  it("refuses a command name it never registered, without calling the handler", async () => {
    const i = await api.slashCommand({ user: "4242", name: "rm-rf" });
    expect(i.callbacks).toEqual([{ type: 4, data: expect.objectContaining({ flags: 64 }) }]);
    expect(events).toHaveLength(0);
  });

  it("sendText() escapes markdown, disables mentions and link embeds, and splits at 2000", async () => {
    const to = channel.privateChat("4242");
    const evil = "[click](https://evil.test) <@123> @everyone **bold** `code`\n# Heading\n> quote";
    await channel.sendText(to, evil);
    const [sent] = api.callsTo("POST", /^\/channels\/\d+\/messages$/);
    expect(sent?.body).toMatchObject({ allowed_mentions: { parse: [] }, flags: 4 });
    const content = sent?.body?.content as string;
    expect(content).not.toMatch(/(?<!\\)\[|(?<!\\)<@|https:\/\/|(?<!\\)\*\*|^#|^>/m);
    expect(displayed(content)).toBe(evil);
    const ref = await channel.sendText(to, "<".repeat(3000)); // escaping doubles it: still ≤ 2000 per message
    const parts = api.messagesIn(api.dmChannelId("4242")).slice(1);
    for (const p of parts) expect(p.content.length).toBeLessThanOrEqual(2000);
    expect(parts.map((p) => displayed(p.content)).join("")).toBe("<".repeat(3000));
    expect(ref.messageId).toBe(parts.at(-1)?.id);
  });

  it("sendCard() renders an embed with the agent's words labelled and escaped, and three buttons", async () => {
    const ref = await channel.sendCard(channel.privateChat("4242"), CARD);
    const m = api.message(api.dmChannelId("4242"), ref.messageId);
    const embed = m?.embeds[0] as { title: string; fields: { name: string; value: string }[] };
    expect(embed.title).toBe("builder wants to POST api.github.com/repos");
    expect(embed.fields.map((f) => f.name)).toEqual(["Agent", "Request", AGENT_SAYS_LABEL, "Status"]);
    const says = embed.fields[2]?.value ?? "";
    expect(says).not.toContain("\u202E");
    expect(says).not.toContain("\n"); // cannot forge a line of its own
    expect(says).not.toMatch(/(?<!\\)\[|(?<!\\)<@|(?<!\\)@everyone|https:\/\//);
    expect(embed.fields[3]?.value).toBe("Waiting for approval: 0 of 1");
    type Row = { components: { style: number; custom_id: string; label: string }[] };
    const buttons = (m?.components[0] as Row | undefined)?.components ?? [];
    expect(buttons.map((b) => [b.label, b.style, b.custom_id])).toEqual([
      ["Approve", 3, CARD.buttons[0]?.data],
      ["Deny", 4, CARD.buttons[1]?.data],
      ["Approve for 15 min", 2, CARD.buttons[2]?.data],
    ]);
    expect(api.callsTo("POST", /messages$/)[0]?.body).toMatchObject({ allowed_mentions: { parse: [] } });
    await channel.updateCard(ref, { ...CARD, status: "Approved by Ann", buttons: [] });
    expect(api.callsTo("PATCH", /^\/channels\//)[0]?.body).toMatchObject({ components: [] });
    expect(api.buttonsOn(api.dmChannelId("4242"), ref.messageId)).toBe(0);
  });

  it("a click arrives as an action whose reply() answers the clicker ephemerally, once", async () => {
    const ref = await channel.sendCard(channel.privateChat("4242"), CARD);
    onEvent = async (e) => {
      if (e.kind === "action") await e.reply("Approved.");
    };
    const data = CARD.buttons[0]?.data as string;
    const channelId = api.dmChannelId("4242");
    expect(
      await api.clickButton({ user: "4242", channelId, messageId: ref.messageId, customId: data }),
    ).toEqual(["Approved."]);
    expect(await nextEvent("action")).toMatchObject({
      from: { id: "discord:4242" },
      chat: { chatId: "dm:4242" },
      data,
      ref,
    });
    const [i] = api.interactions();
    expect(i?.callbacks).toEqual([
      { type: 4, data: expect.objectContaining({ content: "Approved.", flags: 64 }) },
    ]);
  });

  it("defers a click the bot is slow to answer, then replies as an ephemeral follow-up", async () => {
    const ref = await channel.sendCard(channel.privateChat("4242"), CARD);
    let release!: () => void;
    const released = new Promise<void>((r) => {
      release = r;
    });
    onEvent = async (e) => {
      if (e.kind !== "action") return;
      await released;
      await e.reply("Counted: 1 of 2 approvals.");
    };
    const i = api.press({
      user: "4242",
      channelId: api.dmChannelId("4242"),
      messageId: ref.messageId,
      customId: "x",
    });
    await api.waitFor("the deferral", () => (i.callbacks.length > 0 ? true : undefined));
    expect(i.callbacks).toEqual([{ type: 6 }]);
    release();
    await api.waitFor("the follow-up", () => i.followups[0]);
    expect(i.followups[0]?.flags).toBe(64);
    expect(i.shown).toEqual(["Counted: 1 of 2 approvals."]);
  });

  it("answers every click exactly once, even when the handler throws or says nothing", async () => {
    const ref = await channel.sendCard(channel.privateChat("4242"), CARD);
    onEvent = async (e) => {
      if (e.kind === "action" && e.data === "boom") throw new Error("handler exploded");
    };
    const at = { user: "4242", channelId: api.dmChannelId("4242"), messageId: ref.messageId };
    const quiet = api.press({ ...at, customId: "quiet" });
    expect(await api.clickButton({ ...at, customId: "boom" })).toEqual(["Sorry, something went wrong."]);
    await api.waitFor("the quiet ack", () => (quiet.callbacks.length > 0 ? true : undefined));
    expect(quiet.callbacks).toEqual([{ type: 6 }]);
    expect(api.interactions().map((i) => i.callbacks.length)).toEqual([1, 1]);
    await pollUntil("the log", async () => logs.find((l) => l.event === "discord.handler_error"));
  });

  it("a slow handler does not block the next event (e.g. one waiting for an approval click)", async () => {
    const ref = await channel.sendCard(channel.privateChat("4242"), CARD);
    let release!: () => void;
    const clicked = new Promise<void>((r) => {
      release = r;
    });
    onEvent = async (e) => {
      if (e.kind === "message") await clicked;
      else release();
    };
    api.dm("4242", "/agent ask builder do it");
    await nextEvent("message");
    api.press({ user: "4242", channelId: api.dmChannelId("4242"), messageId: ref.messageId, customId: "a" });
    await clicked;
  });

  it("retries a 429 after retry_after (discord.js REST)", async () => {
    api.rateLimitOnce("POST", /^\/channels\/\d+\/messages$/, 1);
    const ref = await channel.sendText(channel.privateChat("4242"), "after the wait");
    expect(api.callsTo("POST", /^\/channels\/\d+\/messages$/)).toHaveLength(2);
    expect(api.message(api.dmChannelId("4242"), ref.messageId)?.content).toBe("after the wait");
  });

  it("maps Discord errors to clear messages that never contain the token", async () => {
    api.closeDms("5555");
    const closed = await channel.sendText(channel.privateChat("5555"), "hi").catch((e: Error) => e);
    expect(closed).toBeInstanceOf(Error);
    expect((closed as Error).message).toMatch(
      /^Discord send message failed: cannot send messages to this user/,
    );
    api.failOnce("POST", /messages$/, 403, 50001, "Missing Access");
    await expect(channel.sendText({ platform: "discord", chatId: GUILD_CHANNEL_ID }, "x")).rejects.toThrow(
      /missing access/,
    );
    await expect(channel.sendText({ platform: "discord", chatId: "123456" }, "x")).rejects.toThrow(
      /unknown channel/,
    );
    const m = api.dm("4242", "/secret set GH ghp_value");
    await nextEvent("message");
    await expect(
      channel.deleteMessage?.({ platform: "discord", chatId: "dm:4242", messageId: m.id }),
    ).rejects.toThrow(/a bot cannot delete a person's DM messages/);
    const wrong = createDiscordChannel({ token: "wrong-SECRET-token", apiUrl: api.apiUrl });
    const err = await wrong.sendText(channel.privateChat("4242"), "x").catch((e: Error) => e);
    expect((err as Error).message).toMatch(/token was rejected/);
    for (const e of [closed, err]) expect(String((e as Error).message)).not.toMatch(/token_|SECRET|itoken/);
  });

  it("refuses chat and message ids that would change the REST path", async () => {
    await expect(channel.sendText({ platform: "discord", chatId: "../users/@me" }, "x")).rejects.toThrow(
      /not a channel id/,
    );
    const bad = { platform: "discord", chatId: GUILD_CHANNEL_ID, messageId: "1/../../x" };
    await expect(channel.updateCard(bad, CARD)).rejects.toThrow(/not a message id/);
    await expect(channel.sendText({ platform: "slack", chatId: "C1" }, "x")).rejects.toThrow(
      /cannot send to slack/,
    );
    expect(api.calls.filter((c) => c.method !== "GET" && c.method !== "PUT")).toHaveLength(0);
  });

  it("start() fails clearly on a rejected token (401) or a Gateway close 4004, without echoing it", async () => {
    const bad = createDiscordChannel({ token: "999.WRONG-secret-token", apiUrl: api.apiUrl });
    const err = await bad.start(async () => {}).catch((e: unknown) => e as Error);
    expect(err?.message).toMatch(/token was rejected/);
    expect(err?.message).not.toContain("WRONG-secret-token");
    api.rejectNextIdentify();
    const again = createDiscordChannel({ token: api.token, apiUrl: api.apiUrl });
    const closed = await again.start(async () => {}).catch((e: unknown) => e as Error);
    expect(closed?.message).toMatch(/token was rejected \(gateway closed with 4004\)/);
    expect(closed?.message).not.toContain(api.token);
  });

  it("stop() ends the Gateway session: no events after it", async () => {
    await channel.stop();
    api.dm("4242", "anyone?");
    api.guildMessage({ user: "4242", text: `<@${BOT_USER.id}> hello?` });
    await new Promise((r) => setTimeout(r, 200));
    expect(events).toHaveLength(0);
  });

  it("with the real bot: /secret set in a DM says the message could not be deleted", async () => {
    await channel.stop();
    const w = createBotWorld({ channels: [channel] });
    await w.bot.start();
    try {
      await w.store.createPerson("discord:4242", "Alice", "owner");
      api.dm("4242", "/secret set GH_TOKEN ghp_value");
      await pollUntil("the reply", async () =>
        api.messagesIn(api.dmChannelId("4242")).length >= 2 ? true : undefined,
      );
      expect(w.secrets.get("GH_TOKEN")).toBe("ghp_value");
      const reply = displayed(api.messagesIn(api.dmChannelId("4242")).at(-1)?.content ?? "");
      expect(reply).toBe(
        "Stored secret GH_TOKEN. I could not delete your message; please delete it yourself.",
      );
    } finally {
      await w.bot.stop();
    }
  });
});

// The shared contracts, against the same fake.
channelContract("discord", async () => {
  const fake = await startFakeDiscord();
  return {
    channel: createDiscordChannel({ token: fake.token, apiUrl: fake.apiUrl }),
    maxTextLength: 2000,
    injectPrivateText: (userId, text) => void fake.dm(userId, text),
    textsIn: (chatId) =>
      fake
        .messagesIn(channelIdOf(fake, chatId))
        .filter((m) => m.author.id === BOT_USER.id)
        .map((m) => displayed(m.content)),
    buttonsOn: (ref) => fake.buttonsOn(channelIdOf(fake, ref.chatId), ref.messageId),
    shownOn: (ref) => {
      const m = fake.messagesIn(channelIdOf(fake, ref.chatId)).find((x) => x.id === ref.messageId);
      type Embed = {
        title?: string;
        url?: string;
        description?: string;
        fields?: { name: string; value: string }[];
      };
      const embeds = (m?.embeds ?? []) as Embed[];
      const out: string[] = [];
      for (const e of embeds) {
        const total =
          (e.title ?? "").length +
          (e.description ?? "").length +
          (e.fields ?? []).reduce((n, x) => n + x.name.length + x.value.length, 0);
        // Discord's own limits, which the fake does not all check.
        if ((e.description ?? "").length > 4096 || total > 6000 || (e.fields ?? []).length > 25)
          throw new Error(`Discord embed over its limits (total ${total})`);
        out.push(displayed(e.title ?? ""), e.url ?? "");
        // The body sits in a code block: shown raw (zero-width spaces only split backtick runs).
        out.push((e.description ?? "").replace(/\u200b/g, ""));
        for (const x of e.fields ?? []) out.push(`${displayed(x.name)}: ${displayed(x.value)}`);
      }
      const rows = (m?.components ?? []) as { components?: { label?: string }[] }[];
      return {
        text: out.join("\n"),
        buttons: rows.flatMap((r) => r.components ?? []).map((b) => b.label ?? ""),
      };
    },
    close: () => fake.close(),
  };
});

approvalTapsContract("discord", async () => {
  const fake = await startFakeDiscord();
  return {
    channel: createDiscordChannel({ token: fake.token, apiUrl: fake.apiUrl }),
    tap: (userId, ref, data) =>
      fake.clickButton({
        user: userId,
        channelId: channelIdOf(fake, ref.chatId),
        messageId: ref.messageId,
        customId: data,
      }),
    buttonsOn: (ref) => fake.buttonsOn(channelIdOf(fake, ref.chatId), ref.messageId),
    shownText: (ref) =>
      JSON.stringify(
        fake.messagesIn(channelIdOf(fake, ref.chatId)).find((x) => x.id === ref.messageId)?.embeds ?? [],
      ),
    close: () => fake.close(),
  };
});
