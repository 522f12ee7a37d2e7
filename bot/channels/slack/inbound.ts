/**
 * Slack payloads in, `InboundEvent`s out. Payload fields are read as `unknown` and checked one by
 * one: a payload missing an id we rely on is dropped (and logged), never guessed. Ids Slack vouches
 * for are still held to a narrow pattern, so a sender id cannot smuggle a ":" into `slack:<id>`.
 * Chats are resolved through the directory: a `D…` channel is a private chat only when it is the
 * bot's own DM with that person. Mentions of the bot are removed from the text; a message that
 * mentions the bot is handled from its `app_mention` event only, so it is not delivered twice.
 */
import type { App } from "@slack/bolt";
import type { Address, InboundEvent, SentRef } from "../../channel.js";
import { oneLine } from "../text.js";
import { ACTION_PREFIX } from "./blocks.js";
import type { Directory } from "./directory.js";
import type { SlackLog } from "./slack-api.js";
import { decodeSlack, stripMention } from "./slack-text.js";

export interface InboundDeps {
  readonly botUserId: string;
  readonly directory: Directory;
  readonly log?: SlackLog | undefined;
  readonly scrub: (s: string) => string;
  /** Shows `text` to `user` only, in `channel`. */
  ephemeral(channel: string, user: string, text: string): Promise<void>;
  deliver(event: InboundEvent): Promise<void>;
  /** A ref for a slash command, which posts no message. */
  commandRef(n: number): string;
}

const ID = /^[A-Za-z0-9._-]{1,64}$/;
/** Message subtypes that are a person writing; edits, deletions, joins and bot posts are not. */
const PERSON_SUBTYPES = new Set([undefined, "thread_broadcast"]);

type Raw = Record<string, unknown>;
const obj = (v: unknown): Raw => (v !== null && typeof v === "object" ? (v as Raw) : {});
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
const id = (v: unknown): string | undefined => (typeof v === "string" && ID.test(v) ? v : undefined);

/** Registers listeners for slash commands, button taps, mentions and messages on `app`. */
export function createInbound(app: App, deps: InboundDeps): void {
  const { botUserId, directory, log } = deps;
  let commands = 0;

  /** Detached from Bolt's dispatch: errors are logged, never thrown into the receiver. */
  function dispatch(what: string, work: () => Promise<void>): void {
    work().catch((err: unknown) => log?.("slack.handler_error", { what, error: deps.scrub(String(err)) }));
  }

  async function chatOf(channel: string, user: string, threadTs?: string) {
    const owner = await directory.ownerOf(channel);
    const chat: Address = {
      platform: "slack",
      chatId: owner ?? channel,
      ...(threadTs ? { threadId: threadTs } : {}),
    };
    return { chat, isPrivate: owner !== undefined && owner === user };
  }

  const sender = (user: string, name: string | undefined) => ({
    id: `slack:${user}`,
    name: oneLine(name ?? "", 80) || user,
  });

  function onText(e: Raw, mentionEvent: boolean): void {
    const user = id(e.user);
    const channel = id(e.channel);
    const ts = id(e.ts);
    const raw = str(e.text);
    if (!user || !channel || !ts || raw === undefined) return;
    if (e.bot_id !== undefined || user === botUserId || !PERSON_SUBTYPES.has(str(e.subtype))) return;
    const im = e.channel_type === "im";
    const mentions = raw.includes(`<@${botUserId}>`) || raw.includes(`<@${botUserId}|`);
    if (!mentionEvent && !im && mentions) return; // the app_mention event carries this one
    if (im) directory.remember(user, channel); // message.im arrives only for the bot's own DMs
    const threadTs = id(e.thread_ts);
    const profile = obj(e.user_profile);
    dispatch("message", async () => {
      const { chat, isPrivate } = await chatOf(channel, user, threadTs);
      const ref: SentRef = { platform: "slack", chatId: chat.chatId, messageId: ts };
      await deps.deliver({
        kind: "message",
        from: sender(user, str(profile.display_name) || str(profile.real_name)),
        chat,
        isPrivate,
        // A reply in a thread the bot started counts as talking to the bot, like a reply to it.
        mentioned: mentionEvent || mentions || e.parent_user_id === botUserId,
        text: decodeSlack(stripMention(raw, botUserId)),
        ref,
      });
    });
  }

  app.event("app_mention", async ({ event }) => onText(obj(event), true));
  app.event("message", async ({ event }) => onText(obj(event), false));

  app.command(/^\/[a-z0-9_-]+$/, async ({ ack, command }) => {
    await ack(); // within Slack's 3 s, before any work; the reply comes as a message
    const c = obj(command);
    const user = id(c.user_id);
    const channel = id(c.channel_id);
    const name = str(c.command);
    if (!user || !channel || !name) return log?.("slack.command_dropped", { reason: "missing ids" });
    const text = decodeSlack(str(c.text) ?? "").trim();
    const n = ++commands;
    dispatch("command", async () => {
      const { chat, isPrivate } = await chatOf(channel, user);
      await deps.deliver({
        kind: "message",
        from: sender(user, str(c.user_name)),
        chat,
        isPrivate,
        mentioned: true, // a slash command is addressed to this app by construction
        text: text ? `${name} ${text}` : name,
        ref: { platform: "slack", chatId: chat.chatId, messageId: deps.commandRef(n) },
        unposted: true,
      });
    });
  });

  app.action({ type: "block_actions" }, async ({ ack, body, action }) => {
    await ack();
    const b = obj(body);
    const a = obj(action);
    const user = id(obj(b.user).id);
    const container = obj(b.container);
    const channel = id(obj(b.channel).id) ?? id(container.channel_id);
    const messageTs = id(container.message_ts);
    const data = str(a.value);
    const ours = str(a.action_id)?.startsWith(ACTION_PREFIX) && a.type === "button";
    if (!user || !channel || !messageTs || container.type !== "message" || !ours || data === undefined) {
      return log?.("slack.action_dropped", { reason: "not a card button" });
    }
    const u = obj(b.user);
    const threadTs = id(obj(b.message).thread_ts);
    dispatch("action", async () => {
      const { chat } = await chatOf(channel, user, threadTs !== messageTs ? threadTs : undefined);
      await deps.deliver({
        kind: "action",
        from: sender(user, str(u.name) ?? str(u.username)),
        chat,
        data,
        ref: { platform: "slack", chatId: chat.chatId, messageId: messageTs },
        reply: (text) => deps.ephemeral(channel, user, text),
      });
    });
  });
}
