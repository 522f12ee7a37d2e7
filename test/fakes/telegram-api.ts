/**
 * A fake Telegram Bot API on 127.0.0.1:0 for grammY's `client.apiRoot`. Answers
 * `/bot<token>/<method>` with the real JSON envelopes (`{ok:true,result}` / `{ok:false,error_code,
 * description,parameters?}`), enforces the limits the real server does (4096-char text, 64-byte
 * callback_data, "message is not modified"), holds `getUpdates` up to its `timeout`, and records
 * every call. Tests inject updates as Telegram would deliver them: text messages (entities for
 * commands and @mentions are computed like the real server does) and button taps.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export type Params = Record<string, unknown>;
export interface RecordedCall {
  readonly method: string;
  readonly params: Params;
}
export interface TgUser {
  id: number;
  is_bot: boolean;
  first_name: string;
  username?: string;
}
export interface TgChat {
  id: number;
  type: "private" | "group" | "supergroup" | "channel";
  title?: string;
}
export interface TgMessage {
  message_id: number;
  date: number;
  chat: TgChat;
  from?: TgUser;
  text?: string;
  entities?: { type: string; offset: number; length: number }[];
  reply_markup?: unknown;
  message_thread_id?: number;
  is_topic_message?: boolean;
  reply_to_message?: TgMessage;
}
type Update = { update_id: number } & Params;

export const BOT: TgUser = { id: 777000111, is_bot: true, first_name: "Warden", username: "warden_test_bot" };

export interface FakeTelegram {
  readonly token: string;
  /** Pass as grammY's `client.apiRoot`. */
  readonly apiRoot: string;
  readonly calls: readonly RecordedCall[];
  /** Params of every call to `method`, in order. */
  callsTo(method: string): Params[];
  /** Resolves with the first recorded call to `method` matching `match` (waiting for it if needed). */
  waitForCall(method: string, match?: (p: Params) => boolean, timeoutMs?: number): Promise<Params>;
  /**
   * The most `getUpdates` long polls ever in flight at once: a bot token admits one consumer (the
   * real server ends the older poll with 409 Conflict), so more than 1 means two pollers.
   */
  maxConcurrentPolls(): number;
  /** The next call to `method` gets 429 with `retry_after` (default 1 s), once. */
  rateLimitOnce(method: string, retryAfter?: number): void;
  /** Queues a text message update; returns the message as delivered. */
  injectText(opts: {
    from: { id: number; name?: string; username?: string; isBot?: boolean };
    text: string;
    chat?: { id: number; type: "group" | "supergroup"; title?: string };
    threadId?: number;
    replyToMessageId?: number;
    senderChat?: { id: number; type: "channel" | "supergroup"; title: string };
  }): TgMessage;
  /** Queues a button tap on a message the bot sent; returns the callback query id. */
  injectTap(opts: {
    from: { id: number; name?: string };
    chatId: number;
    messageId: number;
    data: string;
  }): string;
  /** A message the bot sent or edited (latest state), by chat and message id. */
  message(chatId: number | string, messageId: number | string): TgMessage | undefined;
  /** The id of the message in `chatId` whose inline keyboard carries `callbackData` (-1: none). */
  messageIdWithButton(chatId: number | string, callbackData: string): number;
  close(): Promise<void>;
}

