/**
 * The channels' small state that must outlive a restart, kept in the bot store's `bot_state` rows:
 * webhook replay keys (a replay just after a restart is still 409), short approval codes (a
 * `/approve <code>` typed after a restart still finds its card), WhatsApp Cloud's 24-hour
 * windows with the cards waiting on them, and Messenger's and Instagram's windows. Rows carry their own expiry; stored values are parsed
 * with zod on the way back (an edited or older row reads as absent, never as something else).
 */
import { z } from "zod";
import type { BotStore } from "./bot-store.js";
import type { CodeStore, CodeTarget } from "./channels/approval-codes.js";
import type { WaWindowStore, WithheldCard } from "./channels/chat-sdk/wacloud-window.js";
import type { WindowStore } from "./channels/meta/messaging-window.js";
import type { ReplayStore } from "./webhooks/replay-guard.js";

export type StateRows = Pick<BotStore, "statePut" | "stateGet" | "stateList" | "stateDelete" | "statePrune">;

const DAY = 24 * 3600_000;
/** Codes and held cards outlive any approval's life (approvals expire well within this). */
const CODE_TTL = 30 * DAY;
const WITHHELD_TTL = 7 * DAY;

const Ref = z.object({ platform: z.string(), chatId: z.string(), messageId: z.string() });
const Target = z.object({
  ref: Ref,
  data: z.object({ approve: z.string(), deny: z.string(), grant: z.string() }).partial(),
});
const Withheld = z.object({
  to: z.object({ platform: z.string(), chatId: z.string() }),
  // The bot's own card, as it was built (plain data); only its shape is checked here.
  card: z
    .object({ title: z.string(), buttons: z.array(z.object({ data: z.string() }).passthrough()) })
    .passthrough(),
});

function parsed<T>(schema: z.ZodType<T>, text: string | undefined): T | undefined {
  if (text === undefined) return undefined;
  try {
    const r = schema.safeParse(JSON.parse(text));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}

// SQLite's text functions stop at a NUL: rows use a space after the platform name (never in one).
const toRow = (k: string): string => k.replace("\0", " ");
const fromRow = (k: string): string => k.replace(" ", "\0");

/** Replay keys of the webhook listener: each row lives exactly as long as the key must. */
export function replayStoreOf(rows: StateRows): ReplayStore {
  let writes = 0;
  return {
    load: async () =>
      (await rows.stateList("webhook-replay")).map((r) => [fromRow(r.key), r.expiresAt] as const),
    async add(keys, until) {
      for (const k of keys) await rows.statePut("webhook-replay", toRow(k), "", until);
      // Expired rows of every kind go now and then, so the table stays the size of live state.
      if (++writes % 500 === 0) await rows.statePrune();
    },
    async remove(keys) {
      for (const k of keys) await rows.stateDelete("webhook-replay", toRow(k));
    },
  };
}

/** One platform's approval codes. */
export function codeStoreOf(rows: StateRows, platform: string, now: () => number = Date.now): CodeStore {
  const ns = `approval-codes:${platform}`;
  return {
    get: async (code) => parsed(Target, await rows.stateGet(ns, code)) as CodeTarget | undefined,
    put: (code, target) => rows.statePut(ns, code, JSON.stringify(target), now() + CODE_TTL),
  };
}

/** WhatsApp Cloud's windows (by person) and the cards waiting for their person to write. */
export function waWindowStoreOf(rows: StateRows, now: () => number = Date.now): WaWindowStore {
  const key = (user: string, id: string) => `${user}:${id}`;
  return {
    async lastInbound(user) {
      const v = Number(await rows.stateGet("wacloud-window", user));
      return Number.isFinite(v) && v > 0 ? v : undefined;
    },
    sawInbound: (user, at) => rows.statePut("wacloud-window", user, String(at), at + DAY),
    forget: async (user) => void (await rows.stateDelete("wacloud-window", user)),
    async withheld(user) {
      return (await rows.stateList("wacloud-withheld", `${user}:`)).flatMap((r): WithheldCard[] => {
        const w = parsed(Withheld, r.value);
        const nudgeId = r.key.slice(user.length + 1);
        return w ? [{ user, nudgeId, to: w.to, card: w.card as unknown as WithheldCard["card"] }] : [];
      });
    },
    putWithheld: (w) =>
      rows.statePut(
        "wacloud-withheld",
        key(w.user, w.nudgeId),
        JSON.stringify({ to: w.to, card: w.card }),
        now() + WITHHELD_TTL,
      ),
    dropWithheld: (user, nudgeId) => rows.stateDelete("wacloud-withheld", key(user, nudgeId)),
    nudgeOf: (user, shownId) => rows.stateGet("wacloud-shown", key(user, shownId)),
    setShown: (user, shownId, nudgeId) =>
      rows.statePut("wacloud-shown", key(user, shownId), nudgeId, now() + CODE_TTL),
  };
}

/** A Meta platform's (`messenger`, `instagram`) windows: one row per person, gone a day after their message. */
export function metaWindowStoreOf(rows: StateRows, platform: string): WindowStore {
  const ns = `${platform}-window`;
  return {
    async lastInbound(user) {
      const v = Number(await rows.stateGet(ns, user));
      return Number.isFinite(v) && v > 0 ? v : undefined;
    },
    sawInbound: (user, at) => rows.statePut(ns, user, String(at), at + DAY),
    forget: async (user) => void (await rows.stateDelete(ns, user)),
  };
}
