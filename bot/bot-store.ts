/**
 * The bot's memory, in `bot_*` tables of warden.db: people and their roles, the platform identities
 * linked to each person, one-time tokens (owner claim, invitations, /link codes), where each approval
 * card was sent, which chats an agent talks to, and each identity's private chat. Tokens are stored
 * as sha256 hashes and burned in the same transaction that reads them, so a token works once.
 */
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { asyncify, openDatabase, type Sync } from "../gateway/index.js";
import type { Address, SentRef } from "./channel.js";
import type { QuietHours } from "./quiet-hours.js";

/** Ordered weakest first; a higher role includes every lower one. */
export const ROLES = ["member", "approver", "admin", "owner"] as const;
export type Role = (typeof ROLES)[number];

export interface Person {
  readonly id: string;
  readonly name: string;
  readonly role: Role;
  /** Platform for DMs: where they last linked or chose; null = any. */
  readonly preferred: string | null;
}

export type TokenKind = "claim" | "invite" | "link";

/** What a burned token carried. */
export interface TokenGrant {
  readonly role: Role | null;
  readonly person: string | null;
}

export interface CardRef {
  readonly to: Address;
  readonly ref: SentRef;
}

type Db = ReturnType<typeof openDatabase>;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS bot_people (id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL,
  preferred TEXT, created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS bot_identities (identity TEXT PRIMARY KEY, person TEXT NOT NULL, private_chat TEXT,
  linked_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS bot_identities_person ON bot_identities (person);
CREATE TABLE IF NOT EXISTS bot_tokens (hash TEXT PRIMARY KEY, kind TEXT NOT NULL, role TEXT, person TEXT,
  expires_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS bot_cards (approval TEXT NOT NULL, address TEXT NOT NULL, platform TEXT NOT NULL,
  chat_id TEXT NOT NULL, message_id TEXT NOT NULL, PRIMARY KEY (approval, platform, chat_id, message_id));
CREATE TABLE IF NOT EXISTS bot_bindings (agent TEXT NOT NULL, address TEXT NOT NULL, PRIMARY KEY (agent, address));
CREATE TABLE IF NOT EXISTS bot_quiet (person TEXT PRIMARY KEY, start_min INTEGER NOT NULL,
  end_min INTEGER NOT NULL, tz TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS bot_setups (address TEXT PRIMARY KEY, by TEXT NOT NULL, kind TEXT NOT NULL,
  data TEXT NOT NULL, expires_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS bot_batches (id TEXT PRIMARY KEY, key TEXT NOT NULL, opened_at INTEGER NOT NULL,
  last_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS bot_batches_key ON bot_batches (key, last_at);
CREATE TABLE IF NOT EXISTS bot_batch_items (batch TEXT NOT NULL, seq INTEGER NOT NULL, approval TEXT NOT NULL UNIQUE,
  PRIMARY KEY (batch, seq));
CREATE TABLE IF NOT EXISTS bot_batch_cards (batch TEXT NOT NULL, address TEXT NOT NULL, platform TEXT NOT NULL,
  chat_id TEXT NOT NULL, message_id TEXT NOT NULL, drawn INTEGER NOT NULL,
  PRIMARY KEY (batch, platform, chat_id, message_id));
CREATE TABLE IF NOT EXISTS bot_state (ns TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
  expires_at INTEGER NOT NULL, PRIMARY KEY (ns, key));
CREATE INDEX IF NOT EXISTS bot_state_expiry ON bot_state (expires_at);
`;

interface PersonRow {
  id: string;
  name: string;
  role: string;
  preferred: string | null;
}

/** Opens the bot's tables in the SQLite file at `path` (":memory:" for tests). */
export function openBotStore(path: string, opts: { now?: () => number } = {}): BotStore {
  return createBotStore(openDatabase(path), opts);
}

/** The bot store over an already open database (shared with the gateway's store). */
export function createBotStore(db: Db, opts: { now?: () => number } = {}): BotStore {
  return asyncify<BotStore>(syncBotStore(db, opts) as Sync<BotStore>);
}

function syncBotStore(db: Db, { now = Date.now }: { now?: () => number } = {}) {
  db.exec(SCHEMA);
  const hash = (token: string): string => createHash("sha256").update(token).digest("hex");
  const toPerson = (r: PersonRow | undefined): Person | undefined =>
    r && { id: r.id, name: r.name, role: asRole(r.role), preferred: r.preferred };
  const addrKey = (a: Address): string => JSON.stringify([a.platform, a.chatId, a.threadId ?? null]);
  const fromKey = (k: string): Address => {
    const [platform, chatId, threadId] = JSON.parse(k) as [string, string, string | null];
    return threadId === null ? { platform, chatId } : { platform, chatId, threadId };
  };

  const burn = db.transaction((h: string, kind: TokenKind): TokenGrant | undefined => {
    const row = db
      .prepare("SELECT role, person, expires_at FROM bot_tokens WHERE hash = ? AND kind = ?")
      .get(h, kind) as { role: string | null; person: string | null; expires_at: number } | undefined;
    if (!row) return undefined;
    db.prepare("DELETE FROM bot_tokens WHERE hash = ?").run(h);
    if (row.expires_at <= now()) return undefined;
    return { role: row.role === null ? null : asRole(row.role), person: row.person };
  });

  return {
    /** The person an identity (`<platform>:<userId>`) belongs to. */
    personOf(identity: string): Person | undefined {
      const r = db
        .prepare("SELECT p.* FROM bot_people p JOIN bot_identities i ON i.person = p.id WHERE i.identity = ?")
        .get(identity) as PersonRow | undefined;
      return toPerson(r);
    },
    person(id: string): Person | undefined {
      return toPerson(db.prepare("SELECT * FROM bot_people WHERE id = ?").get(id) as PersonRow | undefined);
    },
    /** By person id, identity, or exact (case-insensitive) name; undefined when none or ambiguous. */
    findPerson(nameOrId: string): Person | undefined {
      const direct = this.person(nameOrId) ?? this.personOf(nameOrId);
      if (direct) return direct;
      const rows = db
        .prepare("SELECT * FROM bot_people WHERE lower(name) = lower(?)")
        .all(nameOrId) as PersonRow[];
      return rows.length === 1 ? toPerson(rows[0]) : undefined;
    },
    listPeople(): Person[] {
      const rows = db.prepare("SELECT * FROM bot_people ORDER BY created_at").all() as PersonRow[];
      return rows.map((r) => toPerson(r) as Person);
    },
    createPerson(identity: string, name: string, role: Role): Person {
      const id = randomUUID();
      db.transaction(() => {
        db.prepare(
          "INSERT INTO bot_people (id, name, role, preferred, created_at) VALUES (?, ?, ?, ?, ?)",
        ).run(id, name, role, identity.split(":")[0] ?? null, now());
        db.prepare("INSERT INTO bot_identities (identity, person, linked_at) VALUES (?, ?, ?)").run(
          identity,
          id,
          now(),
        );
      })();
      return this.person(id) as Person;
    },
    setRole(person: string, role: Role): void {
      db.prepare("UPDATE bot_people SET role = ? WHERE id = ?").run(role, person);
    },
    setPreferred(person: string, platform: string): void {
      db.prepare("UPDATE bot_people SET preferred = ? WHERE id = ?").run(platform, person);
    },
    /** Moves `identity` to `person` and makes its platform the preferred one for DMs. */
    linkIdentity(identity: string, person: string): void {
      db.transaction(() => {
        db.prepare(
          "INSERT INTO bot_identities (identity, person, linked_at) VALUES (?, ?, ?) ON CONFLICT(identity) DO UPDATE SET person = excluded.person, linked_at = excluded.linked_at",
        ).run(identity, person, now());
        this.setPreferred(person, identity.split(":")[0] ?? "");
      })();
    },
    identitiesOf(person: string): string[] {
      const rows = db
        .prepare("SELECT identity FROM bot_identities WHERE person = ? ORDER BY linked_at DESC")
        .all(person) as { identity: string }[];
      return rows.map((r) => r.identity);
    },
    /**
     * A person's private chat is the DM itself, never a thread in it: a message written in an agent's
     * thread inside the DM (Slack, Telegram private topics) must not send every later card there.
     */
    rememberPrivateChat(identity: string, chat: Address): void {
      db.prepare("UPDATE bot_identities SET private_chat = ? WHERE identity = ?").run(
        addrKey({ platform: chat.platform, chatId: chat.chatId }),
        identity,
      );
    },
    privateChatOf(identity: string): Address | undefined {
      const r = db.prepare("SELECT private_chat FROM bot_identities WHERE identity = ?").get(identity) as
        | { private_chat: string | null }
        | undefined;
      if (!r?.private_chat) return undefined;
      // Rows written before the rule above may still name a thread: read them as the DM.
      const { platform, chatId } = fromKey(r.private_chat);
      return { platform, chatId };
    },

    /** Issues a one-time token; only its hash is kept. */
    issueToken(
      kind: TokenKind,
      grant: Partial<TokenGrant> & { ttlMs: number },
      token = newToken(kind),
    ): string {
      db.prepare("INSERT INTO bot_tokens (hash, kind, role, person, expires_at) VALUES (?, ?, ?, ?, ?)").run(
        hash(token),
        kind,
        grant.role ?? null,
        grant.person ?? null,
        now() + grant.ttlMs,
      );
      return token;
    },
    /** Burns the token whether or not it is still valid; returns what it carried when valid. */
    consumeToken(kind: TokenKind, token: string): TokenGrant | undefined {
      if (token.length === 0 || token.length > 128) return undefined;
      return burn(hash(token), kind);
    },

    addCardRef(approval: string, to: Address, ref: SentRef): void {
      db.prepare(
        "INSERT OR IGNORE INTO bot_cards (approval, address, platform, chat_id, message_id) VALUES (?, ?, ?, ?, ?)",
      ).run(approval, addrKey(to), ref.platform, ref.chatId, ref.messageId);
    },
    cardRefs(approval: string): CardRef[] {
      const rows = db.prepare("SELECT * FROM bot_cards WHERE approval = ?").all(approval) as {
        address: string;
        platform: string;
        chat_id: string;
        message_id: string;
      }[];
      return rows.map((r) => ({
        to: fromKey(r.address),
        ref: { platform: r.platform, chatId: r.chat_id, messageId: r.message_id },
      }));
    },

    /** The approval whose card is the message `ref` (for platforms that reply to a card, not tap it). */
    approvalOfCardRef(ref: SentRef): string | undefined {
      const row = db
        .prepare(
          "SELECT approval FROM bot_cards WHERE platform = ? AND chat_id = ? AND message_id = ? LIMIT 1",
        )
        .get(ref.platform, ref.chatId, ref.messageId) as { approval: string } | undefined;
      return row?.approval;
    },

    // Batches (bot/batches.ts): membership is append-only, so "the first n items" never changes.
    /** The newest batch with `key`: its id, last arrival and size. */
    latestBatch(key: string): { id: string; lastAt: number; size: number } | undefined {
      const row = db
        .prepare(
          "SELECT b.id, b.last_at, (SELECT count(*) FROM bot_batch_items i WHERE i.batch = b.id) AS size FROM bot_batches b WHERE b.key = ? ORDER BY b.last_at DESC, b.rowid DESC LIMIT 1",
        )
        .get(key) as { id: string; last_at: number; size: number } | undefined;
      return row && { id: row.id, lastAt: row.last_at, size: row.size };
    },
    /** Appends `approval` to `batch` (created when new); returns its 0-based position. */
    addBatchItem: db.transaction((batch: string, key: string, approval: string, at: number): number => {
      db.prepare(
        "INSERT INTO bot_batches (id, key, opened_at, last_at) VALUES (?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET last_at = excluded.last_at",
      ).run(batch, key, at, at);
      const { n } = db.prepare("SELECT count(*) AS n FROM bot_batch_items WHERE batch = ?").get(batch) as {
        n: number;
      };
      db.prepare("INSERT INTO bot_batch_items (batch, seq, approval) VALUES (?, ?, ?)").run(
        batch,
        n,
        approval,
      );
      return n;
    }),
    batchOf(approval: string): string | undefined {
      const row = db.prepare("SELECT batch FROM bot_batch_items WHERE approval = ?").get(approval) as
        | { batch: string }
        | undefined;
      return row?.batch;
    },
    /** The approvals of `batch` in the order they joined. */
    batchItems(batch: string): string[] {
      const rows = db
        .prepare("SELECT approval FROM bot_batch_items WHERE batch = ? ORDER BY seq")
        .all(batch) as { approval: string }[];
      return rows.map((r) => r.approval);
    },
    /** Records (or redraws) a batch card message and how many items it shows now. */
    setBatchCard(batch: string, to: Address, ref: SentRef, drawn: number): void {
      db.prepare(
        "INSERT INTO bot_batch_cards (batch, address, platform, chat_id, message_id, drawn) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET drawn = excluded.drawn",
      ).run(batch, addrKey(to), ref.platform, ref.chatId, ref.messageId, drawn);
    },
    batchCards(batch: string): (CardRef & { drawn: number })[] {
      const rows = db.prepare("SELECT * FROM bot_batch_cards WHERE batch = ?").all(batch) as {
        address: string;
        platform: string;
        chat_id: string;
        message_id: string;
        drawn: number;
      }[];
      return rows.map((r) => ({
        to: fromKey(r.address),
        ref: { platform: r.platform, chatId: r.chat_id, messageId: r.message_id },
        drawn: r.drawn,
      }));
    },
    /** The batch whose card is the message `ref`, and how many items it last showed. */
    batchOfCardRef(ref: SentRef): { batch: string; drawn: number } | undefined {
      const row = db
        .prepare(
          "SELECT batch, drawn FROM bot_batch_cards WHERE platform = ? AND chat_id = ? AND message_id = ?",
        )
        .get(ref.platform, ref.chatId, ref.messageId) as { batch: string; drawn: number } | undefined;
      return row;
    },

    /** A guided setup waiting for `by`'s next message in `chat` (kept across restarts). */
    beginSetup(chat: Address, by: string, kind: string, data: Record<string, string>, ttlMs: number): void {
      db.prepare("DELETE FROM bot_setups WHERE expires_at <= ?").run(now());
      db.prepare(
        "INSERT OR REPLACE INTO bot_setups (address, by, kind, data, expires_at) VALUES (?, ?, ?, ?, ?)",
      ).run(addrKey(chat), by, kind, JSON.stringify(data), now() + ttlMs);
    },
    /** The live setup in `chat` started by `by`, if any. Read for every chat message: one indexed read. */
    setupOf(chat: Address, by: string): { kind: string; data: Record<string, string> } | undefined {
      const row = db
        .prepare("SELECT kind, data FROM bot_setups WHERE address = ? AND by = ? AND expires_at > ?")
        .get(addrKey(chat), by, now()) as { kind: string; data: string } | undefined;
      return row && { kind: row.kind, data: JSON.parse(row.data) as Record<string, string> };
    },
    endSetup(chat: Address): void {
      db.prepare("DELETE FROM bot_setups WHERE address = ?").run(addrKey(chat));
    },

    bind(agent: string, chat: Address): void {
      db.prepare("INSERT OR IGNORE INTO bot_bindings (agent, address) VALUES (?, ?)").run(
        agent,
        addrKey(chat),
      );
    },
    unbind(agent: string, chat?: Address): void {
      if (chat)
        db.prepare("DELETE FROM bot_bindings WHERE agent = ? AND address = ?").run(agent, addrKey(chat));
      else db.prepare("DELETE FROM bot_bindings WHERE agent = ?").run(agent);
    },
    bindingsOf(agent: string): Address[] {
      const rows = db.prepare("SELECT address FROM bot_bindings WHERE agent = ?").all(agent) as {
        address: string;
      }[];
      return rows.map((r) => fromKey(r.address));
    },
    agentsBoundTo(chat: Address): string[] {
      const rows = db
        .prepare("SELECT agent FROM bot_bindings WHERE address = ? ORDER BY agent")
        .all(addrKey(chat)) as {
        agent: string;
      }[];
      return rows.map((r) => r.agent);
    },
    /** A person's quiet hours (bot/quiet-hours.ts); null turns them off. */
    setQuiet(person: string, quiet: QuietHours | null): void {
      if (quiet === null) db.prepare("DELETE FROM bot_quiet WHERE person = ?").run(person);
      else
        db.prepare(
          "INSERT OR REPLACE INTO bot_quiet (person, start_min, end_min, tz) VALUES (?, ?, ?, ?)",
        ).run(person, quiet.start, quiet.end, quiet.tz);
    },
    quietOf(person: string): QuietHours | undefined {
      const r = db.prepare("SELECT start_min, end_min, tz FROM bot_quiet WHERE person = ?").get(person) as
        | { start_min: number; end_min: number; tz: string }
        | undefined;
      return r && { start: r.start_min, end: r.end_min, tz: r.tz };
    },

    // Small keyed state of the channels that must outlive a restart (bot/persisted-state.ts):
    // webhook replay keys, approval codes, WhatsApp Cloud's 24-hour windows. Expired rows read as absent.
    statePut(ns: string, key: string, value: string, expiresAt: number): void {
      db.prepare(
        "INSERT INTO bot_state (ns, key, value, expires_at) VALUES (?, ?, ?, ?) ON CONFLICT(ns, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at",
      ).run(ns, key, value, expiresAt);
    },
    stateGet(ns: string, key: string): string | undefined {
      const r = db
        .prepare("SELECT value FROM bot_state WHERE ns = ? AND key = ? AND expires_at > ?")
        .get(ns, key, now()) as { value: string } | undefined;
      return r?.value;
    },
    /** The live rows of `ns` (whose key starts with `prefix`), oldest expiry first. */
    stateList(ns: string, prefix = ""): { key: string; value: string; expiresAt: number }[] {
      const rows = db
        .prepare(
          "SELECT key, value, expires_at FROM bot_state WHERE ns = ? AND substr(key, 1, ?) = ? AND expires_at > ? ORDER BY expires_at",
        )
        .all(ns, prefix.length, prefix, now()) as { key: string; value: string; expires_at: number }[];
      return rows.map((r) => ({ key: r.key, value: r.value, expiresAt: r.expires_at }));
    },
    stateDelete(ns: string, key: string): void {
      db.prepare("DELETE FROM bot_state WHERE ns = ? AND key = ?").run(ns, key);
    },
    /** Deletes every expired row (all namespaces). */
    statePrune(): void {
      db.prepare("DELETE FROM bot_state WHERE expires_at <= ?").run(now());
    },
    close(): void {
      db.close();
    },
  };
}

/** The bot's persistence seam: SQLite's synchronous implementation above, behind async methods. */
export type BotStore = {
  [K in keyof SyncBotStore]: SyncBotStore[K] extends (...args: infer A) => infer R
    ? (...args: A) => Promise<R>
    : SyncBotStore[K];
};
type SyncBotStore = ReturnType<typeof syncBotStore>;

function asRole(s: string): Role {
  // An unrecognised stored role grants nothing rather than failing a lookup.
  return (ROLES as readonly string[]).includes(s) ? (s as Role) : "member";
}

function newToken(kind: TokenKind): string {
  // Link codes are typed by hand: 8 chars of an unambiguous alphabet, short-lived. Others are pasted.
  if (kind !== "link") return randomBytes(24).toString("base64url");
  const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  return [...randomBytes(8)].map((b) => alphabet[b % alphabet.length]).join("");
}
