/**
 * Discord channel: discord.js (Gateway for events, REST for sending) behind the `Channel` seam.
 *
 * Threat model. Discord vouches for user ids, channel ids and guild ids; everything else (message
 * text, names, slash-command arguments, button custom_ids coming back on a click) is typed by people
 * and is untrusted. So: all text we send is markdown-escaped with mentions disabled
 * (`allowed_mentions: {parse: []}`) and link embeds suppressed, so neither an agent nor a person can
 * forge links, pings or a card's layout; messages from bots, webhooks, system messages and ourselves
 * are dropped (no person to hold to a role); only registered command names become command text; ids
 * that go into REST paths must be numeric snowflakes (no path tricks). Every interaction is answered
 * exactly once within Discord's deadline (interactions.ts). The bot token is a credential: errors
 * are rebuilt from codes and scrubbed (errors.ts). Handlers run detached from the Gateway, so a slow
 * handler (waiting for an approval click) cannot stall delivery of the click it waits for.
 *
 * Chat ids: a guild channel is its snowflake; a DM is `dm:<userId>`, because privateChat() must be
 * synchronous and user and channel ids are both snowflakes. The DM channel is opened (and cached)
 * with `POST /users/@me/channels` when we first send there.
 */
import {
  Client,
  Events,
  GatewayIntentBits,
  type Interaction,
  type Message,
  MessageFlags,
  Partials,
  REST,
  Routes,
} from "discord.js";
import type { Address, Channel, InboundEvent, SentRef } from "../../channel.js";
import { agentContent } from "./agent-content.js";
import {
  ARGS_OPTION,
  commandPayloads,
  commandText,
  DEFAULT_COMMANDS,
  type DiscordCommandSpec,
} from "./commands.js";
import { cardMessage, contentChunks, NO_MENTIONS } from "./embeds.js";
import { humanError } from "./errors.js";
import { interactionPlace, interactionSender, messageEvent, PLATFORM } from "./inbound.js";
import { answerClick, createCommandReplies, refuse } from "./interactions.js";

export interface DiscordChannelOptions {
  readonly token: string;
  /** REST root including `/api`, e.g. a local fake. Default https://discord.com/api. */
  readonly apiUrl?: string;
  /** Application id for command registration; default: from the Gateway's READY. */
  readonly applicationId?: string;
  /** Registered on start (bulk overwrite, global); default DEFAULT_COMMANDS. */
  readonly commands?: readonly DiscordCommandSpec[];
  readonly log?: (event: string, fields: Record<string, unknown>) => void;
  /** How long a click may wait for the bot's reply before we defer it (Discord allows 3 s). Default 2000. */
  readonly deferAfterMs?: number;
}

const SNOWFLAKE = /^\d{1,24}$/;
const DM_USER = /^[\w-]{1,64}$/; // goes only into a JSON body, never a path
// A slash command leaves no message in the chat; its ref is marked so deleteMessage knows.
const INTERACTION_REF = "interaction-";

const MAX_DMS = 10_000;

