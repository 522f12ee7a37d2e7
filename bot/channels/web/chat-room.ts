/**
 * The web chat's state: per-chat history (last 500 messages each) and the live Server-Sent Events
 * streams. Who may see what is decided here, in `canSee`: a person sees their own `dm:<userId>`
 * chat and every `agent:*` chat (agent chats are shared by everyone signed in to this instance).
 * Every event carries a sequence number so a page can merge its snapshot with live events.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { rename, writeFile } from "node:fs/promises";
import type { ServerResponse } from "node:http";
import type { Card, Sender } from "../../channel.js";
import { sseHeaders } from "./http-io.js";
import type { WebSession } from "./sessions.js";
import type { WebChatState } from "./web-chat-state.js";

export const HISTORY_LIMIT = 500;
/** The chat ids this channel knows: one private chat per person, one shared chat per agent. */
export const CHAT_ID = /^(dm|agent):[A-Za-z0-9._@-]{1,128}$/;
const MAX_BUFFERED_SSE = 4 * 1024 * 1024;
const HEARTBEAT_MS = 20_000;

/** A message as kept in history: bot messages have `from: null`. */
export interface StoredMessage {
  readonly id: string;
  readonly chatId: string;
  readonly ts: number;
  readonly from: Sender | null;
  readonly text?: string;
  readonly card?: Card;
  /** A bot message that is an agent's words (its name): shown under that name, never as Warden's. */
  readonly agent?: string;
}

/** True when the person `userId` may read and write `chatId`. */
export function canSee(userId: string, chatId: string): boolean {
  return chatId === `dm:${userId}` || chatId.startsWith("agent:");
}

function chatTitle(chatId: string): string {
  return chatId.startsWith("dm:") ? "Warden" : chatId.slice("agent:".length);
}

interface Listener {
  readonly session: WebSession;
  readonly res: ServerResponse;
}

/** History plus fan-out of changes to the pages allowed to see them. */
export class ChatRoom {
  readonly #chats = new Map<string, StoredMessage[]>();
  readonly #listeners = new Set<Listener>();
  readonly #now: () => number;
  readonly #log: (event: string, fields?: Record<string, unknown>) => void;
  readonly #heartbeat: NodeJS.Timeout;
  #seq = 0;
  readonly #historyFile: string | undefined;
  readonly #state: WebChatState | undefined;
  /** Chats changed since the last save (the shared state is written per chat). */
  readonly #dirty = new Set<string>();
  #saving: NodeJS.Timeout | undefined;
  #flushing: Promise<void> = Promise.resolve();

  /**
   * `history` (a file, or the shared WebChatState) keeps the history across restarts (cards included,
   * so a card sent before a crash can still be updated and tapped). Saves are batched; a message
   * deleted right after it arrived (a pasted secret) is gone before the batch is written. A file is
   * read now; a WebChatState by `load()`.
   */
  constructor(
    now: () => number = Date.now,
    history?: string | WebChatState,
    log: (event: string, fields?: Record<string, unknown>) => void = () => {},
  ) {
    this.#now = now;
    this.#log = log;
    this.#historyFile = typeof history === "string" ? history : undefined;
    this.#state = typeof history === "object" ? history : undefined;
    if (this.#historyFile) this.#load(this.#historyFile);
    this.#heartbeat = setInterval(() => {
      for (const l of this.#listeners) l.res.write(": ping\n\n");
    }, HEARTBEAT_MS);
    this.#heartbeat.unref();
  }

