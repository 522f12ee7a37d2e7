/**
 * The chat-facing half of the bot's store (bot-store.ts has people, identities and tokens): where
 * each approval card and batch card was sent, batch membership, guided setups, which chats an agent
 * talks to, quiet hours, and the channels' small keyed state. Same SQL on SQLite and PostgreSQL;
 * every address, key and value comes from chat platforms and travels only as a parameter.
 */
import type { Sql } from "../gateway/index.js";
import { binary, insertionOrder } from "./bot-schema.js";
import type { BotStore, CardRef } from "./bot-store-types.js";
import type { Address } from "./channel.js";

type CardRow = { address: string; platform: string; chat_id: string; message_id: string };

/** An address as one comparable key: platform, chat and thread (null for none). */
export const addrKey = (a: Address): string => JSON.stringify([a.platform, a.chatId, a.threadId ?? null]);
export const fromKey = (k: string): Address => {
  const [platform, chatId, threadId] = JSON.parse(k) as [string, string, string | null];
  return threadId === null ? { platform, chatId } : { platform, chatId, threadId };
};
const toCard = (r: CardRow): CardRef => ({
  to: fromKey(r.address),
  ref: { platform: r.platform, chatId: r.chat_id, messageId: r.message_id },
});
export const done = async (p: Promise<unknown>): Promise<void> => void (await p);

type ChatRows = Pick<
  BotStore,
  | "addCardRef"
  | "cardRefs"
  | "approvalOfCardRef"
  | "latestBatch"
  | "addBatchItem"
  | "batchOf"
  | "batchItems"
  | "setBatchCard"
  | "batchCards"
  | "batchOfCardRef"
  | "beginSetup"
  | "setupOf"
  | "endSetup"
  | "bind"
  | "unbind"
  | "bindingsOf"
  | "agentsBoundTo"
  | "setQuiet"
  | "quietOf"
  | "statePut"
  | "stateGet"
  | "stateList"
  | "stateDelete"
  | "statePrune"
>;

export function chatRows(sql: Sql, now: () => number): ChatRows {
  const ord = insertionOrder(sql.dialect);
  const C = binary(sql.dialect);
  return {
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
    // True only for the caller whose DELETE removed the row: replicas racing to take it, one wins.
    stateDelete: async (ns, key) =>
      (await sql.run("DELETE FROM bot_state WHERE ns = ? AND key = ?", [ns, key])).changes > 0,
    statePrune: () => done(sql.run("DELETE FROM bot_state WHERE expires_at <= ?", [now()])),
  };
}
