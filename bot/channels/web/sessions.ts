/**
 * Web chat sessions. The session cookie (32 random bytes, HttpOnly, SameSite=Strict, Path=/) is the
 * only credential after sign-in; we keep just its SHA-256, in memory and, when a session file is
 * configured, in that file (mode 0600), so a leaked file cannot be replayed as a cookie. Each session
 * has its own CSRF token that every state-changing request must echo in `x-warden-csrf`. Malformed,
 * unknown or expired cookies count as no session; an unreadable session file means no sessions.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { readFile, rename, writeFile } from "node:fs/promises";

export const SESSION_COOKIE = "warden_session";
const COOKIE_VALUE = /^[A-Za-z0-9_-]{43}$/;
const TTL_MS = 30 * 24 * 60 * 60 * 1000;

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
  readonly now?: () => number;
  readonly log?: (event: string, fields?: Record<string, unknown>) => void;
}

/** In-memory session table, optionally mirrored to a small JSON file. */
export class WebSessions {
  readonly #byKey = new Map<string, WebSession>();
  readonly #file: string | undefined;
  readonly #now: () => number;
  readonly #log: (event: string, fields?: Record<string, unknown>) => void;
  #writing: Promise<void> = Promise.resolve();

  constructor({ file, now = Date.now, log = () => {} }: WebSessionsOptions = {}) {
    this.#file = file;
    this.#now = now;
    this.#log = log;
  }

  /** Loads the session file, if any; a missing file is an empty table, a broken one is logged and ignored. */
  async load(): Promise<void> {
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
    this.#persist();
    const setCookie = `${SESSION_COOKIE}=${value}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${TTL_MS / 1000}`;
    return { setCookie, session };
  }

  /** The session named by a request's Cookie header, or undefined. */
  fromCookieHeader(header: string | undefined): WebSession | undefined {
    for (const part of (header ?? "").split(";")) {
      const eq = part.indexOf("=");
      if (eq < 0 || part.slice(0, eq).trim() !== SESSION_COOKIE) continue;
      const value = part.slice(eq + 1).trim();
      if (!COOKIE_VALUE.test(value)) continue;
      const session = this.#byKey.get(hash(value));
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
    if (this.#byKey.delete(session.key)) this.#persist();
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

  #persist(): void {
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