export async function startFakeTelegram(token = "123456:TEST-token_abcdefghijklmnop"): Promise<FakeTelegram> {
  const calls: RecordedCall[] = [];
  const queue: Update[] = [];
  const messages = new Map<string, TgMessage>();
  const chats = new Map<number, TgChat>();
  const rateLimited = new Map<string, number>();
  const waiters = new Set<() => void>();
  const callWaiters = new Set<() => void>();
  let nextUpdateId = 1;
  let nextMessageId = 1;
  let nextCallbackId = 1;
  const now = () => Math.floor(Date.now() / 1000);
  const key = (chatId: unknown, messageId: unknown) => `${chatId}/${messageId}`;
  const wake = (set: Set<() => void>) => {
    for (const w of [...set]) w();
  };

  const chatOf = (chatId: unknown): TgChat => {
    const id = Number(chatId);
    return chats.get(id) ?? { id, type: id > 0 ? "private" : "supergroup" };
  };

  function push(update: Params): void {
    queue.push({ update_id: nextUpdateId++, ...update });
    wake(waiters);
  }

  class ApiError extends Error {
    constructor(
      readonly code: number,
      description: string,
      readonly parameters?: Params,
    ) {
      super(description);
    }
  }
  const bad = (d: string) => new ApiError(400, `Bad Request: ${d}`);

  function checkText(text: unknown): string {
    if (typeof text !== "string" || text.trim() === "") throw bad("message text is empty");
    if (text.length > 4096) throw bad("message is too long");
    return text;
  }
  function checkMarkup(markup: unknown): void {
    const rows = (markup as { inline_keyboard?: { callback_data?: string }[][] } | undefined)
      ?.inline_keyboard;
    for (const b of (rows ?? []).flat()) {
      const n = Buffer.byteLength(b.callback_data ?? "", "utf8");
      if (n < 1 || n > 64) throw bad("BUTTON_DATA_INVALID");
    }
  }

  let polls = 0;
  let maxPolls = 0;

  async function getUpdates(p: Params, res: ServerResponse): Promise<Update[]> {
    // Only long polls count: grammY's stop() confirms offsets with one last `timeout: 0` call.
    if (Number(p.timeout ?? 0) === 0) return poll(p, res);
    polls++;
    maxPolls = Math.max(maxPolls, polls);
    try {
      return await poll(p, res);
    } finally {
      polls--;
    }
  }

  async function poll(p: Params, res: ServerResponse): Promise<Update[]> {
    const offset = Number(p.offset ?? 0);
    const limit = Number(p.limit ?? 100);
    const timeout = Number(p.timeout ?? 0);
    // Telegram semantics: asking with an offset confirms (forgets) everything before it.
    while (queue.length > 0 && queue[0]!.update_id < offset) queue.shift();
    if (queue.length === 0 && timeout > 0) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          waiters.delete(done);
          res.off("close", done);
          resolve();
        };
        const timer = setTimeout(done, timeout * 1000);
        waiters.add(done);
        res.on("close", done); // the poller gave up (grammY aborts on stop)
      });
    }
    return queue.filter((u) => u.update_id >= offset).slice(0, limit);
  }

  async function handle(method: string, p: Params, res: ServerResponse): Promise<unknown> {
    switch (method) {
      case "getMe":
        return BOT;
      case "deleteWebhook":
      case "setMyCommands":
      case "answerCallbackQuery":
      case "sendChatAction":
        return true;
      case "getUpdates":
        return getUpdates(p, res);
      case "sendMessage": {
        const text = checkText(p.text);
        checkMarkup(p.reply_markup);
        const m: TgMessage = {
          message_id: nextMessageId++,
          date: now(),
          chat: chatOf(p.chat_id),
          from: BOT,
          text,
        };
        if (p.reply_markup) m.reply_markup = p.reply_markup;
        if (p.message_thread_id !== undefined) {
          m.message_thread_id = Number(p.message_thread_id);
          m.is_topic_message = true;
        }
        messages.set(key(m.chat.id, m.message_id), m);
        return m;
      }
      case "editMessageText": {
        const m = messages.get(key(chatOf(p.chat_id).id, p.message_id));
        if (!m) throw bad("message to edit not found");
        const text = checkText(p.text);
        checkMarkup(p.reply_markup);
        const rows = (p.reply_markup as { inline_keyboard?: unknown[] } | undefined)?.inline_keyboard ?? [];
        const markup = rows.length > 0 ? p.reply_markup : undefined;
        if (m.text === text && JSON.stringify(m.reply_markup) === JSON.stringify(markup)) {
          throw bad(
            "message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message",
          );
        }
        m.text = text;
        if (markup) m.reply_markup = markup;
        else delete m.reply_markup;
        return { ...m, edit_date: now() };
      }
      case "deleteMessage": {
        if (!messages.delete(key(chatOf(p.chat_id).id, p.message_id)))
          throw bad("message to delete not found");
        return true;
      }
      default:
        throw new ApiError(404, "Not Found");
    }
  }

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      void (async () => {
        const match = /^\/bot([^/]+)\/(\w+)$/.exec(new URL(req.url ?? "/", "http://x").pathname);
        let status = 200;
        let body: Params;
        try {
          if (!match || match[1] !== token)
            throw new ApiError(match ? 401 : 404, match ? "Unauthorized" : "Not Found");
          const method = match[2]!;
          const raw = Buffer.concat(chunks).toString("utf8");
          const params: Params = raw === "" ? {} : (JSON.parse(raw) as Params);
          calls.push({ method, params });
          wake(callWaiters);
          const retryAfter = rateLimited.get(method);
          if (retryAfter !== undefined) {
            rateLimited.delete(method);
            throw new ApiError(429, `Too Many Requests: retry after ${retryAfter}`, {
              retry_after: retryAfter,
            });
          }
          body = { ok: true, result: await handle(method, params, res) };
        } catch (err) {
          const e =
            err instanceof ApiError ? err : new ApiError(500, `Internal Server Error: ${String(err)}`);
          status = e.code;
          body = {
            ok: false,
            error_code: e.code,
            description: e.message,
            ...(e.parameters ? { parameters: e.parameters } : {}),
          };
        }
        if (res.destroyed) return;
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(body));
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  const userOf = (u: { id: number; name?: string; username?: string; isBot?: boolean }): TgUser => ({
    id: u.id,
    is_bot: u.isBot ?? false,
    first_name: u.name ?? `User${u.id}`,
    ...(u.username ? { username: u.username } : {}),
  });

  return {
    token,
    apiRoot: `http://127.0.0.1:${port}`,
    calls,
    callsTo: (method) => calls.filter((c) => c.method === method).map((c) => c.params),
    maxConcurrentPolls: () => maxPolls,
    waitForCall(method, match = () => true, timeoutMs = 10_000) {
      const find = () => calls.find((c) => c.method === method && match(c.params))?.params;
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = find();
          if (!found) return;
          clearTimeout(timer);
          callWaiters.delete(check);
          resolve(found);
        };
        const timer = setTimeout(() => {
          callWaiters.delete(check);
          reject(new Error(`fake Telegram: no ${method} call within ${timeoutMs} ms`));
        }, timeoutMs);
        callWaiters.add(check);
        check();
      });
    },
    rateLimitOnce(method, retryAfter = 1) {
      rateLimited.set(method, retryAfter);
    },
    injectText(opts) {
      const from = userOf(opts.from);
      const chat: TgChat = opts.chat ?? { id: from.id, type: "private" };
      chats.set(chat.id, chat);
      const entities: { type: string; offset: number; length: number }[] = [];
      const command = /^\/[A-Za-z0-9_]+(@[A-Za-z0-9_]+)?/.exec(opts.text);
      if (command) entities.push({ type: "bot_command", offset: 0, length: command[0].length });
      for (const m of opts.text.matchAll(/(?<![\w/@])@[A-Za-z0-9_]{5,32}/g)) {
        entities.push({ type: "mention", offset: m.index, length: m[0].length });
      }
      const message: TgMessage & Params = {
        message_id: nextMessageId++,
        date: now(),
        chat,
        from,
        text: opts.text,
        ...(entities.length > 0 ? { entities } : {}),
      };
      if (opts.senderChat) message.sender_chat = opts.senderChat;
      if (opts.threadId !== undefined) {
        message.message_thread_id = opts.threadId;
        message.is_topic_message = true;
      }
      if (opts.replyToMessageId !== undefined) {
        const original = messages.get(key(chat.id, opts.replyToMessageId));
        if (original) message.reply_to_message = original;
      }
      messages.set(key(chat.id, message.message_id), message);
      push({ message });
      return message;
    },
    injectTap(opts) {
      const message = messages.get(key(opts.chatId, opts.messageId));
      if (!message) throw new Error(`fake Telegram: no message ${opts.messageId} in chat ${opts.chatId}`);
      const id = String(nextCallbackId++);
      push({
        callback_query: {
          id,
          from: userOf(opts.from),
          message,
          chat_instance: `ci-${opts.chatId}`,
          data: opts.data,
        },
      });
      return id;
    },
    message: (chatId, messageId) => messages.get(key(chatId, messageId)),
    messageIdWithButton(chatId, callbackData) {
      for (const m of messages.values()) {
        const rows = (m.reply_markup as { inline_keyboard?: { callback_data?: string }[][] } | undefined)
          ?.inline_keyboard;
        if (
          String(m.chat.id) === String(chatId) &&
          rows?.flat().some((b) => b.callback_data === callbackData)
        )
          return m.message_id;
      }
      return -1;
    },
    async close() {
      wake(waiters);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