export function createDiscordChannel(options: DiscordChannelOptions): Channel {
  const { token, log } = options;
  const commands = options.commands ?? DEFAULT_COMMANDS;
  const deferAfterMs = options.deferAfterMs ?? 2000;
  // REST apart from the Client: sending works independently of the Gateway session.
  const rest = new REST({ version: "10", ...(options.apiUrl ? { api: options.apiUrl } : {}) }).setToken(
    token,
  );
  const replies = createCommandReplies(rest, log);
  const dmChannels = new Map<string, string>(); // user id → DM channel id
  const dmOwners = new Map<string, string>(); // DM channel id → user id
  let client: Client | undefined;
  let handler: ((event: InboundEvent) => Promise<void>) | undefined;
  let appId = options.applicationId;

  const scrub = (s: string): string => (token ? s.split(token).join("<token>") : s);

  async function call<T>(what: string, fn: () => Promise<unknown>): Promise<T> {
    try {
      return (await fn()) as T;
    } catch (err) {
      throw humanError(what, err, token);
    }
  }

  /** Detached from the Gateway's event loop; errors are logged, never thrown into discord.js. */
  function dispatch(what: string, work: () => Promise<void>): void {
    work().catch((err: unknown) => log?.("discord.handler_error", { what, error: scrub(String(err)) }));
  }

  async function dmChannel(userId: string): Promise<string> {
    const known = dmChannels.get(userId);
    if (known) return known;
    const ch = await call<{ id: string }>("open DM", () =>
      rest.post(Routes.userChannels(), { body: { recipient_id: userId } }),
    );
    if (!SNOWFLAKE.test(ch.id)) throw new Error("Discord open DM failed: bad channel id");
    dmChannels.set(userId, ch.id);
    dmOwners.set(ch.id, userId);
    // Bounded: an evicted DM is opened again (same id), and inbound DMs name their user anyway.
    for (const m of [dmChannels, dmOwners])
      while (m.size > MAX_DMS) m.delete(m.keys().next().value as string);
    return ch.id;
  }

  async function channelIdOf(to: Pick<Address, "platform" | "chatId" | "threadId">): Promise<string> {
    if (to.platform !== PLATFORM) throw new Error(`Discord channel cannot send to ${to.platform}`);
    if (to.chatId.startsWith("dm:")) {
      const user = to.chatId.slice(3);
      if (!DM_USER.test(user)) throw new Error("Discord: not a user id");
      return dmChannel(user);
    }
    const id = to.threadId ?? to.chatId; // a Discord thread is a channel of its own
    if (!SNOWFLAKE.test(id)) throw new Error("Discord: not a channel id");
    return id;
  }

  function messageIdOf(ref: SentRef): string {
    if (!SNOWFLAKE.test(ref.messageId)) throw new Error("Discord: not a message id");
    return ref.messageId;
  }

  async function post(to: Address, body: Record<string, unknown>): Promise<SentRef> {
    const channelId = await channelIdOf(to);
    const m = await call<{ id: string }>("send message", () =>
      rest.post(Routes.channelMessages(channelId), { body }),
    );
    return { platform: PLATFORM, chatId: to.chatId, messageId: m.id };
  }

  function onMessage(m: Message): void {
    const h = handler;
    const me = client?.user?.id;
    const event = h && me ? messageEvent(m, me, dmOwners) : undefined;
    if (h && event) dispatch("message", () => h(event));
  }

  function onInteraction(i: Interaction): void {
    const h = handler;
    if (!h || i.user.bot || !i.isRepliable()) return;
    const place = interactionPlace(i, dmOwners);
    const ref = { id: i.id, token: i.token, applicationId: i.applicationId };
    const from = interactionSender(i);

    if (i.isChatInputCommand()) {
      let text: string | undefined;
      try {
        text = commandText(commands, i.commandName, i.options.getString(ARGS_OPTION));
      } catch {
        text = undefined; // an option of the wrong type: not something we registered
      }
      if (!place || !text) {
        dispatch("command", () => refuse(rest, ref, "I don't know that command here."));
        return;
      }
      const chat = place.address;
      // `/secret` carries a value: its response stays private, wherever it was typed.
      const pending = replies.begin(chat.chatId, ref, { ephemeral: i.commandName === "secret" });
      const cmdRef = { platform: PLATFORM, chatId: chat.chatId, messageId: `${INTERACTION_REF}${i.id}` };
      const event = {
        kind: "message",
        from,
        chat,
        isPrivate: place.isPrivate,
        mentioned: true,
        text,
        ref: cmdRef,
        unposted: true,
      } as const;
      dispatch("command", () => h(event).finally(() => replies.end(pending)));
      return;
    }

    if (!i.isButton()) return;
    const answer = answerClick(rest, ref, { deferAfterMs, log });
    const messageId = i.message.id;
    dispatch("action", async () => {
      let failed = false;
      try {
        if (!place) return await answer.reply("This button no longer works.");
        const msgRef = { platform: PLATFORM, chatId: place.address.chatId, messageId };
        await h({
          kind: "action",
          from,
          chat: place.address,
          data: i.customId,
          ref: msgRef,
          reply: answer.reply,
        });
      } catch (err) {
        failed = true;
        throw err;
      } finally {
        await answer.finish(failed);
      }
    });
  }

  /** discord.js calls listeners synchronously from its socket handler: never let one throw there. */
  const guarded =
    <T>(c: Client, what: string, f: (x: T) => void) =>
    (x: T): void => {
      if (client !== c) return; // stopped: no events after stop()
      try {
        f(x);
      } catch (err) {
        log?.("discord.event_error", { what, error: scrub(String(err)) });
      }
    };

  return {
    platform: PLATFORM,
    async start(onEvent) {
      if (client) throw new Error("Discord channel already started");
      const c = new Client({
        intents: [
          GatewayIntentBits.Guilds,
          GatewayIntentBits.GuildMessages,
          GatewayIntentBits.DirectMessages,
          GatewayIntentBits.MessageContent,
        ],
        partials: [Partials.Channel], // DM channels arrive uncached
        rest: options.apiUrl ? { api: options.apiUrl } : {},
        allowedMentions: NO_MENTIONS,
      });
      const ready = new Promise<void>((resolve) => c.once(Events.ClientReady, () => resolve()));
      c.on(Events.MessageCreate, guarded(c, "message", onMessage));
      c.on(Events.InteractionCreate, guarded(c, "interaction", onInteraction));
      c.on(Events.Error, (err) => log?.("discord.client_error", { error: scrub(String(err)) }));
      c.on(Events.ShardError, (err) => log?.("discord.shard_error", { error: scrub(String(err)) }));
      client = c;
      handler = onEvent;
      try {
        await c.login(token);
        await ready;
      } catch (err) {
        client = undefined;
        handler = undefined;
        await c.destroy().catch(() => undefined);
        throw humanError("login", err, token);
      }
      appId ??= c.application?.id;
      if (appId && SNOWFLAKE.test(appId)) {
        const body = commandPayloads(commands);
        const id = appId;
        await call("register commands", () => rest.put(Routes.applicationCommands(id), { body })).catch(
          (err: Error) => log?.("discord.commands_not_set", { error: err.message }), // text commands still work
        );
      }
      log?.("discord.started", { user: c.user?.id });
    },
    async stop() {
      const c = client;
      client = undefined;
      handler = undefined;
      await c?.destroy();
    },
    async sendText(to, text, opts) {
      const chunks = opts?.agent === undefined ? contentChunks(text) : agentContent(opts.agent, text);
      if (chunks.length === 0) throw new Error("Discord send message: refusing to send an empty message");
      let last: SentRef | undefined;
      for (const content of chunks) {
        const viaCommand = to.platform === PLATFORM ? await replies.trySend(to.chatId, content) : undefined;
        last = viaCommand
          ? { platform: PLATFORM, chatId: to.chatId, messageId: viaCommand }
          : await post(to, { content, allowed_mentions: NO_MENTIONS, flags: MessageFlags.SuppressEmbeds });
      }
      return last as SentRef;
    },
    async sendCard(to, card) {
      return post(to, cardMessage(card));
    },
    async updateCard(ref, card) {
      const channelId = await channelIdOf(ref);
      const messageId = messageIdOf(ref);
      // components: [] when the card has no buttons: that is what removes them.
      await call("edit message", () =>
        rest.patch(Routes.channelMessage(channelId, messageId), { body: cardMessage(card) }),
      );
    },
    privateChat(userId) {
      return { platform: PLATFORM, chatId: `dm:${userId}` };
    },
    async typing(to) {
      const channelId = await channelIdOf(to);
      await call("typing", () => rest.post(Routes.channelTyping(channelId)));
    },
    async deleteMessage(ref) {
      // A slash command's arguments are never posted as a message: there is nothing to delete.
      if (ref.messageId.startsWith(INTERACTION_REF)) return;
      const channelId = await channelIdOf(ref);
      const messageId = messageIdOf(ref);
      await call("delete message", () => rest.delete(Routes.channelMessage(channelId, messageId)));
    },
  };
}
