/**
 * Web chat sessions. The session cookie (32 random bytes, HttpOnly, SameSite=Strict, Path=/) is the
 * only credential after sign-in; we keep just its SHA-256, in memory and, when a session file is
 * configured, in that file (mode 0600) or in a WebChatState (the bot store's rows, shared by replicas),
 * so a leaked file or row cannot be replayed as a cookie. Each session has its own CSRF token that every
 * state-changing request must echo in `x-warden-csrf`. Malformed, unknown or expired cookies count as no
 * session; an unreadable session file means no sessions. With a shared state, a cookie unknown here is
 * looked up there (made on another replica), and a known one is re-checked every few seconds, so a
 * sign-out on one replica ends the session on all of them.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { readFile, rename, writeFile } from "node:fs/promises";
import type { WebChatState } from "./web-chat-state.js";

export const SESSION_COOKIE = "warden_session";
const COOKIE_VALUE = /^[A-Za-z0-9_-]{43}$/;
export const TTL_MS = 30 * 24 * 60 * 60 * 1000;
/** How long a session read from the shared state is trusted before it is read again. */
const RECHECK_MS = 3_000;

/** A signed-in person on this browser. `key` is the SHA-256 of the cookie value. */
export interface WebSession {
  readonly key: string;
  readonly userId: string;
  readonly name: string;
  readonly csrf: string;
  readonly createdAt: number;
}

export interface WebSessionsOptions {
  readonly file?: string;
  /** Shared persistence (replicas); takes precedence over `file`. */
  readonly state?: WebChatState;
  readonly now?: () => number;
  readonly log?: (event: string, fields?: Record<string, unknown>) => void;
}

/** In-memory session table, optionally mirrored to a small JSON file. */
export class WebSessions {
  readonly #byKey = new Map<string, WebSession>();
  readonly #file: string | undefined;
  readonly #state: WebChatState | undefined;
  /** When each cached session was last confirmed by the shared state. */
  readonly #checkedAt = new Map<string, number>();
  readonly #now: () => number;
  readonly #log: (event: string, fields?: Record<string, unknown>) => void;
  #writing: Promise<void> = Promise.resolve();

  constructor({ file, state, now = Date.now, log = () => {} }: WebSessionsOptions = {}) {
    this.#file = state === undefined ? file : undefined;
    this.#state = state;
    this.#now = now;
    this.#log = log;
  }

