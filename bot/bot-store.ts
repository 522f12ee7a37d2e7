/**
 * The bot's memory, in `bot_*` tables (bot-schema.ts) of warden.db or of the shared PostgreSQL:
 * people and their roles, the platform identities linked to each person, one-time tokens (owner
 * claim, invitations, /link codes), where each approval card was sent, batches, which chats an agent
 * talks to, guided setups, quiet hours and the channels' small keyed state. Written once over the
 * `Sql` seam, so every replica sharing a database sees one bot. Untrusted: every token, name,
 * identity and address comes from chat users and goes into statements only as parameters. Tokens
 * are stored as sha256 hashes and burned by one DELETE that returns the row, so a token works once
 * even when two replicas race for it.
 */
import { createHash, randomBytes, randomUUID } from "node:crypto";
import {
  ensureSchema,
  type openDatabase,
  openPostgresSql,
  openSqliteSql,
  type PgOptions,
  type Sql,
  sqliteSql,
} from "../gateway/index.js";
import { BOT_TABLES, binary, botTables, insertionOrder } from "./bot-schema.js";
import {
  type BotStore,
  type CardRef,
  type Person,
  ROLES,
  type Role,
  type TokenGrant,
  type TokenKind,
} from "./bot-store-types.js";
import type { Address } from "./channel.js";

export * from "./bot-store-types.js";

type Db = ReturnType<typeof openDatabase>;
interface Opts {
  readonly now?: () => number;
}

interface PersonRow {
  id: string;
  name: string;
  role: string;
  preferred: string | null;
}
type CardRow = { address: string; platform: string; chat_id: string; message_id: string };

/** Opens the bot's tables in the SQLite file at `path` (":memory:" for tests), sharing its connection. */
export function openBotStore(path: string, opts: Opts = {}): BotStore {
  return botStore(openSqliteSql(path), opts).store;
}

/**
 * The bot store over an open SQLite connection (the gateway's warden.db) or any `Sql` (PostgreSQL).
 * Returned at once; its tables are created first and every call waits for that.
 */
export function createBotStore(db: Db | Sql, opts: Opts = {}): BotStore {
  return botStore(isSql(db) ? db : sqliteSql(db), opts).store;
}

/** The bot store on PostgreSQL (`WARDEN_DATABASE_URL`); resolves once its tables are usable. */
export async function openPostgresBotStore(opts: PgOptions & Opts): Promise<BotStore> {
  const sql = await openPostgresSql(opts);
  const { store, ready } = botStore(sql, opts);
  try {
    await ready;
  } catch (err) {
    await sql.close();
    throw err;
  }
  return store;
}

const isSql = (x: Db | Sql): x is Sql => typeof (x as Sql).tx === "function";

function botStore(sql: Sql, opts: Opts): { store: BotStore; ready: Promise<void> } {
  const ready = ensureSchema(sql, "bot", botTables(sql.dialect), BOT_TABLES);
  ready.catch(() => undefined); // reported by every call
  const raw = rawBotStore(sql, opts);
  const wrapped: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(raw))
    wrapped[name] = async (...args: unknown[]) => {
      if (name === "close") await ready.catch(() => undefined);
      else await ready;
      return (fn as (...a: unknown[]) => unknown)(...args);
    };
  return { store: wrapped as unknown as BotStore, ready };
}