  /** Reads the history kept in the shared state (messages that arrived meanwhile stay, after it). */
  async load(): Promise<void> {
    if (this.#state === undefined) return;
    for (const [chatId, stored] of await this.#state.history()) {
      const seen = new Set(stored.map((m) => m.id));
      const live = (this.#chats.get(chatId) ?? []).filter((m) => !seen.has(m.id));
      this.#chats.set(chatId, [...stored, ...live].slice(-HISTORY_LIMIT));
    }
  }

  hasChat(chatId: string): boolean {
    return this.#chats.has(chatId);
  }

  /** Stores a message (dropping the chat's oldest past the limit) and pushes it live. */
  append(
    chatId: string,
    from: Sender | null,
    content: { text: string; agent?: string } | { card: Card },
  ): StoredMessage {
    const message: StoredMessage = {
      id: randomBytes(9).toString("base64url"),
      chatId,
      ts: this.#now(),
      from,
      ...content,
    };
    const list = this.#chats.get(chatId) ?? [];
    list.push(message);
    if (list.length > HISTORY_LIMIT) list.splice(0, list.length - HISTORY_LIMIT);
    this.#chats.set(chatId, list);
    this.#broadcast(chatId, "msg", { message });
    this.#save(chatId);
    return message;
  }

  find(chatId: string, id: string): StoredMessage | undefined {
    return this.#chats.get(chatId)?.find((m) => m.id === id);
  }

  /** Replaces a card in place; false when the message is gone (deleted or past the history limit). */
  replaceCard(chatId: string, id: string, card: Card): boolean {
    const list = this.#chats.get(chatId);
    const index = list?.findIndex((m) => m.id === id && m.card !== undefined) ?? -1;
    if (list === undefined || index < 0) return false;
    const message: StoredMessage = { ...list[index]!, card };
    list[index] = message;
    this.#broadcast(chatId, "card", { message });
    this.#save(chatId);
    return true;
  }

  remove(chatId: string, id: string): boolean {
    const list = this.#chats.get(chatId);
    const index = list?.findIndex((m) => m.id === id) ?? -1;
    if (list === undefined || index < 0) return false;
    list.splice(index, 1);
    this.#broadcast(chatId, "del", { chatId, messageId: id });
    this.#save(chatId);
    return true;
  }

  /** Everything `session` may see, with the sequence number it is current to. */
  snapshot(session: WebSession): unknown {
    const dm = `dm:${session.userId}`;
    const ids = [dm, ...[...this.#chats.keys()].filter((id) => id.startsWith("agent:")).sort()];
    return {
      seq: this.#seq,
      me: { id: `web:${session.userId}`, name: session.name },
      chats: ids.map((chatId) => ({
        chatId,
        title: chatTitle(chatId),
        messages: this.#chats.get(chatId) ?? [],
      })),
    };
  }

  /** Turns `res` into this session's live event stream until the page goes away. */
  listen(session: WebSession, res: ServerResponse): void {
    res.writeHead(200, sseHeaders());
    res.write(`retry: 2000\n\n`);
    const listener: Listener = { session, res };
    this.#listeners.add(listener);
    res.on("close", () => this.#listeners.delete(listener));
  }

  /** A private note to the pages of one session (e.g. the answer to a button tap). */
  toast(session: WebSession, text: string): void {
    for (const l of this.#listeners) if (l.session.key === session.key) this.#write(l, "toast", { text });
  }

  /** Ends the streams of a session that signed out. */
  drop(session: WebSession): void {
    for (const l of this.#listeners) if (l.session.key === session.key) l.res.end();
  }

  /** Ends every stream; resolves once pending history is written. */
  close(): Promise<void> {
    if (this.#saving) {
      clearTimeout(this.#saving);
      this.#saving = undefined;
      this.#queueFlush();
    }
    clearInterval(this.#heartbeat);
    for (const l of this.#listeners) l.res.end();
    this.#listeners.clear();
    return this.#flushing;
  }

  #load(file: string): void {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(file, "utf8"));
    } catch {
      return; // first start, or an unreadable file: start with an empty history
    }
    if (typeof raw !== "object" || raw === null) return;
    for (const [chatId, list] of Object.entries(raw as Record<string, unknown>)) {
      if (!CHAT_ID.test(chatId) || !Array.isArray(list)) continue;
      this.#chats.set(
        chatId,
        (list as StoredMessage[]).filter((m) => typeof m?.id === "string").slice(-HISTORY_LIMIT),
      );
    }
  }

  #save(chatId: string): void {
    if (!this.#historyFile && !this.#state) return;
    this.#dirty.add(chatId);
    if (this.#saving) return;
    this.#saving = setTimeout(() => {
      this.#saving = undefined;
      this.#queueFlush();
    }, 250);
    this.#saving.unref();
  }

  /** Writes one batch after the previous one (never two writers of the same rows at once). */
  #queueFlush(): void {
    this.#flushing = this.#flushing.then(() =>
      this.#flush().catch((err: unknown) =>
        this.#log("web.history_write_failed", { error: (err as Error).name }),
      ),
    );
  }

  async #flush(): Promise<void> {
    const state = this.#state;
    if (state !== undefined) {
      const chats = [...this.#dirty];
      this.#dirty.clear();
      for (const chatId of chats) await state.saveChat(chatId, this.#chats.get(chatId) ?? []);
      return;
    }
    const file = this.#historyFile;
    if (!file) return;
    const tmp = `${file}.tmp`;
    await writeFile(tmp, JSON.stringify(Object.fromEntries(this.#chats)), { mode: 0o600 });
    await rename(tmp, file);
  }

  #broadcast(chatId: string, event: string, data: Record<string, unknown>): void {
    const seq = ++this.#seq;
    const title = chatTitle(chatId);
    for (const l of this.#listeners) {
      if (canSee(l.session.userId, chatId)) this.#write(l, event, { ...data, seq, title });
    }
  }

  #write(l: Listener, event: string, data: unknown): void {
    // A page that stopped reading is cut off rather than buffered without bound; it reconnects and reloads.
    if (l.res.writableLength > MAX_BUFFERED_SSE) {
      l.res.destroy();
      return;
    }
    l.res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }
}