  /** Loads the session file, if any; a missing file is an empty table, a broken one is logged and ignored. */
  async load(): Promise<void> {
    if (this.#state !== undefined) {
      try {
        for (const s of await this.#state.sessions()) this.#remember(s);
      } catch (err) {
        this.#log("web.sessions_unreadable", { error: (err as Error).name });
      }
      return;
    }
    if (this.#file === undefined) return;
    let raw: string;
    try {
      raw = await readFile(this.#file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT")
        this.#log("web.sessions_unreadable", { err: String(err) });
      return;
    }
    try {
      const list = (JSON.parse(raw) as { sessions?: unknown }).sessions;
      for (const s of Array.isArray(list) ? list : []) {
        const v = s as Partial<WebSession>;
        if (typeof v.key !== "string" || !/^[0-9a-f]{64}$/.test(v.key)) continue;
        if (typeof v.userId !== "string" || typeof v.name !== "string" || typeof v.csrf !== "string")
          continue;
        if (typeof v.createdAt !== "number" || this.#expired(v.createdAt)) continue;
        this.#byKey.set(v.key, {
          key: v.key,
          userId: v.userId,
          name: v.name,
          csrf: v.csrf,
          createdAt: v.createdAt,
        });
      }
    } catch (err) {
      this.#log("web.sessions_unreadable", { err: String(err) });
    }
  }

  /** Starts a session for a verified person; returns the Set-Cookie header value. */
  create(person: { userId: string; name: string }): { setCookie: string; session: WebSession } {
    const value = randomBytes(32).toString("base64url");
    const session: WebSession = {
      key: hash(value),
      userId: person.userId,
      name: person.name,
      csrf: randomBytes(32).toString("base64url"),
      createdAt: this.#now(),
    };
    this.#byKey.set(session.key, session);
    this.#checkedAt.set(session.key, this.#now());
    this.#persist({ put: session });
    const setCookie = `${SESSION_COOKIE}=${value}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${TTL_MS / 1000}`;
    return { setCookie, session };
  }

  /** The session named by a request's Cookie header, or undefined. */
  async fromCookieHeader(header: string | undefined): Promise<WebSession | undefined> {
    for (const part of (header ?? "").split(";")) {
      const eq = part.indexOf("=");
      if (eq < 0 || part.slice(0, eq).trim() !== SESSION_COOKIE) continue;
      const value = part.slice(eq + 1).trim();
      if (!COOKIE_VALUE.test(value)) continue;
      const session = await this.#lookup(hash(value));
      if (session === undefined) continue;
      if (this.#expired(session.createdAt)) {
        this.remove(session);
        continue;
      }
      return session;
    }
    return undefined;
  }

  /** True when `header` is this session's CSRF token (constant-time compare). */
  checkCsrf(session: WebSession, header: string | string[] | undefined): boolean {
    if (typeof header !== "string") return false;
    const a = Buffer.from(header);
    const b = Buffer.from(session.csrf);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  remove(session: WebSession): void {
    this.#checkedAt.delete(session.key);
    // Shared: delete the row even when this replica never cached it (signed out elsewhere first).
    if (this.#byKey.delete(session.key) || this.#state !== undefined) this.#persist({ remove: session.key });
  }

  /** Resolves once pending writes of the session file are done. */
  flush(): Promise<void> {
    return this.#writing;
  }

  /** Set-Cookie value that clears the cookie. */
  static clearCookie(): string {
    return `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`;
  }

  #expired(createdAt: number): boolean {
    return this.#now() - createdAt > TTL_MS;
  }

  /** A session by key: from memory, re-checked against (or read from) the shared state when stale. */
  async #lookup(key: string): Promise<WebSession | undefined> {
    const cached = this.#byKey.get(key);
    const state = this.#state;
    if (state === undefined) return cached;
    if (cached !== undefined && this.#now() - (this.#checkedAt.get(key) ?? 0) < RECHECK_MS) return cached;
    let stored: WebSession | undefined;
    try {
      stored = await state.session(key);
    } catch (err) {
      // Fail closed: a session we cannot confirm is no session (the page asks to sign in again).
      this.#log("web.sessions_unreadable", { error: (err as Error).name });
      return undefined;
    }
    if (stored === undefined) {
      this.#byKey.delete(key);
      this.#checkedAt.delete(key);
      return undefined;
    }
    this.#remember(stored);
    return stored;
  }

  #remember(s: WebSession): void {
    if (this.#expired(s.createdAt)) return;
    this.#byKey.set(s.key, s);
    this.#checkedAt.set(s.key, this.#now());
  }

  #persist(change: { put: WebSession } | { remove: string }): void {
    const state = this.#state;
    if (state !== undefined) {
      this.#writing = this.#writing.then(async () => {
        try {
          if ("put" in change) await state.putSession(change.put, change.put.createdAt + TTL_MS);
          else await state.deleteSession(change.remove);
        } catch (err) {
          this.#log("web.sessions_write_failed", { error: (err as Error).name });
        }
      });
      return;
    }
    const file = this.#file;
    if (file === undefined) return;
    const text = JSON.stringify({ sessions: [...this.#byKey.values()] });
    this.#writing = this.#writing.then(async () => {
      try {
        await writeFile(`${file}.tmp`, text, { mode: 0o600 });
        await rename(`${file}.tmp`, file);
      } catch (err) {
        this.#log("web.sessions_write_failed", { err: String(err) });
      }
    });
  }
}

function hash(value: string): string {
  return createHash("sha256").update(value).digest("hex");
}
