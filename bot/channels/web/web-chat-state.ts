/**
 * Where the web chat keeps what must outlive a restart and be seen by every replica: sessions (as
 * SHA-256 of the cookie, never the cookie) and each chat's history. `storeWebChatState` keeps them
 * in the bot store's `bot_state` rows (SQLite or the PostgreSQL all replicas share), one row per
 * session (expiring with it) and one per chat. Untrusted: the rows (an edited or older row is parsed
 * with zod and reads as absent, never as something else) and the old JSON files we import once.
 */
import { readFile, rename } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import type { StateRows } from "../../persisted-state.js";
import { CHAT_ID, HISTORY_LIMIT, type StoredMessage } from "./chat-room.js";
import { TTL_MS, type WebSession } from "./sessions.js";

/** What a web channel persists; absent, it keeps everything in memory. */
export interface WebChatState {
  /** The live (unexpired) sessions. */
  sessions(): Promise<WebSession[]>;
  /** One session by its key (the cookie's SHA-256), or undefined when unknown or expired. */
  session(key: string): Promise<WebSession | undefined>;
  putSession(session: WebSession, expiresAt: number): Promise<void>;
  deleteSession(key: string): Promise<void>;
  /** Every chat's history, keyed by chat id. */
  history(): Promise<Map<string, StoredMessage[]>>;
  /** Replaces one chat's history (an empty list removes it). */
  saveChat(chatId: string, messages: readonly StoredMessage[]): Promise<void>;
}

const SESSIONS = "web-session";
const HISTORY = "web-history";
/** A chat's row lives this long after its last change (it is rewritten on every change). */
const HISTORY_TTL = 10 * 365 * 24 * 3600_000;

const Session = z.object({
  key: z.string().regex(/^[0-9a-f]{64}$/),
  userId: z.string().min(1),
  name: z.string(),
  csrf: z.string().min(32),
  createdAt: z.number(),
});
// Messages are our own data; only the fields the page relies on are checked, the rest passes.
const Messages = z
  .array(z.object({ id: z.string(), chatId: z.string(), ts: z.number() }).passthrough())
  .transform((list) => list as unknown as StoredMessage[]);

function parse<T>(schema: z.ZodType<T>, text: string): T | undefined {
  try {
    const r = schema.safeParse(JSON.parse(text));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}

/** The web chat's state over the bot store's keyed rows, shared by every replica on that store. */
export function storeWebChatState(rows: StateRows, now: () => number = Date.now): WebChatState {
  const session = (text: string | undefined): WebSession | undefined =>
    text === undefined ? undefined : parse(Session, text);
  return {
    async sessions() {
      const out: WebSession[] = [];
      for (const r of await rows.stateList(SESSIONS)) {
        const s = session(r.value);
        if (s !== undefined && s.key === r.key) out.push(s);
      }
      return out;
    },
    async session(key) {
      const s = session(await rows.stateGet(SESSIONS, key));
      return s?.key === key ? s : undefined; // a row copied under another key names no one
    },
    putSession: (s, expiresAt) => rows.statePut(SESSIONS, s.key, JSON.stringify(s), expiresAt),
    deleteSession: async (key) => void (await rows.stateDelete(SESSIONS, key)),
    async history() {
      const out = new Map<string, StoredMessage[]>();
      for (const r of await rows.stateList(HISTORY)) {
        if (!CHAT_ID.test(r.key)) continue;
        const list = parse(Messages, r.value);
        if (list !== undefined) out.set(r.key, list.slice(-HISTORY_LIMIT));
      }
      return out;
    },
    async saveChat(chatId, messages) {
      if (messages.length === 0) await rows.stateDelete(HISTORY, chatId);
      else await rows.statePut(HISTORY, chatId, JSON.stringify(messages), now() + HISTORY_TTL);
    },
  };
}

/**
 * Moves the JSON files older versions kept in WARDEN_HOME into `state`, once: each imported file is
 * renamed `<file>.imported` (nothing is lost on upgrade, and the next start imports nothing). An
 * unreadable file is left where it is and logged. Expired sessions are dropped on the way.
 */
export async function importWebChatFiles(
  state: WebChatState,
  files: { sessionFile: string; historyFile: string; ttlMs: number },
  log: (event: string, fields?: Record<string, unknown>) => void = () => {},
  now: () => number = Date.now,
): Promise<void> {
  const read = async (file: string): Promise<unknown> => {
    try {
      return JSON.parse(await readFile(file, "utf8"));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT")
        log("web.import_unreadable", { error: (err as Error).name });
      return undefined;
    }
  };
  const sessions = await read(files.sessionFile);
  if (sessions !== undefined) {
    const list = (sessions as { sessions?: unknown } | null)?.sessions;
    for (const raw of Array.isArray(list) ? list : []) {
      const s = Session.safeParse(raw);
      if (s.success && now() - s.data.createdAt <= files.ttlMs)
        await state.putSession(s.data, s.data.createdAt + files.ttlMs);
    }
    await rename(files.sessionFile, `${files.sessionFile}.imported`);
    log("web.sessions_imported", {});
  }
  const history = await read(files.historyFile);
  if (history !== undefined) {
    if (typeof history === "object" && history !== null)
      for (const [chatId, raw] of Object.entries(history)) {
        const list = CHAT_ID.test(chatId) ? Messages.safeParse(raw) : undefined;
        if (list?.success) await state.saveChat(chatId, list.data.slice(-HISTORY_LIMIT));
      }
    await rename(files.historyFile, `${files.historyFile}.imported`);
    log("web.history_imported", {});
  }
}

/** `warden start`'s state: the bot store's rows, after a one-time import of `home`'s old JSON files. */
export async function openWebChatState(
  rows: StateRows,
  home: string,
  log?: (event: string, fields?: Record<string, unknown>) => void,
): Promise<WebChatState> {
  const state = storeWebChatState(rows);
  const files = { sessionFile: join(home, "web-sessions.json"), historyFile: join(home, "web-history.json") };
  await importWebChatFiles(state, { ...files, ttlMs: TTL_MS }, log);
  return state;
}
