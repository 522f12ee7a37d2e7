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
import { BOT_TABLES, botTables, insertionOrder } from "./bot-schema.js";
import { addrKey, chatRows, done, fromKey } from "./bot-store-chats.js";
import {
  type BotStore,
  type Person,
  ROLES,
  type Role,
  type TokenGrant,
  type TokenKind,
} from "./bot-store-types.js";

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
  const hash = (token: string): string => createHash("sha256").update(token).digest("hex");
  const toPerson = (r: PersonRow | undefined): Person | undefined =>
    r && { id: r.id, name: r.name, role: asRole(r.role), preferred: r.preferred };
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

    ...chatRows(sql, now),
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
