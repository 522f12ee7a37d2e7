/**
 * Telegram channel: grammY long polling behind the `Channel` seam. The ONLY file importing grammy.
 *
 * Threat model. Telegram vouches for `from.id` and `chat.id`; everything else (text, entities,
 * names, button data coming back on a tap) is typed by people and is untrusted. So: we never send
 * with a parse_mode (user or agent text cannot inject markup or fake links), link previews are off
 * (Telegram's servers would otherwise fetch URLs an agent chose), and card fields are flattened to
 * one line with bidi controls stripped so an agent's reason cannot forge a "status" line or reorder
 * what an approver reads. Messages sent "as" a chat (anonymous admins, linked channels) or by bots
 * are dropped: they carry no person we could hold to a role. `callback_data` is opaque and ≤ 64
 * bytes; the bot maps it back and re-checks who tapped. The bot token is a credential: it is in
 * every request URL, so error messages are built here and scrubbed of it, never passed through.
 * Handlers run detached from the polling loop, so a slow handler (say, one waiting for an approval
 * tap) cannot stall delivery of the tap it waits for; every callback query is answered exactly once.
 */
import { Bot, GrammyError, HttpError } from "grammy";
import type { CallbackQuery, InlineKeyboardButton, Message, MessageEntity } from "grammy/types";
import type { Address, Card, Channel, InboundEvent, InboundMessage, SentRef } from "../channel.js";
import { agentLabel } from "./agent-voice.js";
import { renderBatchText } from "./batch-layout.js";
import { buttonLabel, renderCard, splitText } from "./text.js";

export interface TelegramChannelOptions {
  readonly token: string;
  /** Bot API root, e.g. a local fake (no trailing slash). Default https://api.telegram.org. */
  readonly apiRoot?: string;
  /** The bot's @username without "@"; default: asked from Telegram (getMe) on start. */
  readonly botUsername?: string;
  /** Registered with setMyCommands on start; default DEFAULT_COMMANDS. */
  readonly commands?: readonly { readonly command: string; readonly description: string }[];
  readonly log?: (event: string, fields: Record<string, unknown>) => void;
}

export const DEFAULT_COMMANDS: readonly { command: string; description: string }[] = [
  { command: "agent", description: "Start, stop, list or ask agents" },
  { command: "policy", description: "List, show, edit, test or reload policies" },
  { command: "approvals", description: "Pending approvals" },
  { command: "secret", description: "Set, list or delete secrets (set only in a private chat)" },
  { command: "audit", description: "Recent audit log" },
  { command: "role", description: "Show or change roles" },
  { command: "link", description: "Link your identities across platforms" },
  { command: "invite", description: "Invite someone with a role" },
  { command: "setup", description: "Guided setups, e.g. /setup family" },
  { command: "quiet", description: "Your quiet hours: approval cards wait" },
  { command: "help", description: "What I can do" },
  { command: "start", description: "Say hello" },
];

const TEXT_LIMIT = 4096;
const CALLBACK_DATA_LIMIT = 64;
/** Inline button text: Telegram shows about this much; longer grant labels use their short form. */
const BUTTON_LABEL_LIMIT = 64;
const ANSWER_LIMIT = 200;
const MAX_RETRY_AFTER_S = 30;
const HINTS: Record<number, string> = {
  401: " (the bot token was rejected)",
  403: " (the bot was blocked or is not in that chat)",
};