function rawBotStore(sql: Sql, { now = Date.now }: Opts): BotStore {
  const ord = insertionOrder(sql.dialect);
  const C = binary(sql.dialect);
  const hash = (token: string): string => createHash("sha256").update(token).digest("hex");
  const toPerson = (r: PersonRow | undefined): Person | undefined =>
    r && { id: r.id, name: r.name, role: asRole(r.role), preferred: r.preferred };
  const addrKey = (a: Address): string => JSON.stringify([a.platform, a.chatId, a.threadId ?? null]);
  const fromKey = (k: string): Address => {
    const [platform, chatId, threadId] = JSON.parse(k) as [string, string, string | null];
    return threadId === null ? { platform, chatId } : { platform, chatId, threadId };
  };
  const toCard = (r: CardRow): CardRef => ({
    to: fromKey(r.address),
    ref: { platform: r.platform, chatId: r.chat_id, messageId: r.message_id },
  });
  const done = async (p: Promise<unknown>): Promise<void> => void (await p);
  const person = async (s: Sql, id: string) =>
    toPerson(await s.get<PersonRow>("SELECT * FROM bot_people WHERE id = ?", [id]));
  const personOf = async (identity: string) =>
    toPerson(
      await sql.get<PersonRow>(
        "SELECT p.* FROM bot_people p JOIN bot_identities i ON i.person = p.id WHERE i.identity = ?",
        [identity],
      ),
    );
  const platformOf = (identity: string): string => identity.split(":")[0] ?? "";

  return {
    personOf,
    person: (id) => person(sql, id),
    findPerson: async (nameOrId) => {
      const direct = (await person(sql, nameOrId)) ?? (await personOf(nameOrId));
      if (direct) return direct;
      const rows = await sql.all<PersonRow>("SELECT * FROM bot_people WHERE lower(name) = lower(?)", [
        nameOrId,
      ]);
      return rows.length === 1 ? toPerson(rows[0]) : undefined;
    },
    listPeople: async () =>
      (await sql.all<PersonRow>(`SELECT * FROM bot_people ORDER BY created_at, ${ord}`)).map(
        (r) => toPerson(r) as Person,
      ),
    // Serialised per identity: of two replicas creating a person for one identity, the second fails
    // on the identity's key after the first committed, and leaves no orphan person behind.
    createPerson: (identity, name, role) =>
      sql.tx(async (t) => {
        const id = randomUUID();
        await t.run("INSERT INTO bot_people (id, name, role, preferred, created_at) VALUES (?, ?, ?, ?, ?)", [
          id,
          name,
          role,
          identity.split(":")[0] ?? null,
          now(),
        ]);
        await t.run("INSERT INTO bot_identities (identity, person, linked_at) VALUES (?, ?, ?)", [
          identity,
          id,
          now(),
        ]);
        return (await person(t, id)) as Person;
      }, `bot_identity:${identity}`),
    setRole: (id, role) => done(sql.run("UPDATE bot_people SET role = ? WHERE id = ?", [role, id])),
    setPreferred: (id, platform) =>
      done(sql.run("UPDATE bot_people SET preferred = ? WHERE id = ?", [platform, id])),
    linkIdentity: (identity, to) =>
      sql.tx(async (t) => {
        await t.run(
          "INSERT INTO bot_identities (identity, person, linked_at) VALUES (?, ?, ?) ON CONFLICT (identity) DO UPDATE SET person = excluded.person, linked_at = excluded.linked_at",
          [identity, to, now()],
        );
        await t.run("UPDATE bot_people SET preferred = ? WHERE id = ?", [platformOf(identity), to]);
      }, `bot_identity:${identity}`),
    identitiesOf: async (id) =>
      (
        await sql.all<{ identity: string }>(
          `SELECT identity FROM bot_identities WHERE person = ? ORDER BY linked_at DESC, ${ord}`,
          [id],
        )
      ).map((r) => r.identity),
    // A person's private chat is the DM itself, never a thread in it: a message written in an agent's
    // thread inside the DM (Slack, Telegram private topics) must not send every later card there.
    rememberPrivateChat: (identity, chat) =>
      done(
        sql.run("UPDATE bot_identities SET private_chat = ? WHERE identity = ?", [
          addrKey({ platform: chat.platform, chatId: chat.chatId }),
          identity,
        ]),
      ),
    privateChatOf: async (identity) => {
      const r = await sql.get<{ private_chat: string | null }>(
        "SELECT private_chat FROM bot_identities WHERE identity = ?",
        [identity],
      );
      if (!r?.private_chat) return undefined;
      // Rows written before the rule above may still name a thread: read them as the DM.
      const { platform, chatId } = fromKey(r.private_chat);
      return { platform, chatId };
    },

    issueToken: async (kind, grant, token = newToken(kind)) => {
      await sql.run("INSERT INTO bot_tokens (hash, kind, role, person, expires_at) VALUES (?, ?, ?, ?, ?)", [
        hash(token),
        kind,
        grant.role ?? null,
        grant.person ?? null,
        now() + grant.ttlMs,
      ]);
      return token;
    },
    // One statement reads and burns: whichever caller's DELETE takes the row gets it, on any number
    // of replicas. A token of another kind is left alone; an expired one is burned, granting nothing.
    consumeToken: async (kind, token) => {
      if (token.length === 0 || token.length > 128) return undefined;
      const row = await sql.get<{ role: string | null; person: string | null; expires_at: number }>(
        "DELETE FROM bot_tokens WHERE hash = ? AND kind = ? RETURNING role, person, expires_at",
        [hash(token), kind],
      );
      if (!row || row.expires_at <= now()) return undefined;
      return { role: row.role === null ? null : asRole(row.role), person: row.person } satisfies TokenGrant;
    },

    addCardRef: (approval, to, ref) =>
      done(
        sql.run(
          "INSERT INTO bot_cards (approval, address, platform, chat_id, message_id) VALUES (?, ?, ?, ?, ?) ON CONFLICT (approval, platform, chat_id, message_id) DO NOTHING",
          [approval, addrKey(to), ref.platform, ref.chatId, ref.messageId],
        ),
      ),
    cardRefs: async (approval) =>
      (
        await sql.all<CardRow>(
          `SELECT * FROM bot_cards WHERE approval = ? ORDER BY platform${C}, chat_id${C}, message_id${C}`,
          [approval],
        )
      ).map(toCard),
    approvalOfCardRef: async (ref) =>
      (
        await sql.get<{ approval: string }>(
          `SELECT approval FROM bot_cards WHERE platform = ? AND chat_id = ? AND message_id = ? ORDER BY approval${C} LIMIT 1`,
          [ref.platform, ref.chatId, ref.messageId],
        )
      )?.approval,

    // Batches (bot/batches.ts): membership is append-only, so "the first n items" never changes.
    latestBatch: async (key) => {
      const row = await sql.get<{ id: string; last_at: number; size: number }>(
        `SELECT b.id, b.last_at, (SELECT count(*) FROM bot_batch_items i WHERE i.batch = b.id) AS size FROM bot_batches b WHERE b.key = ? ORDER BY b.last_at DESC, b.${ord} DESC LIMIT 1`,
        [key],
      );
      return row && { id: row.id, lastAt: row.last_at, size: Number(row.size) };
    },
    // Serialised per batch, so two replicas appending at once get positions n and n+1, never one
    // position twice.
    addBatchItem: (batch, key, approval, at) =>
      sql.tx(async (t) => {
        await t.run(
          "INSERT INTO bot_batches (id, key, opened_at, last_at) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET last_at = excluded.last_at",
          [batch, key, at, at],
        );
        const n = Number(
          (await t.get<{ n: number }>("SELECT count(*) AS n FROM bot_batch_items WHERE batch = ?", [batch]))
            ?.n,
        );
        await t.run("INSERT INTO bot_batch_items (batch, seq, approval) VALUES (?, ?, ?)", [
          batch,
          n,
          approval,
        ]);
        return n;
      }, `bot_batch:${batch}`),
    batchOf: async (approval) =>
      (await sql.get<{ batch: string }>("SELECT batch FROM bot_batch_items WHERE approval = ?", [approval]))
        ?.batch,
    batchItems: async (batch) =>
      (
        await sql.all<{ approval: string }>(
          "SELECT approval FROM bot_batch_items WHERE batch = ? ORDER BY seq",
          [batch],
        )
      ).map((r) => r.approval),
    setBatchCard: (batch, to, ref, drawn) =>
      done(
        sql.run(
          "INSERT INTO bot_batch_cards (batch, address, platform, chat_id, message_id, drawn) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (batch, platform, chat_id, message_id) DO UPDATE SET drawn = excluded.drawn",
          [batch, addrKey(to), ref.platform, ref.chatId, ref.messageId, drawn],
        ),
      ),
    batchCards: async (batch) =>
      (
        await sql.all<CardRow & { drawn: number }>(
          `SELECT * FROM bot_batch_cards WHERE batch = ? ORDER BY platform${C}, chat_id${C}, message_id${C}`,
          [batch],
        )
      ).map((r) => ({ ...toCard(r), drawn: r.drawn })),
    batchOfCardRef: async (ref) => {
      const row = await sql.get<{ batch: string; drawn: number }>(
        `SELECT batch, drawn FROM bot_batch_cards WHERE platform = ? AND chat_id = ? AND message_id = ? ORDER BY batch${C} LIMIT 1`,
        [ref.platform, ref.chatId, ref.messageId],
      );
      return row && { batch: row.batch, drawn: row.drawn };
    },

    beginSetup: async (chat, by, kind, data, ttlMs) => {
      await sql.run("DELETE FROM bot_setups WHERE expires_at <= ?", [now()]);
      await sql.run(
        'INSERT INTO bot_setups (address, "by", kind, data, expires_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (address) DO UPDATE SET "by" = excluded."by", kind = excluded.kind, data = excluded.data, expires_at = excluded.expires_at',
        [addrKey(chat), by, kind, JSON.stringify(data), now() + ttlMs],
      );
    },
    setupOf: async (chat, by) => {
      const row = await sql.get<{ kind: string; data: string }>(
        'SELECT kind, data FROM bot_setups WHERE address = ? AND "by" = ? AND expires_at > ?',
        [addrKey(chat), by, now()],
      );
      return row && { kind: row.kind, data: JSON.parse(row.data) as Record<string, string> };
    },
    endSetup: (chat) => done(sql.run("DELETE FROM bot_setups WHERE address = ?", [addrKey(chat)])),

    bind: (agent, chat) =>
      done(
        sql.run(
          "INSERT INTO bot_bindings (agent, address) VALUES (?, ?) ON CONFLICT (agent, address) DO NOTHING",
          [agent, addrKey(chat)],
        ),
      ),
    unbind: (agent, chat) =>
      done(
        chat
          ? sql.run("DELETE FROM bot_bindings WHERE agent = ? AND address = ?", [agent, addrKey(chat)])
          : sql.run("DELETE FROM bot_bindings WHERE agent = ?", [agent]),
      ),
    bindingsOf: async (agent) =>
      (
        await sql.all<{ address: string }>(
          `SELECT address FROM bot_bindings WHERE agent = ? ORDER BY address${C}`,
          [agent],
        )
      ).map((r) => fromKey(r.address)),
    agentsBoundTo: async (chat) =>
      (
        await sql.all<{ agent: string }>(
          `SELECT agent FROM bot_bindings WHERE address = ? ORDER BY agent${C}`,
          [addrKey(chat)],
        )
      ).map((r) => r.agent),
    setQuiet: (id, quiet) =>
      done(
        quiet === null
          ? sql.run("DELETE FROM bot_quiet WHERE person = ?", [id])
          : sql.run(
              "INSERT INTO bot_quiet (person, start_min, end_min, tz) VALUES (?, ?, ?, ?) ON CONFLICT (person) DO UPDATE SET start_min = excluded.start_min, end_min = excluded.end_min, tz = excluded.tz",
              [id, quiet.start, quiet.end, quiet.tz],
            ),
      ),
    quietOf: async (id) => {
      const r = await sql.get<{ start_min: number; end_min: number; tz: string }>(
        "SELECT start_min, end_min, tz FROM bot_quiet WHERE person = ?",
        [id],
      );
      return r && { start: r.start_min, end: r.end_min, tz: r.tz };
    },

    // Small keyed state of the channels that must outlive a restart (bot/persisted-state.ts):
    // webhook replay keys, approval codes, WhatsApp Cloud's 24-hour windows. Expired rows read as absent.
    statePut: (ns, key, value, expiresAt) =>
      done(
        sql.run(
          "INSERT INTO bot_state (ns, key, value, expires_at) VALUES (?, ?, ?, ?) ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at",
          [ns, key, value, expiresAt],
        ),
      ),
    stateGet: async (ns, key) =>
      (
        await sql.get<{ value: string }>(
          "SELECT value FROM bot_state WHERE ns = ? AND key = ? AND expires_at > ?",
          [ns, key, now()],
        )
      )?.value,
    stateList: async (ns, prefix = "") =>
      (
        await sql.all<{ key: string; value: string; expires_at: number }>(
          `SELECT key, value, expires_at FROM bot_state WHERE ns = ? AND substr(key, 1, ?) = ? AND expires_at > ? ORDER BY expires_at, key${C}`,
          [ns, prefix.length, prefix, now()],
        )
      ).map((r) => ({ key: r.key, value: r.value, expiresAt: r.expires_at })),
    stateDelete: (ns, key) => done(sql.run("DELETE FROM bot_state WHERE ns = ? AND key = ?", [ns, key])),
    statePrune: () => done(sql.run("DELETE FROM bot_state WHERE expires_at <= ?", [now()])),
    close: () => sql.close(),
  };
}

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