export function createTelegramChannel(options: TelegramChannelOptions): Channel {
  const { token, log } = options;
  const bot = new Bot(token, options.apiRoot ? { client: { apiRoot: options.apiRoot } } : {});
  let handler: ((event: InboundEvent) => Promise<void>) | undefined;
  let polling: Promise<void> | undefined;

  const scrub = (s: string): string => (token ? s.split(token).join("<token>") : s);

  function humanError(method: string, err: unknown): Error {
    if (err instanceof GrammyError) {
      const hint = HINTS[err.error_code] ?? "";
      return new Error(scrub(`Telegram ${method} failed: ${err.description}${hint}`));
    }
    if (err instanceof HttpError) return new Error(`Telegram ${method} failed: could not reach the Bot API`);
    const message = err instanceof Error ? err.message : String(err);
    return new Error(scrub(`Telegram ${method} failed: ${message}`));
  }

  /** Runs one Bot API call; retries once on 429 after `retry_after`; maps errors to plain messages. */
  async function call<T>(method: string, fn: () => Promise<T>, tolerate?: (e: GrammyError) => boolean) {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (err instanceof GrammyError && tolerate?.(err)) return undefined as T;
        const wait =
          err instanceof GrammyError && err.error_code === 429 ? (err.parameters.retry_after ?? 1) : -1;
        if (attempt > 0 || wait < 0 || wait > MAX_RETRY_AFTER_S) throw humanError(method, err);
        log?.("telegram.rate_limited", { method, retryAfter: wait });
        await new Promise((resolve) => setTimeout(resolve, wait * 1000));
      }
    }
  }

  const username = (): string =>
    (options.botUsername ?? bot.botInfo.username).replace(/^@/, "").toLowerCase();

  const senderOf = (u: { id: number; first_name: string; last_name?: string; username?: string }) => ({
    id: `telegram:${u.id}`,
    name: [u.first_name, u.last_name].filter(Boolean).join(" ") || u.username || String(u.id),
  });

  type Located = { chat: { id: number }; message_thread_id?: number; is_topic_message?: boolean };
  const addressOf = (m: Located): Address => ({
    platform: "telegram",
    chatId: String(m.chat.id),
    ...(m.is_topic_message && m.message_thread_id !== undefined
      ? { threadId: String(m.message_thread_id) }
      : {}),
  });

  const refOf = (m: { chat: { id: number }; message_id: number }): SentRef => ({
    platform: "telegram",
    chatId: String(m.chat.id),
    messageId: String(m.message_id),
  });

  /** Detached from grammY's sequential loop; errors are logged, never thrown into polling. */
  function dispatch(what: string, work: () => Promise<void>): void {
    work().catch((err: unknown) => log?.("telegram.handler_error", { what, error: scrub(String(err)) }));
  }

  function onText(m: Message & { text: string }): void {
    if (!handler || !m.from || m.from.is_bot || m.sender_chat) return;
    const me = username();
    let text = m.text;
    let mentioned = false;
    for (const e of m.entities ?? []) {
      const slice = m.text.slice(e.offset, e.offset + e.length);
      if (e.type === "mention" && slice.toLowerCase() === `@${me}`) mentioned = true;
      if (e.type === "text_mention" && e.user.id === bot.botInfo?.id) mentioned = true;
      if (e.type === "bot_command" && e.offset === 0) {
        const [command, target] = slice.split("@");
        if (target === undefined || target.toLowerCase() === me) {
          mentioned = true;
          text = `${command}${m.text.slice(e.length)}`; // "/agent@warden_bot list" → "/agent list"
        }
      }
    }
    const replied = m.reply_to_message;
    if (replied && !replied.forum_topic_created && replied.from?.id === bot.botInfo?.id) mentioned = true;
    const h = handler;
    const event: InboundMessage = {
      kind: "message",
      from: senderOf(m.from),
      chat: addressOf(m),
      isPrivate: m.chat.type === "private",
      mentioned,
      text,
      ref: refOf(m),
    };
    dispatch("message", () => h(event));
  }

  function onCallback(q: CallbackQuery): void {
    let answered = false;
    const answer = async (text?: string): Promise<void> => {
      if (answered) return log?.("telegram.callback_already_answered", { id: q.id });
      answered = true;
      const extra = text ? { text: text.slice(0, ANSWER_LIMIT), show_alert: false } : {};
      await call("answerCallbackQuery", () => bot.api.answerCallbackQuery(q.id, extra));
    };
    const h = handler;
    dispatch("action", async () => {
      let failed = false;
      try {
        if (!h || q.data === undefined || !q.message) return await answer("This button no longer works.");
        const m = q.message;
        await h({
          kind: "action",
          from: senderOf(q.from),
          chat: addressOf(m),
          data: q.data,
          ref: refOf(m),
          reply: answer,
        });
      } catch (err) {
        failed = true;
        throw err;
      } finally {
        if (!answered) await answer(failed ? "Sorry, something went wrong." : undefined);
      }
    });
  }

  bot.on("message:text", (ctx) => onText(ctx.message));
  bot.on("callback_query", (ctx) => onCallback(ctx.callbackQuery));
  bot.catch((err) => log?.("telegram.update_error", { error: scrub(String(err.error)) }));

  const noPreview = { link_preview_options: { is_disabled: true } };
  async function send(
    to: Address,
    text: string,
    markup?: ReturnType<typeof keyboard>,
    entities?: MessageEntity[],
  ): Promise<SentRef> {
    if (to.platform !== "telegram") throw new Error(`Telegram channel cannot send to ${to.platform}`);
    const thread = to.threadId === undefined ? {} : { message_thread_id: Number(to.threadId) };
    const extra = {
      ...thread,
      ...noPreview,
      ...(markup ? { reply_markup: markup } : {}),
      ...(entities ? { entities } : {}),
    };
    return refOf(await call("sendMessage", () => bot.api.sendMessage(to.chatId, text, extra)));
  }

  /** One row per card button; on a batch card, then one row per item drawn in full (`full` items). */
  function keyboard(card: Card, full = 0): { inline_keyboard: InlineKeyboardButton[][] } {
    const button = (b: Card["buttons"][number]): InlineKeyboardButton => {
      const bytes = Buffer.byteLength(b.data, "utf8");
      if (bytes === 0 || bytes > CALLBACK_DATA_LIMIT) {
        throw new Error(`Telegram button data must be 1–64 bytes; "${b.label}" has ${bytes}`);
      }
      const text = buttonLabel(b, BUTTON_LABEL_LIMIT);
      return { text, callback_data: b.data, ...(b.style ? { style: b.style } : {}) };
    };
    const items = (card.items ?? []).slice(0, full).filter((it) => it.buttons.length > 0);
    return {
      inline_keyboard: [
        ...card.buttons.map((b) => [button(b)]),
        ...items.map((it) => it.buttons.map(button)),
      ],
    };
  }

  /**
   * The card as plain text (never a parse_mode) plus explicit entities: the body in a `pre` block
   * (monospace, line breaks kept; entities are not parsed from text, so the agent cannot open or
   * close one) and our own link as a `url`. Offsets are UTF-16 units, as JavaScript counts.
   */
  function cardText(card: Card): { text: string; entities: MessageEntity[]; full: number } {
    if (card.items && card.items.length > 0) {
      // A batch card: each item's body a `pre`, each item's link a `url` (bot/channels/batch-layout.ts).
      const b = renderBatchText(card, TEXT_LIMIT, { prefixBody: false });
      const entities = b.spans
        .filter((x) => x.length > 0)
        .map((x) => ({
          type: x.kind === "body" ? ("pre" as const) : ("url" as const),
          offset: x.offset,
          length: x.length,
        }));
      return { text: b.text, entities, full: b.full };
    }
    const r = renderCard(card, TEXT_LIMIT, { prefixBody: false });
    const entities: MessageEntity[] = [];
    if (r.body && r.body.length > 0) entities.push({ type: "pre", ...r.body });
    if (r.link) entities.push({ type: "url", ...r.link });
    return { text: r.text, entities, full: 0 };
  }

  return {
    platform: "telegram",
    async start(onEvent) {
      if (polling) throw new Error("Telegram channel already started");
      handler = onEvent;
      await call("getMe", () => bot.init());
      const commands = [...(options.commands ?? DEFAULT_COMMANDS)];
      await call("setMyCommands", () => bot.api.setMyCommands(commands)).catch(
        (err: Error) => log?.("telegram.commands_not_set", { error: err.message }), // the menu is cosmetic: start anyway
      );
      polling = bot
        .start({ allowed_updates: ["message", "callback_query"] })
        .catch((err: unknown) =>
          log?.("telegram.polling_stopped", { error: humanError("getUpdates", err).message }),
        );
      log?.("telegram.started", { username: bot.botInfo.username });
    },
    async stop() {
      if (!polling) return;
      if (bot.isRunning()) await bot.stop().catch(() => undefined); // confirms the offset; best effort
      await polling;
      polling = undefined;
      handler = undefined;
    },
    async sendText(to, text, opts) {
      // An agent's words: its name in bold above its text as a quote, both set by entities (never a
      // parse mode), so nothing the agent writes becomes markup or reads as Warden's own message.
      const head = opts?.agent === undefined ? "" : `${agentLabel(opts.agent)}\n`;
      const voice = (chunk: string): MessageEntity[] => [
        { type: "bold", offset: 0, length: head.length - 1 },
        { type: "blockquote", offset: head.length, length: chunk.length },
      ];
      let last: SentRef | undefined;
      for (const chunk of splitText(text, TEXT_LIMIT - head.length)) {
        // Trailing spaces trimmed: Telegram drops them, and the quote must end within the text.
        const c = head ? chunk.trimEnd() : chunk;
        last = head ? await send(to, head + c, undefined, voice(c)) : await send(to, chunk);
      }
      if (!last) throw new Error("Telegram sendMessage: refusing to send an empty message");
      return last;
    },
    async sendCard(to, card) {
      const { text, entities, full } = cardText(card);
      return send(to, text, keyboard(card, full), entities);
    },
    async updateCard(ref, card) {
      const { text, entities, full } = cardText(card);
      const extra = { ...noPreview, reply_markup: keyboard(card, full), entities }; // no buttons → removes them
      const edit = () => bot.api.editMessageText(ref.chatId, Number(ref.messageId), text, extra);
      await call("editMessageText", edit, (e) => e.description.includes("message is not modified"));
    },
    privateChat(userId) {
      return { platform: "telegram", chatId: userId };
    },
    async typing(to) {
      if (to.platform !== "telegram") throw new Error(`Telegram channel cannot send to ${to.platform}`);
      const thread = to.threadId === undefined ? {} : { message_thread_id: Number(to.threadId) };
      await call("sendChatAction", () => bot.api.sendChatAction(to.chatId, "typing", thread));
    },
    async deleteMessage(ref) {
      await call("deleteMessage", () => bot.api.deleteMessage(ref.chatId, Number(ref.messageId)));
    },
  };
}
